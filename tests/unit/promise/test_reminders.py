"""Issue 16: the five-working-day promise on a FakeClock, through the pipeline and the
reminder check (gateway/promise/reminders.py), on a real database: reminders and breach notices
exactly once, an answer stops the clock, #waiting pauses it, the resident restarts it."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.promise import reminders
from gateway.db.models import Case, CaseEvent
from gateway.render import Renderer
from tests.helpers import resident_mail
from tests.unit.pipeline.test_officer import officer_reply

pytestmark = pytest.mark.database

SUPERVISED = {"team__hightown": {"supervisor": "inspector.hughes@police.example"}}
TUESDAY_10AM = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)   # GMT: 10:00 in London


def at(harness, moment: dt.datetime) -> None:
    harness.clock._now = moment


def text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def check(harness) -> int:
    return reminders.check(harness.settings, harness.clock, Renderer())


def test_one_reminder_the_working_day_before_and_one_breach_notice_after(make_harness):
    harness = make_harness(**SUPERVISED)
    at(harness, TUESDAY_10AM)
    harness.submit(resident_mail())
    case = Case.get()
    assert case.due_date == dt.date(2026, 12, 8)   # five working days on
    assert check(harness) == 0
    at(harness, dt.datetime(2026, 12, 7, 0, 5, tzinfo=dt.timezone.utc))   # Monday: one working day before
    assert check(harness) == 1 and check(harness) == 0
    reminder, = harness.outbox("team_reminder")
    assert reminder["To"] == "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"
    assert reminder["Subject"].startswith("[SRG-2026-0001] Reply due soon:")
    body = text(reminder)
    assert "due by Tuesday 8 December 2026" in body and "They ride on the pavement." in body
    assert reminder["Reply-To"].startswith("reply+srg-2026-0001-")
    at(harness, dt.datetime(2026, 12, 8, 16, 0, tzinfo=dt.timezone.utc))   # the due day itself: not late yet
    assert check(harness) == 0
    at(harness, dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.timezone.utc))
    assert check(harness) == 2 and check(harness) == 0
    breaches = harness.outbox("team_breach")
    assert sorted(m["To"] for m in breaches) == [
        "Hightown Neighbourhood Policing Team <hightown.npt@police.example>",
        "Hightown Neighbourhood Policing Team <inspector.hughes@police.example>"]
    assert "is overdue" in text(breaches[0]) and "1 working day ago" in text(breaches[0])
    assert [e.kind for e in CaseEvent.select().order_by(CaseEvent.id)][-2:] == ["reminded", "overdue"]


def test_an_answer_stops_the_clock_and_the_residents_next_message_restarts_it(harness):
    at(harness, TUESDAY_10AM)
    harness.submit(resident_mail())
    officer_reply(harness, "We will look into it.")
    assert Case.get().status == "answered" and Case.get().answered_at is not None
    at(harness, dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.timezone.utc))   # past the old due date
    assert check(harness) == 0   # answered: nothing is owed
    ack = harness.outbox("resident_ack")[0]
    harness.submit(resident_mail(body="It happened again last night.", message_id="<a2@example.net>",
                                 to=ack["Reply-To"], subject="Re: Your message [SRG-2026-0001]"),
                   rcpt_tos=[ack["Reply-To"]])
    case = Case.get()
    assert case.status == "open" and case.due_date == dt.date(2026, 12, 17)   # five working days from Thursday
    follow_up = harness.outbox("team_follow_up")[-1]
    assert "Case status: reopened (the resident wrote again)" in text(follow_up)
    assert "Thursday 17 December 2026" in text(follow_up)
    assert check(harness) == 0


def test_waiting_pauses_the_clock_and_tells_the_resident_they_are_waited_for(harness):
    at(harness, TUESDAY_10AM)
    harness.submit(resident_mail())
    officer_reply(harness, "#waiting\nWhich street was it on?")
    case = Case.get()
    assert case.status == "waiting"
    answer, = harness.outbox("resident_answer")
    assert "Which street was it on?" in text(answer)
    assert "We are waiting to hear from you" in text(answer)
    at(harness, dt.datetime(2026, 12, 14, 10, 0, tzinfo=dt.timezone.utc))
    assert check(harness) == 0   # paused: no reminder, no breach
    ack = harness.outbox("resident_ack")[0]
    harness.submit(resident_mail(body="Hill Street.", message_id="<a2@example.net>", to=ack["Reply-To"],
                                 subject="Re: Your message [SRG-2026-0001]"), rcpt_tos=[ack["Reply-To"]])
    case = Case.get()
    assert case.status == "open" and case.due_date == dt.date(2026, 12, 21)


def test_an_urgent_case_unanswered_is_sent_again_once_after_the_minutes_set(make_harness):
    harness = make_harness(urgent={"remind_after_minutes": "30"})
    at(harness, TUESDAY_10AM)
    harness.submit(resident_mail(body="A man with a knife is outside my house now."))
    first = harness.outbox("team_new_case")[0]
    assert first["Importance"] == "high" and first["X-Priority"] == "1"
    harness.clock.advance(29 * 60)
    assert check(harness) == 0
    harness.clock.advance(2 * 60)
    assert check(harness) == 1 and check(harness) == 0
    again, = harness.outbox("team_urgent_reminder")
    assert again["Subject"].startswith("[URGENT]") and again["Importance"] == "high"
    assert "nobody\nhas replied in 30 minutes" in text(again)


def test_the_morning_digest_comes_once_on_working_days_urgent_first(make_harness):
    harness = make_harness(clock={"digest_time": "08:00"})
    at(harness, dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.timezone.utc))   # Friday 07:00
    harness.submit(resident_mail(message_id="<d1@example.net>", sender="ann@example.net"))
    harness.submit(resident_mail(body="Someone has a gun outside now.", message_id="<d2@example.net>",
                                 sender="bob@example.net"))
    assert check(harness) == 0   # before 08:00
    at(harness, dt.datetime(2026, 12, 4, 8, 1, tzinfo=dt.timezone.utc))
    check(harness)
    digest, = harness.outbox("team_digest")
    assert digest["To"] == "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"
    body = text(digest)
    assert body.index("URGENT  SRG-2026-0002") < body.index("SRG-2026-0001")
    assert "reply to: reply+srg-2026-0001-" in body
    check(harness)
    assert len(harness.outbox("team_digest")) == 1
    at(harness, dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.timezone.utc))   # Saturday: none
    check(harness)
    assert len(harness.outbox("team_digest")) == 1
