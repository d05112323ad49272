"""An officer's reply to a case: commands, then the new text relayed to the resident under the
team's name. Runs inside the message's transaction; it only enqueues."""

from __future__ import annotations

import re

from gateway import db
from gateway.promise.dates import in_words
from gateway.mail import compose, form
from gateway.mail.scrub import police_addresses_removed
from gateway.mail.trim import reply_text
from gateway.pipeline import Context, escalation
from gateway.pipeline.notify import case_reply_address, enqueue, team_envelope

COMMANDS = ("note", "close", "assign", "reopen", "waiting", "seen", "urgent", "noturgent")
COMMAND_RE = re.compile(r"^\s*#(\w+)\b[ \t]*(.*)$")


def officer_reply(ctx: Context) -> None:
    text = reply_text(ctx.msg, sender=ctx.msg.from_name)
    commands, text = _split_commands(text)
    ctx.reply_text = text
    unknown = [c for c, _ in commands if c not in COMMANDS]
    if unknown:
        _error_to_officer(ctx, f"Unknown command #{unknown[0]}.")
        return
    names = [c for c, _ in commands]
    case, now = ctx.case, ctx.clock.now()
    if "urgent" in names or "noturgent" in names:
        _correct_urgency(ctx, urgent="urgent" in names, why=text)
        if not {"close", "waiting", "reopen"} & set(names):
            return   # a word between colleagues ("#urgent, he's known to us"): nothing goes to the resident
    if "seen" in names:   # seen and being dealt with: escalation stops; the resident is not written to
        db.cases.add_event(case, "seen", now, f"by {ctx.msg.from_address}" + (f": {text}" if text else ""),
                           ctx.inbound_id, ctx.msg.from_address)
        return
    if "note" in names:
        db.cases.add_event(case, "note", now, f"{ctx.msg.from_address}: {text}", ctx.inbound_id,
                           ctx.msg.from_address)
        return
    if "assign" in names:
        key = dict(commands)["assign"].strip().lower()
        if ctx.settings.team(key) is None:
            _error_to_officer(ctx, f"There is no team {key!r}; teams: {', '.join(t.key for t in ctx.settings.teams)}.")
            return
        assign(ctx, ctx.settings.team(key), ctx.msg.from_address, note=text)   # the lines under #assign go along
        return
    if "reopen" in names:
        case.status = "open"
        db.cases.add_event(case, "reopened", now, f"by {ctx.msg.from_address}", ctx.inbound_id,
                           ctx.msg.from_address)
    if text and form.no_email(case.resident_address):
        _error_to_officer(ctx, "This resident has no email: they asked, on the online form, to be phoned (the "
                               "number is in their message). Nothing was sent. Record the call with #note; #close "
                               "closes the case.")
        return
    if "close" in names and form.no_email(case.resident_address):   # closed, with no word to an address of nobody
        case.status = "closed"
        db.cases.add_event(case, "closed", now, f"by {ctx.msg.from_address} (no email: nothing sent)",
                           ctx.inbound_id, ctx.msg.from_address)
    elif text or "close" in names or "waiting" in names:
        _relay(ctx, text, closing="close" in names, waiting="waiting" in names and "close" not in names)
    case.updated_at = db.utc(now)
    db.cases.save(case)


def _correct_urgency(ctx: Context, urgent: bool, why: str = "") -> None:
    """#urgent or #noturgent: the officer's word replaces the gateway's. Kept as a labelled
    example for tuning (`gateway urgent corrections`); #urgent starts the case's escalation.
    The lines under the command are kept on the case, not sent to the resident."""
    case, now, who = ctx.case, ctx.clock.now(), ctx.msg.from_address
    case.urgent = urgent
    db.cases.save(case)
    db.cases.add_event(case, "urgency_corrected", now,
                       f"{'urgent' if urgent else 'not urgent'}, by {who}" + (f": {why}" if why else ""),
                       ctx.inbound_id, who)
    if urgent:
        db.cases.add_event(case, "urgent", now, f"marked urgent by {who}", ctx.inbound_id, who)
        if ctx.settings.escalate_to and not ctx.settings.calendar.open_now(now):
            escalation.escalate(ctx, now, f"marked urgent by {who}")


