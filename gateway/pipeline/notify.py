"""What a resident's message causes: a case opened or updated, the team told, the resident
acknowledged. Runs inside the message's transaction; it only enqueues, never sends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from gateway import db
from gateway.promise.dates import in_words
from gateway.mail import attachments, classify, compose, form, language, urgency
from gateway.mail.addresses import reply_address
from gateway.mail.parse import parse
from gateway.mail.trim import reply_text
from gateway.config import Team
from gateway.pipeline import Context, limits

URGENT_PRIORITY = 0   # ahead of everything else in the outbox
TEAM_PRIORITY = 3
ACK_PRIORITY = 4
OFFICER_NOTICES_PER_HOUR = 3   # "Not sent" notices to one officer an hour


def new_case(ctx: Context) -> None:
    settings, msg, now = ctx.settings, ctx.msg, ctx.clock.now()
    received_local = _local(ctx.received_at, settings.clock.timezone)
    due = settings.calendar.due(ctx.received_at)
    reference = db.cases.next_reference(settings.reference_prefix, received_local.year)
    case = db.cases.open_case(reference=reference, team=ctx.team.key, resident_address=msg.from_address,
                           language=language.detect(f"{msg.subject}\n{reply_text(msg)}"),
                           resident_name=msg.from_name[:200], subject=msg.subject[:500], opened_at=db.utc(ctx.received_at),
                           due_date=due, updated_at=db.utc(now), clock_from=db.utc(ctx.received_at))
    ctx.case, ctx.reply_text = case, msg.text
    ctx.urgent = urgency.assess(f"{msg.subject}\n{msg.text}", settings.urgent_phrases).why
    if ctx.urgent:
        case.urgent = True
        db.cases.save(case)
        db.cases.add_event(case, "urgent", now, "danger now: " + ", ".join(ctx.urgent), ctx.inbound_id)
    db.cases.remember_message_id(msg.message_id, case, "in")
    # "routed to acton (written to acton@...)": routed_by says how, not who
    db.cases.add_event(case, "opened", now, f"routed to {ctx.team.key} ({ctx.routed_by})", ctx.inbound_id)
    db.audit.append("routed", "gateway", now, case.reference, case.resident_address,
                    f"to {ctx.team.key} ({ctx.routed_by})")
    _to_team(ctx, "team/new_case", "team_new_case", "", routed_by=ctx.routed_by)
    other_teams(ctx)
    judged = ctx.verdict
    if judged is not None and judged.forged:
        db.cases.add_event(case, "not_acknowledged", now, f"sender could not be verified: {judged.why()}"[:500],
                        ctx.inbound_id)
        return
    if ctx.form is not None:
        db.cases.add_event(case, "form", now, form.describe(ctx.form), ctx.inbound_id)
        if not ctx.form.email_given:   # "I have no email: please phone me": nothing goes to the resident
            db.cases.add_event(case, "not_acknowledged", now, "no email: the resident asked to be phoned",
                               ctx.inbound_id)
            return
    if msg.from_problem:   # two From headers or two addresses: whose is it? Answer nobody.
        db.cases.add_event(case, "not_acknowledged", now, f"the sender is unclear: {msg.from_problem}", ctx.inbound_id)
        return
    _acknowledge(ctx, due)


def follow_up(ctx: Context) -> None:
    case, msg, now = ctx.case, ctx.msg, ctx.clock.now()
    db.cases.remember_message_id(msg.message_id, case, "in")
    reopened = case.status != "open"
    if reopened:
        # Answered, closed, or waiting for the resident: the police owe a reply again. The
        # clock starts again from this message (unless [clock] restart_on_resident_message is
        # off and the case was only answered); an open case keeps its due date.
        if case.status == "waiting" or ctx.settings.clock.restart_on_resident_message:
            case.due_date = ctx.settings.calendar.due(ctx.received_at)
            case.clock_from = db.utc(ctx.received_at)
        db.cases.add_event(case, "reopened", now, f"the resident wrote again (was {case.status}); "
                           f"reply due {case.due_date}", ctx.inbound_id)
        case.status = "open"
    case.updated_at = db.utc(now)
    db.cases.save(case)
    db.cases.add_event(case, "follow_up", now, f"threaded by {ctx.threaded_by}", ctx.inbound_id)
    ctx.reply_text = reply_text(msg, sender=msg.from_name)
    asked = language.asked_for(f"{msg.subject}\n{ctx.reply_text}")
    if asked and asked != case.language:
        case.language = asked
        db.cases.save(case)
        db.cases.add_event(case, "language", now, f"the resident asked for {'Welsh' if asked == 'cy' else 'English'}",
                        ctx.inbound_id)
    ctx.urgent = urgency.assess(f"{msg.subject}\n{ctx.reply_text}", ctx.settings.urgent_phrases).why
    if ctx.urgent:   # each message of danger is flagged, so that someone must see this one too
        if not case.urgent:
            case.urgent = True
            db.cases.save(case)
        db.cases.add_event(case, "urgent", now, "danger now: " + ", ".join(ctx.urgent), ctx.inbound_id)
    _to_team(ctx, "team/follow_up", "team_follow_up", "Follow-up: ", status="reopened" if reopened else case.status,
             text=ctx.reply_text)


def flood(ctx: Context, count: int) -> None:
    """Tell a case's team, once an hour, that its resident is writing more than the limit."""
    _to_team(ctx, "team/flood", "team_flood", "Many messages: ", count=count,
             limit=ctx.settings.new_cases_per_sender_per_hour)


