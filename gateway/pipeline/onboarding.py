"""An officer the config does not know yet (issue 25). Mail authenticated as a police domain
from an address in no team's `officers` is held as exactly that, not as "not the case's
resident"; the case's team mailbox and the officer (authenticated, so no backscatter) are
told the line to add to the INI file, at most once per address a day (pipeline.limits).
Runs inside the message's transaction; it only enqueues."""

from __future__ import annotations

from gateway.mail import compose
from gateway.mail.addresses import split, within
from gateway.pipeline import Context, limits
from gateway.pipeline.notify import TEAM_PRIORITY, case_reply_address, enqueue

PURPOSE = "officer_unlisted"   # the officer's notice; counted to send it once a day


def unlisted_officer(ctx: Context) -> str | None:
    """Why the message is held when its sender is an authenticated address in a police domain
    that is in no team (None otherwise)."""
    settings, judged, address = ctx.settings, ctx.verdict, ctx.msg.from_address
    if judged is None or not judged.authenticated or address in settings.police_addresses:
        return None
    if not within(split(address)[1], settings.police_domains):
        return None
    return (f"{address} is authenticated as {judged.from_domain} ({judged.method}) but is in no team's "
            "officers list")


def advice(ctx: Context) -> dict[str, str]:
    """The INI line that lets the sender answer for the case's team, when it is due (nobody
    was told it in the last 24 hours); {} otherwise. Call with ctx.team set."""
    address, team = ctx.msg.from_address, ctx.team
    if not limits.once_a_day(ctx, address, PURPOSE):
        return {}
    return {"officer": address, "section": f"[team:{team.key}]",
            "line": "officers = " + ", ".join((*team.officers, address))}


def tell_officer(ctx: Context, lines: dict[str, str]) -> None:
    """The officer's own notice: held, and the line their administrator adds."""
    settings, case = ctx.settings, ctx.case
    text = ctx.renderer.render("team/officer_unlisted", "en", reference=case.reference, team_name=ctx.team.name,
                               **lines)
    envelope = compose.Envelope(
        from_name=ctx.team.name, from_address=settings.surgery_address, to_address=ctx.msg.from_address,
        reply_to=case_reply_address(ctx), in_reply_to=ctx.msg.message_id, auto_submitted="auto-replied")
    enqueue(ctx, PURPOSE, envelope, compose.team_subject(ctx.msg.subject, case.reference, "Not sent: "), text,
            TEAM_PRIORITY)
