"""Keeping the promise: reminders before a reply is due, a notice to the supervisor when it
is late, the teams' morning digest, a reminder for urgent cases nobody has answered, and
urgent cases nobody has seen sent on to the 24-hour desk (pipeline.escalation).

Each notice is sent at most once per case and stage (and per due date: a due date that
moves, after the resident wrote again, earns a new reminder). The database records it
(`notice`, in the transaction that queues the mail), so a restart, or a second daemon on
the same database, never sends it again; and one daemon at a time does this work
(db.cluster.take_turn).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading

from gateway import db, pipeline
from gateway.promise.dates import in_words
from gateway.clock import Clock
from gateway.config import Settings, Team
from gateway.mail import compose
from gateway.mail.addresses import reply_address
from gateway.pipeline import escalation, notify
from gateway.render import Renderer

log = logging.getLogger(__name__)
TURN_SECONDS = 120


def _values(settings: Settings, case, team: Team) -> dict:
    return dict(reference=case.reference, team_name=team.name, resident_name=case.resident_name,
                resident_address=case.resident_address, subject=case.subject, urgent=case.urgent,
                due_date=in_words(case.due_date), first_lines=notify.first_lines(case),
                reply_address=reply_address(case.reference, settings.secret, settings.domain),
                opened=settings.calendar.local(db.as_datetime(case.opened_at)).strftime("%a %d %b %Y %H:%M"))


def _to_team(ctx: pipeline.Context, purpose: str, template: str, label: str, values: dict,
             to: str | None = None) -> None:
    case, team = ctx.case, ctx.team
    text = ctx.renderer.render(template, "en", **values)
    envelope = notify.team_envelope(ctx, team, case.resident_name or case.resident_address)
    envelope = dataclasses.replace(envelope, to_address=to or team.mailbox, high_priority=bool(case.urgent))
    subject = compose.team_subject(case.subject, case.reference, label)
    notify.enqueue(ctx, purpose, envelope, f"[URGENT] {subject}" if case.urgent else subject, text,
                   notify.URGENT_PRIORITY if case.urgent else notify.TEAM_PRIORITY)


def due_notices(settings: Settings, now: dt.datetime, cases) -> list[tuple[str, str, object]]:
    """(kind, key, case) of every notice the rules say is due now, sent or not (no database)."""
    calendar, options = settings.calendar, settings.clock
    today, due = calendar.local(now).date(), []
    naive_now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
    for case in cases:
        started = db.as_datetime(case.clock_from or case.opened_at)
        if (case.urgent and options.urgent_remind_after_minutes and case.answered_at is None
                and naive_now - started >= dt.timedelta(minutes=options.urgent_remind_after_minutes)):
            due.append(("urgent", f"urgent:{case.id}:{started:%Y%m%d%H%M%S}", case))
        if today > case.due_date:
            due.append(("breach", f"breach:{case.id}:{case.due_date}", case))
        elif options.remind_before_working_days and today >= calendar.reminder_day(case.due_date):
            due.append(("remind", f"remind:{case.id}:{case.due_date}", case))
    return due


def check(settings: Settings, clock: Clock, renderer: Renderer) -> int:
    """Queue every reminder, breach notice and digest now due and not yet sent; how many
    messages. One read finds what was sent already: a check with nothing to send writes
    nothing (it runs every [clock] check_seconds over every open case)."""
    now, calendar, options = clock.now(), settings.calendar, settings.clock
    local = calendar.local(now)
    today, sent = local.date(), 0
    due = due_notices(settings, now, db.cases.open_cases())
    done = db.cases.notices_among([key for _, key, _ in due])
    for kind, key, case in due:
        if key in done:
            continue
        team = settings.team(case.team) or settings.default_team
        ctx = pipeline.without_message(settings, clock, renderer, case, team)
        with db.atomic():
            if not db.cases.claim_notice(key, case.id, now):   # another daemon was quicker
                continue
            values = _values(settings, case, team)
            if kind == "urgent":
                minutes = options.urgent_remind_after_minutes
                _to_team(ctx, "team_urgent_reminder", "team/urgent_reminder", "Still unanswered: ",
                         values | {"minutes": minutes})
                db.cases.add_event(case, "reminded", now, f"urgent, unanswered after {minutes} minutes")
                sent += 1
            elif kind == "breach":
                late = calendar.working_days_between(case.due_date, today)
                told = [to for to in (team.supervisor, team.mailbox) if to]
                for to in told:
                    _to_team(ctx, "team_breach", "team/breach", "Overdue: ",
                             values | {"late_days": late, "supervisor": team.supervisor}, to=to)
                    sent += 1
                db.cases.add_event(case, "overdue", now, f"reply was due {case.due_date}; told " + " and ".join(told))
            else:
                _to_team(ctx, "team_reminder", "team/reminder", "Reply due soon: ", values)
                db.cases.add_event(case, "reminded", now, f"reply due {case.due_date}")
                sent += 1
    sent += _escalations(settings, clock, renderer)
    if options.digest_time and calendar.is_working_day(today) and local.time() >= options.digest_time:
        for team in settings.teams:
            if f"digest:{team.key}:{today}" not in db.cases.notices_among([f"digest:{team.key}:{today}"]):
                sent += _digest(settings, clock, renderer, team, today)
    return sent


def _escalations(settings: Settings, clock: Clock, renderer: Renderer) -> int:
    """Urgent cases owed to the 24-hour desk and not yet sent there (pipeline.escalation)."""
    if not settings.escalate_to:
        return 0
    now, sent = clock.now(), 0
    owed = [(case, at, why) for case, at, why in db.cases.urgent_unseen(db.cases.DEALT_WITH + ("escalated",)) if escalation.due(settings, now, at)]
    done = db.cases.notices_among([escalation.notice_key(case, at) for case, at, _ in owed])
    for case, at, why in owed:
        if escalation.notice_key(case, at) in done:
            continue
        team = settings.team(case.team) or settings.default_team
        with db.atomic():
            sent += escalation.escalate(pipeline.without_message(settings, clock, renderer, case, team), at, why)
    return sent


def _digest(settings: Settings, clock: Clock, renderer: Renderer, team: Team, today: dt.date) -> int:
    now = clock.now()
    with db.atomic():
        if not db.cases.claim_notice(f"digest:{team.key}:{today}", None, now):
            return 0
        cases = db.cases.open_cases(team.key)
        if not cases:   # nothing waiting: no mail (the day's digest is still taken, so none comes later)
            return 0
        rows = [{"reference": c.reference, "urgent": c.urgent, "subject": c.subject or "(no subject)",
                 "resident": c.resident_name or c.resident_address, "due": c.due_date,
                 "due_words": in_words(c.due_date), "overdue": c.due_date < today,
                 "due_today": c.due_date == today,
                 "reply_address": reply_address(c.reference, settings.secret, settings.domain)}
                for c in cases]
        text = renderer.render("team/digest", "en", team_name=team.name, day=in_words(today), cases=rows,
                               overdue=sum(r["overdue"] for r in rows), due_today=sum(r["due_today"] for r in rows))
        envelope = compose.Envelope(from_name=f"Surgery Gateway for {team.name}", from_address=settings.surgery_address,
                                    to_address=team.mailbox, to_name=team.name, auto_submitted="auto-generated")
        ctx = pipeline.without_message(settings, clock, renderer)
        notify.enqueue_without_case(ctx, "team_digest", envelope, f"Cases open for {team.name}: {len(rows)} "
                                    f"({sum(r['overdue'] for r in rows)} overdue), {in_words(today)}",
                                    text, notify.TEAM_PRIORITY)
    return 1


def run_loop(settings: Settings, clock: Clock, renderer: Renderer, wake: threading.Event, owner: str,
             stop: threading.Event, poll: float) -> None:
    """In the daemon: look for reminders due every [clock] check_seconds, one daemon at a time."""
    while not stop.is_set():
        try:
            if db.cluster.take_turn("reminders", owner, clock.now(), TURN_SECONDS):
                sent = check(settings, clock, renderer)
                db.cluster.done_turn("reminders", owner, clock.now())
                if sent:
                    log.info("reminders: %s message(s) queued", sent)
                    wake.set()
        except Exception:
            log.exception("reminders: unexpected error; trying again")
        stop.wait(settings.clock.check_seconds)
