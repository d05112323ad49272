"""Attacks on the 24-hour desk ([urgent] escalate_to): a resident (or anyone writing in a
resident's name, which nobody checks) writing of danger again and again must neither flood
the desk nor keep putting off the moment the desk is told. The first test is the daemon over
loopback SMTP and a relay, out of the team's hours (every day near today is a closed day);
the second needs business hours at chosen moments, so it runs the same pipeline and reminder
check in-process on a FakeClock."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from gateway.promise import reminders
from gateway.render import Renderer
from tests.helpers import db_rows, free_port, resident_mail, signed, wait_for, write_config
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send

pytestmark = pytest.mark.database

DESK = "control.room@police.example"
TEAM = "hightown.npt@police.example"
DANGER = "He is outside my door with a knife right now and says he will kill me."


def closed_days() -> str:
    today = dt.date.today()
    return ", ".join(str(today + dt.timedelta(days=d)) for d in (-1, 0, 1))


def out_of_hours_daemon(tmp_path, gateway_process, relay) -> int:
    """A daemon whose every day around today is closed (so it is out of hours, and an urgent
    case goes to the desk at once), checking reminders every second; its SMTP port."""
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)},
                        clock={"digest_time": "off", "extra_closed_days": closed_days(), "check_seconds": "1"},
                        urgent={"escalate_to": DESK})
    gateway_process(path, port)
    return port


def test_a_resident_writing_of_danger_ten_times_out_of_hours_brings_the_desk_one_mail(
        tmp_path, gateway_process, relay):
    port = out_of_hours_daemon(tmp_path, gateway_process, relay)
    send(port, resident_mail(subject="Help", body=DANGER, message_id="<d0@example.net>"))
    first, = wait_for(lambda: relay.messages(DESK), 15, what="the desk's copy")
    assert first["Subject"].startswith("[URGENT] [SRG-2026-0001] Escalated: ")
    for n in range(1, 10):   # each a second or more apart, as a person (or a script) writes
        time.sleep(1.1)
        send(port, resident_mail(subject="Re: [SRG-2026-0001] Help", body=f"{DANGER} ({n})",
                                 message_id=f"<d{n}@example.net>"))
        wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(n + 1,)], 15,
                 what=f"message {n} handled")
        wait_for(lambda: len([m for m in relay.messages(TEAM) if "URGENT" in m["Subject"]]) >= n + 1, 15,
                 what=f"the team's copy of message {n}")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where state = 'queued'") == [(0,)], 15,
             what="the outbox to empty")
    time.sleep(3)   # three rounds of the reminder check: anything it owed the desk is at the relay now
    assert len(relay.messages(DESK)) == 1, [m["Subject"] for m in relay.messages(DESK)]
    # the team still has every message of danger
    assert len([m for m in relay.messages(TEAM) if "URGENT" in m["Subject"]]) == 10


def test_writing_of_danger_again_does_not_put_off_the_desk_in_business_hours(make_harness):
    harness = make_harness(urgent={"escalate_to": DESK, "escalate_after_minutes": "15"},
                           clock={"digest_time": "off", "business_hours": "09:00-17:00"})
    # Tuesday 1 December 2026, 10:00 in London: a working day, in business hours
    harness.clock._now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
    renderer = Renderer()
    harness.submit(resident_mail(subject="Help", body=DANGER, message_id="<h0@example.net>"))
    told = {}
    for n in range(1, 6):   # every ten minutes: "he is still here"
        harness.clock.advance(10 * 60)
        reminders.check(harness.settings, harness.clock, renderer)
        told[f"10:{n}0"] = len(harness.outbox("desk_escalation"))
        harness.submit(resident_mail(subject="Re: [SRG-2026-0001] Help", body=f"{DANGER} Still here ({n}).",
                                     message_id=f"<h{n}@example.net>"))
    # nobody had seen the first message by 10:15: the desk is told at the first check after
    # (10:20); the flags written since reach it once, 15 minutes after the first of them
    assert told == {"10:10": 0, "10:20": 1, "10:30": 1, "10:40": 2, "10:50": 2}
    assert {m["To"] for m in harness.outbox("desk_escalation")} == {DESK}


FILM = "Last night's film had a man with a knife shouting that he would kill them all. Too loud for a Tuesday."
FORGED = "I have the tablets ready and I am going to end it tonight. Sorry for everything."


def test_a_correction_is_about_the_message_the_officer_answered_not_one_slipped_in_after(
        tmp_path, gateway_process, relay):
    """Anyone can write in a resident's name (residents are never asked to authenticate):
    a message slipped into the case just before an officer's #noturgent must not become the
    example `gateway urgent corrections` labels "not urgent"."""
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)})
    gateway_process(path, port)
    send(port, resident_mail(subject="Noise", body=FILM, message_id="<film@example.net>"))
    forward, = wait_for(lambda: relay.messages(TEAM), 15, what="the team's copy")
    send(port, resident_mail(subject="Re: [SRG-2026-0001] Noise", body=FORGED, message_id="<forged@example.net>"))
    wait_for(lambda: len(relay.messages(TEAM)) == 2, 15, what="the team's copy of the second message")
    reply = resident_mail(subject="RE: " + forward["Subject"], body="#noturgent\n", to=forward["Reply-To"],
                          sender="PC Jones <pc.jones@police.example>", message_id="<nu1@police.example>",
                          In_Reply_To=forward["Message-ID"], References=forward["Message-ID"])
    send(port, signed(reply), sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])
    wait_for(lambda: db_rows(tmp_path, "select count(*) from case_event where kind = 'urgency_corrected'") == [(1,)],
             15, what="the correction")
    result = gateway("--config", str(path), "urgent", "corrections", "--json")
    assert result.returncode == 0, result.stderr
    example, = [json.loads(line) for line in result.stdout.splitlines()]
    assert example["label"] == "not_urgent" and example["by"] == "pc.jones@police.example"
    assert "Last night's film" in example["text"]
    assert "tablets" not in example["text"]


def test_danger_written_after_ten_ordinary_messages_in_an_hour_still_reaches_the_team_and_the_desk(
        tmp_path, gateway_process, relay):
    """[limits] new_cases_per_sender_per_hour (10) holds a sender's eleventh new case. Anyone
    can fill a resident's hour by writing in their name; the resident's own "he has a knife"
    must then still be flagged, reach the team as urgent and go to the desk."""
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)},
                        clock={"digest_time": "off", "extra_closed_days": closed_days()},
                        urgent={"escalate_to": DESK})
    gateway_process(path, port)
    for n in range(10):
        send(port, resident_mail(subject=f"Bins {n}", body="The bins were not collected again.",
                                 message_id=f"<bins{n}@example.net>"))
    wait_for(lambda: len(relay.messages(TEAM)) == 10, 30, what="the team's ten copies")
    send(port, resident_mail(subject="Please help", body=DANGER, message_id="<knife@example.net>"))
    desk, = wait_for(lambda: relay.messages(DESK), 15, what="the desk's copy")
    assert "knife" in desk.get_body(("plain",)).get_content()
    urgent = wait_for(lambda: [m for m in relay.messages(TEAM) if m["Subject"].startswith("[URGENT]")], 15,
                      what="the team's urgent copy")
    assert DANGER in urgent[0].get_body(("plain",)).get_content()


def test_after_an_answer_a_new_message_of_danger_waits_its_own_time_before_the_desk(make_harness):
    """The wait counts from the first flag since anyone last dealt with the case: an officer's
    answer is that, as #seen is."""
    harness = make_harness(urgent={"escalate_to": DESK, "escalate_after_minutes": "15"},
                           clock={"digest_time": "off", "business_hours": "09:00-17:00"})
    harness.clock._now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
    renderer = Renderer()
    harness.submit(resident_mail(subject="Help", body=DANGER, message_id="<w0@example.net>"))
    forward, = harness.outbox("team_new_case")
    harness.clock.advance(5 * 60)
    answer = resident_mail(subject="RE: " + forward["Subject"], body="Officers are on their way.",
                           to=forward["Reply-To"], sender="PC Jones <pc.jones@police.example>",
                           message_id="<ans1@police.example>", In_Reply_To=forward["Message-ID"])
    harness.submit(signed(answer), mail_from="pc.jones@police.example", rcpt_tos=[forward["Reply-To"]])
    assert len(harness.outbox("resident_answer")) == 1
    harness.clock.advance(25 * 60)   # 10:30: they write again
    harness.submit(resident_mail(subject="Re: [SRG-2026-0001] Help", body=f"{DANGER} He came back.",
                                 message_id="<w1@example.net>"))
    harness.clock.advance(60)
    reminders.check(harness.settings, harness.clock, renderer)
    assert harness.outbox("desk_escalation") == []   # 10:31: one minute unseen, not fifteen
    harness.clock.advance(15 * 60)
    reminders.check(harness.settings, harness.clock, renderer)
    assert len(harness.outbox("desk_escalation")) == 1   # 10:46


def test_one_address_writing_of_danger_in_twelve_new_mails_brings_the_desk_one_mail(
        tmp_path, gateway_process, relay):
    """Twelve new messages of danger from one address (each its own subject, so up to the
    new-case limit each opens a case) out of hours: the team gets all, the desk one mail
    until someone deals with it."""
    port = out_of_hours_daemon(tmp_path, gateway_process, relay)
    for n in range(12):
        send(port, resident_mail(subject=f"Help {n}", body=f"{DANGER} ({n})", message_id=f"<many{n}@example.net>"))
        time.sleep(1.1)
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(12,)], 30,
             what="the twelve messages handled")
    wait_for(lambda: len([m for m in relay.messages(TEAM) if "URGENT" in m["Subject"]]) == 12, 15,
             what="the team's twelve urgent copies")
    time.sleep(3)   # three rounds of the reminder check
    assert len(relay.messages(DESK)) == 1, [m["Subject"] for m in relay.messages(DESK)]