def held(ctx: Context, why: str, more: int = 0, since: dt.datetime | None = None,
         advice: dict[str, str] | None = None) -> None:
    """Tell the case's team that mail on their case was held, with the message attached, and
    how many `more` were held since their last notice (at `since`), each without one;
    `advice`: the INI line that lets an officer not yet in a team answer (pipeline.onboarding)."""
    since_words = _local(since, ctx.settings.timezone).strftime("%a %d %b %Y %H:%M %Z") if since else ""
    # A forger chooses the display name ("PC Jones", "Inspector ..."), and the team's inbox
    # would show it as the sender's: mail not shown to be the sender's goes by its address alone.
    verified = ctx.verdict is not None and ctx.verdict.authenticated
    shown = {} if verified else {"sender_name": f"{ctx.msg.from_address} (unverified)", "unverified": True}
    _to_team(ctx, "team/held", "team_held", "Held: ", why=why, more_held=more, held_since=since_words,
             advice=advice or {}, **shown)


def officer_notice(ctx: Context, problem: str) -> None:
    """Tell an authenticated officer, and only them, why their message was not acted on; at
    most OFFICER_NOTICES_PER_HOUR an hour (a captured signed reply sent thirty times must not
    become thirty notices in the officer's inbox: the team's held notice says the rest)."""
    settings, case, now = ctx.settings, ctx.case, ctx.clock.now()
    officer = ctx.msg.from_address
    if db.outbox.queued_to_mailbox_since(officer, ("officer_held",), now - dt.timedelta(hours=1),
                                         OFFICER_NOTICES_PER_HOUR) >= OFFICER_NOTICES_PER_HOUR:
        if case:
            db.cases.add_event(case, "officer_not_told", now, f"over {OFFICER_NOTICES_PER_HOUR} notices an hour "
                               f"to {officer}", ctx.inbound_id)
        return
    team = ctx.team or (settings.team(case.team) if case else None) or settings.default_team
    text = ctx.renderer.render("team/officer_held", "en", problem=problem,
                               reference=case.reference if case else "", team_name=team.name)
    envelope = compose.Envelope(
        from_name=team.name, from_address=settings.surgery_address, to_address=ctx.msg.from_address,
        reply_to=case_reply_address(ctx) if case else None, in_reply_to=ctx.msg.message_id,
        auto_submitted="auto-replied")
    if case:
        enqueue(ctx, "officer_held", envelope, compose.team_subject(ctx.msg.subject, case.reference, "Not sent: "),
                text, TEAM_PRIORITY)
    else:
        enqueue_without_case(ctx, "officer_held", envelope, f"Not sent: {ctx.msg.subject or '(no subject)'}", text,
                             TEAM_PRIORITY)


def sender_check(ctx: Context) -> str:
    """The sender check in a line, for the team's copy."""
    judged = ctx.verdict
    if judged is None:
        return "not checked"
    if judged.authenticated:
        return f"verified ({judged.method})" + "".join(f"; {note}" for note in judged.notes)
    if judged.forged:
        return f"sender could not be verified, and the domain's own policy says it is not theirs: {judged.why()}"
    if judged.temporary:
        return f"could not be checked now (DNS): {judged.why()}"
    return f"not verified: {judged.why()}"


def other_teams(ctx: Context) -> None:
    """A message written to several teams' addresses is one case, for the first; tell the rest."""
    original, files, held = _attachments_for_team(ctx) if ctx.also_teams else (None, (), [])
    for team in ctx.also_teams:
        text = ctx.renderer.render(
            "team/copy_elsewhere", reference=ctx.case.reference, team_name=team.name,
            case_team_name=ctx.team.name, resident_name=ctx.msg.from_name,
            resident_address=ctx.msg.from_address, subject=ctx.msg.subject,
            held_attachments=held)
        envelope = team_envelope(ctx, team, ctx.msg.from_name or ctx.msg.from_address)
        subject = compose.team_subject(ctx.msg.subject, ctx.case.reference, f"For {ctx.team.name}: ")
        enqueue(ctx, "team_copy_elsewhere", envelope, subject, text, TEAM_PRIORITY, original=original, files=files)
        db.cases.add_event(ctx.case, "told_team", ctx.clock.now(),
                        f"{team.key} was also written to; told the case is with {ctx.team.key}", ctx.inbound_id)


