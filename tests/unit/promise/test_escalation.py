"""Issue 24: an urgent case reaches someone on duty. On a FakeClock, through the pipeline and
the reminder check, on a real database: out of hours the 24-hour desk ([urgent] escalate_to)
is told at once; in hours after escalate_after_minutes unless an officer answered or wrote
#seen; #urgent and #noturgent correct the flag and are kept as labelled examples."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from gateway import db
from gateway.cli import main
from gateway.db.models import Case, CaseEvent
from gateway.promise import reminders
from gateway.render import Renderer
from tests.helpers import resident_mail, signed
from tests.unit.pipeline.test_officer import officer_reply

pytestmark = pytest.mark.database

DESK = "control.room@police.example"
ON_DUTY = {"urgent": {"escalate_to": DESK}}
KNIFE = "There is a man with a knife outside my house right now, please help."
WEDNESDAY = dt.date(2026, 12, 2)


def at(harness, hour: int, minute: int = 0) -> None:
    harness.clock._now = dt.datetime.combine(WEDNESDAY, dt.time(hour, minute), dt.timezone.utc)   # GMT


def check(harness) -> int:
    return reminders.check(harness.settings, harness.clock, Renderer())


def text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_an_urgent_message_at_two_in_the_morning_reaches_the_desk_at_once(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 2)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    escalation, = harness.outbox("desk_escalation")
    assert escalation["To"] == DESK
    assert escalation["Subject"] == "[URGENT] [SRG-2026-0001] Escalated: Help"
    assert escalation["Importance"] == "high"
    assert escalation["Reply-To"] == harness.outbox("team_new_case")[0]["Reply-To"]
    body = text(escalation)
    assert "Why it was flagged: danger now: knife, right now" in body
    assert "outside the team's working hours" in body and "a man with a knife" in body
    assert check(harness) == 0, [(m["To"], m["Subject"]) for m in harness.outbox()]
    assert len(harness.outbox("desk_escalation")) == 1   # once
    at(harness, 2, 30)
    assert check(harness) == 0 and len(harness.outbox("desk_escalation")) == 1


def test_in_hours_the_desk_hears_fifteen_minutes_later_when_nobody_has_seen_it(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    assert harness.outbox("desk_escalation") == [] and check(harness) == 0
    at(harness, 10, 14)
    assert check(harness) == 0
    at(harness, 10, 15)
    assert check(harness) == 1 and check(harness) == 0
    escalation, = harness.outbox("desk_escalation")
    assert "Nobody in the team has answered it or marked it seen in 15 minutes." in text(escalation)
    assert [e.kind for e in CaseEvent.select().order_by(CaseEvent.id)][-1] == "escalated"


@pytest.mark.parametrize("officer_says", ["#seen\nPC Jones is on her way.", "We are sending an officer now."])
def test_seen_or_an_answer_stops_the_escalation(make_harness, officer_says):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    at(harness, 10, 5)
    officer_reply(harness, officer_says)
    at(harness, 10, 30)
    assert check(harness) == 0 and harness.outbox("desk_escalation") == []
    if officer_says.startswith("#seen"):
        assert harness.outbox("resident_answer") == []   # seen: the resident is not written to
        assert Case.get().status == "open"
        seen = CaseEvent.get(CaseEvent.kind == "seen")
        assert seen.detail == "by pc.jones@police.example: PC Jones is on her way."


def test_the_desk_can_mark_seen_or_answer_the_resident_as_an_officer_does(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 2)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    escalation, = harness.outbox("desk_escalation")
    reply = resident_mail(subject=f"RE: {escalation['Subject']}", body="Officers are on their way to you now.",
                          sender=f"Control Room <{DESK}>", to=escalation["Reply-To"], message_id="<d1@police.example>")
    harness.submit(signed(reply), rcpt_tos=[escalation["Reply-To"]])
    answer, = harness.outbox("resident_answer")
    assert answer["To"] == "Ann Resident <ann@example.net>" and DESK not in answer.as_string()
    assert "Officers are on their way to you now." in text(answer)


def test_noturgent_is_kept_as_a_labelled_example_and_stops_escalation(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Hall", body="Someone is trying to break in to the community hall right "
                                                      "now, we think, but it may just be the caretaker."))
    assert Case.get().urgent
    at(harness, 10, 5)
    officer_reply(harness, "#noturgent")
    assert not Case.get().urgent
    at(harness, 10, 30)
    assert check(harness) == 0 and harness.outbox("desk_escalation") == []
    result = CliRunner().invoke(main, ["--config", str(harness.settings.path), "urgent", "corrections", "--json"])
    assert result.exit_code == 0, result.output
    example, = [json.loads(line) for line in result.output.splitlines()]
    assert example["label"] == "not_urgent" and example["case"] == "SRG-2026-0001"
    assert example["by"] == "pc.jones@police.example" and "may just be the caretaker" in example["text"]


THROUGH_THE_WALL = "I can hear him shouting at her through the wall and things being thrown. She is crying."


def test_urgent_on_an_open_case_starts_its_escalation(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Next door", body=THROUGH_THE_WALL))
    at(harness, 10, 1)
    officer_reply(harness, "#urgent")
    assert Case.get().urgent
    at(harness, 10, 15)
    assert check(harness) == 0
    at(harness, 10, 16)
    assert check(harness) == 1
    assert "marked urgent by pc.jones@police.example" in text(harness.outbox("desk_escalation")[0])
    result = CliRunner().invoke(main, ["--config", str(harness.settings.path), "urgent", "corrections"])
    assert "urgent" in result.output and "through the wall" in result.output


def test_lines_under_urgent_or_noturgent_stay_between_colleagues(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Next door", body=THROUGH_THE_WALL))
    at(harness, 10, 1)
    officer_reply(harness, "#urgent\nHe is known to us, PC Smith is two streets away.")
    assert Case.get().urgent and Case.get().status == "open"
    assert harness.outbox("resident_answer") == []
    at(harness, 10, 16)
    assert check(harness) == 1   # an open case is not "answered" by a word between colleagues
    result = CliRunner().invoke(main, ["--config", str(harness.settings.path), "urgent", "corrections", "--json"])
    example, = [json.loads(line) for line in result.output.splitlines()]
    assert example["by"] == "pc.jones@police.example" and example["label"] == "urgent"
    assert example["officer_said"] == "He is known to us, PC Smith is two streets away."


def test_no_desk_configured_means_no_escalation(harness):
    at(harness, 2)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    at(harness, 2, 30)
    assert check(harness) == 0 and harness.outbox("desk_escalation") == []


@pytest.mark.parametrize("body,subject", [
    (KNIFE, "If you are in danger, call 999 now: Re: Your message [SRG-2026-0001]"),
    ("Mae dyn gyda chyllell tu allan i'r tŷ ar hyn o bryd, mae e'n bygwth fy lladd i nawr. Helpwch fi os gwelwch "
     "yn dda, rydw i mewn perygl.",
     "Os ydych mewn perygl, ffoniwch 999 nawr: Re: Eich neges [SRG-2026-0001]"),
])
def test_the_urgent_acknowledgement_says_call_999_first_in_its_subject(harness, body, subject):
    at(harness, 10)
    harness.submit(resident_mail(subject="", body=body))
    assert harness.outbox("resident_ack")[0]["Subject"] == subject


def test_metrics_count_urgent_cases_and_how_long_the_oldest_unseen_has_waited(make_harness):
    harness = make_harness(**ON_DUTY)
    at(harness, 10)
    harness.submit(resident_mail(subject="Help", body=KNIFE))
    at(harness, 10, 10)
    now = harness.clock.now()
    figures = db.health.figures(now, now.date(), now.date())
    assert figures.urgent_open == 1 and figures.urgent_unseen_seconds == 600
    officer_reply(harness, "#seen")
    figures = db.health.figures(now, now.date(), now.date())
    assert figures.urgent_open == 1 and figures.urgent_unseen_seconds == 0
