"""Urgent cases reach someone on duty: the 24-hour desk ([urgent] escalate_to).

Outside the team's business hours ([clock]) an urgent case goes to the desk at once, as well
as to the team. In business hours it goes there when no officer has answered it or written
#seen within [urgent] escalate_after_minutes. Each flag is escalated once (a notice keyed by
the case and the moment it was flagged, in the transaction that queues the mail), so a
restart or a second daemon never sends it twice; a new flag (the resident writes of danger
again, or an officer writes #urgent) starts again. The desk's mail carries the case's reply
address, so the desk can answer the resident or write #seen as an officer does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from gateway import db
from gateway.config import Settings
from gateway.mail import compose, form
from gateway.pipeline import Context
from gateway.pipeline.notify import URGENT_PRIORITY, case_reply_address, enqueue, first_lines, team_envelope

def due(settings: Settings, now: dt.datetime, flagged_at: dt.datetime) -> bool:
    """Whether a case flagged at `flagged_at`, and not seen since, is owed to the desk now."""
    if not settings.escalate_to:
        return False
    waited = db.utc(now) - db.utc(flagged_at)
    return (not settings.calendar.open_now(flagged_at)
            or waited >= dt.timedelta(minutes=settings.clock.escalate_after_minutes))


def notice_key(case, flagged_at: dt.datetime) -> str:
    """One escalation per case and flag."""
    return f"escalate:{case.id}:{db.utc(flagged_at):%Y%m%d%H%M%S}"


def escalate(ctx: Context, flagged_at: dt.datetime, why: str) -> bool:
    """Queue the case for the desk, once per flag; False when it was already sent. Call inside
    the transaction of the case (ctx.case, ctx.team)."""
    case, settings, now = ctx.case, ctx.settings, ctx.clock.now()
    if told_lately(ctx):
        return False
    if not db.cases.claim_notice(notice_key(case, flagged_at), case.id, now):
        return False
    local = settings.calendar.local
    text = ctx.renderer.render(
        "team/escalation", "en", reference=case.reference, team_name=ctx.team.name, why=why,
        resident_name=case.resident_name, resident_address=case.resident_address, subject=case.subject,
        flagged=local(flagged_at).strftime("%a %d %b %Y %H:%M"), first_lines=_their_words(ctx),
        in_hours=settings.calendar.open_now(flagged_at), minutes=settings.clock.escalate_after_minutes,
        reply_address=case_reply_address(ctx))
    envelope = dataclasses.replace(team_envelope(ctx, ctx.team, case.resident_name or case.resident_address),
                                   to_address=settings.escalate_to, to_name="", high_priority=True)
    enqueue(ctx, "desk_escalation", envelope, "[URGENT] " + compose.team_subject(case.subject, case.reference,
                                                                                 "Escalated: "), text, URGENT_PRIORITY)
    db.cases.add_event(case, "escalated", now, f"to the 24-hour desk {settings.escalate_to}", ctx.inbound_id)
    return True


def told_lately(ctx: Context) -> bool:
    """Whether the desk was sent this case, or another case of its resident, within
    escalate_after_minutes, and nobody has dealt with that case since (#seen, an answer):
    one address writing of danger fifty times, on one case or as many new ones, must not
    send the desk fifty mails. The team has every one; the reminder check sends the desk the
    next flag once the time is up. A resident without email stands under their phone's
    stand-in address, which others may share: theirs count per case."""
    case = ctx.case
    last = db.cases.last_escalation(case, by_resident=bool(case.resident_address)
                                    and not form.no_email(case.resident_address))
    if last is None or db.cases.dealt_with_since(last):
        return False
    return db.utc(ctx.clock.now()) - db.utc(last.at) < dt.timedelta(minutes=ctx.settings.clock.escalate_after_minutes)


def at_once_if_closed(ctx: Context) -> None:
    """After a case was flagged urgent by this message: out of hours, tell the desk now."""
    now = ctx.clock.now()
    if ctx.settings.escalate_to and not ctx.settings.calendar.open_now(now):
        escalate(ctx, now, "danger now: " + ", ".join(ctx.urgent))


def _their_words(ctx: Context, count: int = 12) -> str:
    """What the resident wrote: the message being handled, when it is theirs (it is not yet
    filed on the case), else the case's first message."""
    if ctx.msg is None or ctx.kind == "officer_reply":
        return first_lines(ctx.case, count)
    lines = [line for line in (ctx.reply_text or ctx.msg.text).strip().splitlines() if line.strip()]
    return "\n".join(lines[:count]) + ("\n..." if len(lines) > count else "")