def _attachments_for_team(ctx: Context) -> tuple[bytes | None, tuple, list[tuple[str, str]]]:
    """What a team's copy may carry: the original whole, or, when something in it is held
    back, only the safe attachments (the original, which carries the rest, stays in the
    store). Returns (original, files, [(name, why held)])."""
    settings = ctx.settings
    judged = attachments.judge(ctx.msg.attachments, settings.max_attachments, settings.max_attachment_bytes)
    held = [(a.name, a.held) for a in judged if a.held]
    if not held:
        return ctx.raw, (), []
    return None, tuple((a.name, a.content_type, a.data) for a in judged if not a.held), held


def _team_values(ctx: Context) -> dict:
    """What a team's copy shows of the message and its case."""
    msg, case = ctx.msg, ctx.case
    values = dict(reference=case.reference, team_name=ctx.team.name, resident_name=msg.from_name,
                  resident_address=msg.from_address, subject=msg.subject, text=msg.text,
                  received=_local(ctx.received_at, ctx.settings.timezone).strftime("%a %d %b %Y %H:%M %Z"),
                  due_date=in_words(case.due_date), problems=msg.problems, urgent=ctx.urgent,
                  sender_check=sender_check(ctx), resident_language=case.language, phone_only=False, phone="")
    if ctx.form is not None and not ctx.form.email_given:   # "please phone me": no address to show or answer
        values |= dict(phone_only=True, phone=form.phone_of(ctx.form, msg.from_address))
    return values


def _to_team(ctx: Context, template: str, purpose: str, label: str, **extra: object) -> None:
    msg, case, team = ctx.msg, ctx.case, ctx.team
    values = _team_values(ctx)
    original, files, held = _attachments_for_team(ctx)
    if held:
        db.cases.add_event(case, "attachments_held", ctx.clock.now(),
                        "; ".join(f"{name}: {why}" for name, why in held)[:500], ctx.inbound_id)
    text = ctx.renderer.render(template, **(values | {"held_attachments": held} | extra))
    resident = msg.from_name or (f"phone {values['phone']}" if values["phone_only"] else msg.from_address)
    envelope = team_envelope(ctx, team, str(extra.get("sender_name") or resident))
    if ctx.urgent or case.urgent:
        envelope = dataclasses.replace(envelope, high_priority=True)
    subject = compose.team_subject(msg.subject, case.reference, label)
    if ctx.urgent:
        subject = f"[URGENT] {subject}"
    enqueue(ctx, purpose, envelope, subject, text, URGENT_PRIORITY if ctx.urgent else TEAM_PRIORITY,
            original=original, files=files)
    db.audit.append("forwarded", "gateway", ctx.clock.now(), case.reference, case.resident_address,
                    f"{'new case' if purpose == 'team_new_case' else 'follow-up'} to {team.key}'s mailbox"
                    + (" (urgent)" if ctx.urgent else ""))


def first_lines(case, count: int = 6) -> str:
    """The start of what the resident wrote, to remind the team what the case is about."""
    raw = db.cases.first_inbound_raw(case)
    if not raw:
        return ""
    lines = [line for line in parse(raw).text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:count]) + ("\n..." if len(lines) > count else "")


def case_reply_address(ctx: Context) -> str:
    """The signed address through which replies come back to this case."""
    return reply_address(ctx.case.reference, ctx.settings.secret, ctx.settings.domain)


def team_envelope(ctx: Context, team: Team, resident: str) -> compose.Envelope:
    """To a team's mailbox, answerable through the case's reply address, threaded on what the
    team already has of this case."""
    settings, case = ctx.settings, ctx.case
    previous = db.cases.team_message_ids(case)
    return compose.Envelope(
        from_name=f"{resident} via {team.name}"[:200], from_address=settings.surgery_address,
        to_address=team.mailbox, to_name=team.name, reply_to=case_reply_address(ctx),
        in_reply_to=previous[-1] if previous else None, references=tuple(previous))


