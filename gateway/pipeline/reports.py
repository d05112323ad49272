"""Delivery reports and complaints about mail we sent: the reports stage.

Outgoing mail leaves with a signed VERP envelope sender, bounces+<outbound id>-<signature>,
so a report names the exact message that failed even when the report itself is garbled. A
permanent failure marks that delivery failed, suppresses the address (no more
acknowledgements or bulletins) when the report says the address itself is dead (not when
the message was refused for policy, size or reputation; a failure that gives no reason is
counted like a soft one, suppressed only when it repeats over days), and, when it was a reply to a
resident, tells the case's team
so they can reach the resident another way. A complaint (ARF) suppresses too. A delay is
only recorded. Only a report to a valid signed VERP address changes anyone's standing, and
only that of the address its outbound message went to: any other report or complaint
(to the surgery or a team address, a bad signature, another address named) is kept and
shown like any bounce but suppresses and scores no one. Read receipts are left to the robot check (no answer, no suppression).
"""

from __future__ import annotations

from gateway import db
from gateway.errors import Discard
import datetime as dt

from gateway.mail import bounce_reasons, bounces, classify
from gateway.mail.addresses import verify_token_address
from gateway.pipeline import Context

RESIDENT_PURPOSES = ("resident_answer", "resident_ack", "resident_closed")


def reports(ctx: Context) -> None:
    """The pipeline stage: handle a delivery report or complaint and stop; else pass."""
    outbound = _verp_outbound(ctx)
    if outbound is None and not ctx.automatic and not classify.looks_like_report(ctx.msg):
        return
    report = bounces.read(ctx.raw)
    ctx.report = report
    if report is None or report.kind == "receipt":
        if outbound is not None:  # mail to a bounce address that reports nothing: keep it, say so
            raise Discard("auto_reply", "mail to a bounce address that is no delivery report")
        return
    now = ctx.clock.now()
    recipients = report.recipients or ([outbound.rcpt_to] if outbound is not None else [])
    vouched = _vouched_for(recipients, outbound)
    if report.kind == "complaint" or (report.kind == "bounce" and report.permanent and report.address_is_dead):
        for address in vouched:
            _suppress(address, "complaint" if report.kind == "complaint" else "bounce", now)
    elif bounce_reasons.scored(report.reason or "unknown"):
        for address in vouched:
            if db.people.count_soft_bounce(address, now):
                _suppress(address, "bounce", now)
    if report.because_of_us:
        _tell_administrators(ctx, report, recipients)
    if outbound is not None and report.kind == "bounce" and report.permanent and outbound.state != "failed":
        db.outbox.mark_failed(outbound.id, f"bounced: {report.detail or 'permanent failure'}"[:500])
    case = db.cases.case_by_id(outbound.case_id) if outbound is not None and outbound.case_id else None
    if case is not None:
        ctx.case = case
        db.cases.add_event(case, report.kind, now, f"{', '.join(recipients)}: {report.detail}"[:500], ctx.inbound_id)
        if report.kind == "bounce" and report.permanent and outbound.purpose in RESIDENT_PURPOSES:
            _tell_team(ctx, case, outbound, report)
    unvouched = "" if vouched or report.kind == "delay" else (
        "; not to a signed bounce address of ours for that address, so nobody's standing changed")
    raise Discard("bounce", f"{report.reason or report.kind}: {report.kind} for "
                            f"{', '.join(recipients) or 'an unknown address'}{unvouched}")


def _vouched_for(recipients: list[str], outbound: db.outbox.Delivery | None) -> list[str]:
    """The addresses this report may suppress or score: only the recipient of the outbound
    message whose signed VERP address it reached. Anyone can write a delivery report or an
    ARF complaint naming any address and send it to any of our addresses; only the
    recipient's own mail servers (or the recipient) know the signed bounce address of a
    message we sent them."""
    if outbound is None:
        return []
    return [address for address in recipients if address.lower() == outbound.rcpt_to.lower()]


ADMIN_NOTICE_HOURS = 1   # one notice per reason an hour at most
ADMIN_PRIORITY = 2       # ahead of team and resident mail: it says mail is not getting through


def _tell_administrators(ctx: Context, report: bounces.DeliveryReport, recipients: list[str]) -> None:
    """A refusal because of us (reputation, policy, authentication...) usually means many
    residents are not getting our mail: [gateway] admin_address hears of it, once per reason
    an hour."""
    settings, now = ctx.settings, ctx.clock.now()
    if not settings.admin_address:
        return
    purpose = f"admin_{report.reason}"
    if db.outbox.queued_since(purpose, now - dt.timedelta(hours=ADMIN_NOTICE_HOURS)):
        return
    from gateway.mail import compose
    from gateway.pipeline import notify

    text = ctx.renderer.render("admin/refused", reason=report.reason, recipients=recipients,
                               detail=_words(report), domain=settings.domain)
    envelope = compose.Envelope(from_name="Surgery Gateway", from_address=settings.surgery_address,
                                to_address=settings.admin_address, auto_submitted="auto-generated")
    notify.enqueue_without_case(ctx, purpose, envelope, f"Our mail is being refused ({report.reason})", text,
                                ADMIN_PRIORITY, original=ctx.raw)


def _words(report: bounces.DeliveryReport) -> str:
    """What the receiving server said, for the team: its own words where it gave them."""
    said = report.diagnostic.removeprefix("smtp;").strip()
    return f"{report.detail}: {said}" if said and report.detail else (said or report.detail or "permanent failure")


def _verp_outbound(ctx: Context) -> db.outbox.Delivery | None:
    settings = ctx.settings
    for address in ctx.rcpt_tos + ctx.msg.to:
        value = verify_token_address(address, "bounces", settings.secrets, settings.domain)
        if value and value.isdigit():
            return db.outbox.delivery(int(value))
    return None


def _suppress(address: str, reason: str, now) -> None:
    db.people.suppress(address, reason, now)


def _tell_team(ctx: Context, case: db.cases.Case, outbound: db.outbox.Delivery, report: bounces.DeliveryReport) -> None:
    from gateway.pipeline import notify

    ctx.team = ctx.settings.team(case.team) or ctx.settings.default_team
    text = ctx.renderer.render("team/bounce", reference=case.reference, team_name=ctx.team.name,
                               resident_address=outbound.rcpt_to, detail=_words(report),
                               what="your answer" if outbound.purpose == "resident_answer" else "our acknowledgement")
    envelope = notify.team_envelope(ctx, ctx.team, case.resident_name or case.resident_address)
    subject = f"[{case.reference}] Undeliverable to the resident: {case.subject or '(no subject)'}"
    notify.enqueue(ctx, "team_bounce", envelope, subject, text, notify.TEAM_PRIORITY, original=ctx.raw)