def _split_commands(text: str) -> tuple[list[tuple[str, str]], str]:
    """Commands on lines of their own at the top, and the text after them."""
    lines = text.split("\n")
    commands = []
    while lines and (not lines[0].strip() or COMMAND_RE.match(lines[0])):
        match = COMMAND_RE.match(lines.pop(0))
        if match:
            commands.append((match.group(1).lower(), match.group(2)))
    return commands, "\n".join(lines).strip()


def _relay(ctx: Context, text: str, closing: bool, waiting: bool = False) -> None:
    settings, case, now = ctx.settings, ctx.case, ctx.clock.now()
    text = police_addresses_removed(text, settings.police_domains)
    ctx.reply_text = text
    team_name = ctx.team.name_in(case.language)   # the team's Welsh name, to a Welsh-language resident
    body = ctx.renderer.render("resident/answer", case.language, text=text, team_name=team_name,
                               reference=case.reference, closing=closing, waiting=waiting)
    thread = db.cases.resident_thread_ids(case)
    envelope = compose.Envelope(
        from_name=team_name, from_address=settings.surgery_address, to_address=case.resident_address,
        to_name=case.resident_name, reply_to=case_reply_address(ctx),
        in_reply_to=thread[-1] if thread else None, references=tuple(thread))
    enqueue(ctx, "resident_answer", envelope, compose.reply_subject(case.subject, case.reference, case.language), body, 2)
    # The team's mailbox gets its own copy, in the team's thread, saying who answered: a Bcc of
    # the resident's copy would thread with the resident's mail and hide the officer.
    copy = ctx.renderer.render("team/sent_copy", "en", reference=case.reference, officer=ctx.msg.from_address,
                               resident_name=case.resident_name, resident_address=case.resident_address,
                               body=body, status="closed" if closing else "waiting for the resident" if waiting
                               else "answered")
    # From "Answer sent to the resident via <team>": it is the officer's answer, not the resident's mail
    enqueue(ctx, "team_sent_copy", team_envelope(ctx, ctx.team, "Answer sent to the resident"),
            compose.team_subject(case.subject, case.reference, "Sent to resident: "), copy, 3)
    # An answer stops the case's clock; #waiting pauses it until the resident writes again.
    case.status = "closed" if closing else "waiting" if waiting else "answered"
    case.answered_at = case.answered_at or db.utc(now)
    db.cases.add_event(case, case.status, now, f"relayed from {ctx.msg.from_address}", ctx.inbound_id,
                       ctx.msg.from_address)


def assign(ctx: Context, team, by: str, note: str = "") -> None:
    """Give the case to another team, which gets its history, the first message and `note`
    (an officer's words under #assign, or an administrator's --note). `by`: who did it."""
    case, now = ctx.case, ctx.clock.now()
    old = ctx.team
    case.team, case.updated_at = team.key, db.utc(now)
    db.cases.save(case)
    ctx.team = team
    db.cases.add_event(case, "assigned", now, f"from {old.key} to {team.key} by {by}"
                       + (f": {note}" if note else ""), ctx.inbound_id, by)
    history = [f"{e.at:%Y-%m-%d %H:%M} {e.kind}: {e.detail}" for e in db.cases.case_events(case)]
    text = ctx.renderer.render("team/assigned", "en", reference=case.reference, team_name=team.name,
                               old_team=old.name, resident_name=case.resident_name,
                               resident_address=case.resident_address, subject=case.subject,
                               due_date=in_words(case.due_date), history=history, note=note, by=by)
    envelope = team_envelope(ctx, team, case.resident_name or case.resident_address)
    first = db.cases.first_inbound_raw(case)
    enqueue(ctx, "team_assigned", envelope, compose.team_subject(case.subject, case.reference, "Assigned: "),
            text, 3, original=first)


def _error_to_officer(ctx: Context, problem: str) -> None:
    settings, case = ctx.settings, ctx.case
    text = ctx.renderer.render("team/command_error", "en", problem=problem,
                               reference=case.reference)
    envelope = compose.Envelope(
        from_name=ctx.team.name, from_address=settings.surgery_address, to_address=ctx.msg.from_address,
        reply_to=case_reply_address(ctx), in_reply_to=ctx.msg.message_id, auto_submitted="auto-replied")
    enqueue(ctx, "officer_error", envelope, compose.team_subject(ctx.msg.subject, case.reference,
                                                                 "Not done: "), text, 3)
    db.cases.add_event(case, "command_error", ctx.clock.now(), problem, ctx.inbound_id)