def _acknowledge(ctx: Context, due: dt.date) -> None:
    settings, msg, case = ctx.settings, ctx.msg, ctx.case
    if ctx.historic:   # moved in from another system, which answered the resident then
        db.cases.add_event(case, "not_acknowledged", ctx.clock.now(), "moved in from another system "
                           "(gateway inject --received): acknowledged there, not again", ctx.inbound_id)
        return
    limit = settings.acks_per_sender_per_day
    if limit and db.outbox.acks_since(msg.from_address, ctx.clock.now() - dt.timedelta(days=1), limit) >= limit:
        db.cases.add_event(case, "not_acknowledged", ctx.clock.now(),
                        f"{msg.from_address} already had {settings.acks_per_sender_per_day} acknowledgements today",
                        ctx.inbound_id)
        return
    unwanted = classify.auto_replies_unwanted(msg)
    if unwanted:
        db.cases.add_event(case, "not_acknowledged", ctx.clock.now(), unwanted, ctx.inbound_id)
        return
    if db.people.suppressed_among([msg.from_address]):
        db.cases.add_event(case, "not_acknowledged", ctx.clock.now(),
                        f"{msg.from_address} is suppressed (earlier mail to it bounced or was reported)",
                        ctx.inbound_id)
        return
    if not limits.may_reply(ctx, msg.from_address, "acknowledgement", event="not_acknowledged"):
        return
    # The sender's own words (their name, their subject) are repeated only when the mail is
    # shown to be theirs: otherwise anyone could make us send their text, in the police's
    # name, to any address they put in From.
    echo = ctx.verdict is not None and ctx.verdict.verified
    name = msg.from_name if echo else ""
    template = "resident/acknowledgement_urgent" if ctx.urgent else "resident/acknowledgement"
    team_name = ctx.team.name_in(case.language)   # the team's Welsh name, to a Welsh-language resident
    text = ctx.renderer.render(template, case.language, reference=case.reference,
                               team_name=team_name, resident_name=name,
                               due_date=in_words(due, case.language))
    references = tuple(msg.references) + ((msg.message_id,) if msg.message_id else ())
    envelope = compose.Envelope(
        from_name=team_name, from_address=settings.surgery_address,
        to_address=msg.from_address, to_name=name, reply_to=case_reply_address(ctx),
        in_reply_to=msg.message_id, references=references, auto_submitted="auto-replied")
    subject = compose.reply_subject(msg.subject if echo else "", case.reference, case.language)
    if ctx.urgent:
        subject = compose.urgent_subject(subject, case.language)
    enqueue(ctx, "resident_ack", envelope, subject, text, URGENT_PRIORITY if ctx.urgent else ACK_PRIORITY,
            topic=None if echo else case.reference)
    db.cases.add_event(case, "acknowledged", ctx.clock.now(), f"to {msg.from_address}", ctx.inbound_id)


def enqueue(ctx: Context, purpose: str, envelope: compose.Envelope, subject: str, text: str,
            priority: int, original: bytes | None = None, files: tuple = (), topic: str | None = None) -> None:
    """Build a message for the case and put it in the outbox (the only way mail leaves).
    `topic` is Outlook's Thread-Topic (default: the case's subject)."""
    settings, now, case = ctx.settings, ctx.clock.now(), ctx.case
    thread = compose.thread_index(case.reference, case.opened_at, db.cases.message_count(case))
    message_id, raw = compose.build(envelope, subject, text, settings.domain, now, original,
                                    thread=(thread, topic or case.subject or case.reference), files=files,
                                    secret=settings.secret)
    mail = db.outbox.Outgoing(purpose=purpose, mail_from=settings.surgery_address,
                          rcpt_to=envelope.to_address, message_id=message_id, raw=raw, priority=priority)
    deadline = now + dt.timedelta(hours=settings.retry_deadline_hours)
    db.outbox.enqueue(mail, now, deadline, case=ctx.case, inbound_id=ctx.inbound_id)
    db.cases.remember_message_id(message_id, ctx.case, "out")


def enqueue_without_case(ctx: Context, purpose: str, envelope: compose.Envelope, subject: str, text: str,
                         priority: int, original: bytes | None = None) -> None:
    """Build a message that belongs to no case (alert service mail, notices to an officer or
    the administrators) and put it in the outbox."""
    settings, now = ctx.settings, ctx.clock.now()
    message_id, raw = compose.build(envelope, subject, text, settings.domain, now, original, secret=settings.secret)
    mail = db.outbox.Outgoing(purpose=purpose, mail_from=settings.surgery_address, rcpt_to=envelope.to_address,
                          message_id=message_id, raw=raw, priority=priority)
    db.outbox.enqueue(mail, now, now + dt.timedelta(hours=settings.retry_deadline_hours), inbound_id=ctx.inbound_id)


def _local(moment: dt.datetime, timezone: str) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(ZoneInfo(timezone))
