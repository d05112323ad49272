"""Issue 25, item 3: an officer whose mail is authenticated (DKIM for police.example, served by
the test world's DNS) but who is in no team's `officers` is held as exactly that, not as "not
the case's resident"; the case's team mailbox and the officer are told the line to add to the
INI file, once a day per address. Asserted on the mail that leaves."""

from __future__ import annotations

import pytest

from gateway.db.models import CaseEvent
from tests.helpers import resident_mail, signed
from tests.unit.pipeline.test_officer import officer_reply

pytestmark = pytest.mark.database

NEW = "new.officer@police.example"
LINE = "officers = pc.jones@police.example, sgt.evans@police.example, new.officer@police.example"
WHY = f"{NEW} is authenticated as police.example (dkim) but is in no team's officers list"


def text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_an_authenticated_officer_in_no_team_is_held_and_told_the_line_to_add(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "We will patrol on Friday.", sender=f"New Officer <{NEW}>")
    assert harness.outbox("resident_answer") == []
    held, = harness.outbox("team_held")
    assert held["To"] == "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"
    notice = text(held)
    assert f"was held: {WHY}." in notice and "not the case's resident" not in notice
    assert f"\n[team:hightown]\n{LINE}\n" in notice
    told, = harness.outbox("officer_unlisted")
    assert told["To"] == NEW and told["Subject"].startswith("[SRG-2026-0001] Not sent: ")
    assert f"\n[team:hightown]\n{LINE}\n" in text(told)
    assert any(WHY in e.detail for e in CaseEvent.select().where(CaseEvent.kind == "held"))


def test_the_line_is_told_once_a_day_per_address(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "First try.", sender=NEW, message_id="<n1@police.example>")
    harness.clock.advance(2 * 3600)   # past the hour of held notices: the team hears of the hold again
    officer_reply(harness, "Second try.", sender=NEW, message_id="<n2@police.example>")
    assert len(harness.outbox("officer_unlisted")) == 1
    first, second = harness.outbox("team_held")
    assert LINE in text(first) and WHY in text(second) and LINE not in text(second)
    harness.clock.advance(23 * 3600)   # a day after the first: told again
    officer_reply(harness, "Third try.", sender=NEW, message_id="<n3@police.example>")
    assert len(harness.outbox("officer_unlisted")) == 2 and LINE in text(harness.outbox("team_held")[-1])


def test_a_forged_unknown_police_address_is_still_not_the_cases_resident_and_gets_nothing(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "We will patrol on Friday.", sender=NEW, sign=False)
    held, = harness.outbox("team_held")
    assert "was held: not the case's resident." in text(held) and "officers =" not in text(held)
    assert harness.outbox("officer_unlisted") == [] and harness.outbox("officer_held") == []


def test_a_listed_officer_is_relayed_as_before(harness):
    harness.submit(resident_mail())
    harness.submit(signed(resident_mail(sender="pc.jones@police.example", to=harness.outbox("team_new_case")[0]["Reply-To"],
                                        body="Patrol on Friday.", message_id="<j1@police.example>")),
                   rcpt_tos=[harness.outbox("team_new_case")[0]["Reply-To"]])
    assert len(harness.outbox("resident_answer")) == 1 and harness.outbox("officer_unlisted") == []
