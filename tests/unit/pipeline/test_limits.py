"""Limits that keep a gateway calm: acknowledgements, floods, spam verdicts."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway import db
from gateway.db.models import Case, CaseEvent, Inbound
from tests.conftest import Harness
from tests.helpers import resident_mail

pytestmark = pytest.mark.database


def test_acknowledgements_per_sender_per_day_hold_across_restarts(make_harness, tmp_path):
    harness = make_harness(limits={"acks_per_sender_per_day": "2"})
    for n in range(2):
        harness.submit(resident_mail(message_id=f"<m{n}@x>", subject=f"Matter {n}"))
    restarted = Harness(tmp_path, limits={"acks_per_sender_per_day": "2"})  # a new process, same database
    restarted.clock.now = lambda: harness.clock.now() + dt.timedelta(hours=3)
    restarted.submit(resident_mail(message_id="<m2@x>", subject="Matter 2"))
    assert Case.select().count() == 3 and len(restarted.outbox("resident_ack")) == 2
    assert len(restarted.outbox("team_new_case")) == 3  # the team still gets every case
    event = CaseEvent.get(CaseEvent.kind == "not_acknowledged")
    assert "already had 2 acknowledgements today" in event.detail
    restarted.clock.now = lambda: harness.clock.now() + dt.timedelta(days=1, hours=1)
    restarted.submit(resident_mail(message_id="<m3@x>", subject="Next day"))
    assert len(restarted.outbox("resident_ack")) == 3


def test_a_flood_of_new_cases_is_grouped_and_the_team_told_once(make_harness):
    harness = make_harness(limits={"new_cases_per_sender_per_hour": "3"})
    for n in range(6):
        harness.submit(resident_mail(message_id=f"<f{n}@x>", subject=f"Complaint {n}"))
    assert Case.select().count() == 3
    assert [i.kind for i in Inbound.select().order_by(Inbound.id)] == ["resident_new"] * 3 + ["held"] * 3
    assert len(harness.outbox("resident_ack")) == 3
    notice, = harness.outbox("team_flood")
    assert notice["Subject"].startswith("[SRG-2026-0003] Many messages:")
    assert CaseEvent.select().where(CaseEvent.kind == "grouped").count() == 3


def test_zero_turns_the_per_sender_limits_off(make_harness):
    harness = make_harness(limits={"acks_per_sender_per_day": "0", "new_cases_per_sender_per_hour": "0",
                                   "auto_replies_per_address_per_day": "0"})
    for n in range(12):
        harness.submit(resident_mail(message_id=f"<z{n}@x>", subject=f"Matter {n}"))
    assert Case.select().count() == 12
    assert len(harness.outbox("resident_ack")) == 12 and harness.outbox("team_flood") == []


def test_an_upstream_spam_verdict_quarantines_and_release_lets_it_in(make_harness):
    harness = make_harness()
    inbound = harness.submit(resident_mail(X_Spam_Flag="YES", subject="Cheap pills"))
    assert Case.select().count() == 0 and harness.outbox() == []
    assert db.intake.queue_items("quarantine")[0]["id"] == f"in:{inbound}"
    assert db.intake.release_quarantined(f"in:{inbound}")
    while harness.worker.process_one():
        pass
    assert Case.select().count() == 1 and Inbound.get_by_id(inbound).kind == "resident_new"


def test_a_spam_score_at_or_over_the_threshold(make_harness):
    harness = make_harness(limits={"spam_header": "X-Spam-Score", "spam_threshold": "5"})
    harness.submit(resident_mail(message_id="<low@x>", X_Spam_Score="2.1"))
    harness.submit(resident_mail(message_id="<high@x>", X_Spam_Score="7.5"))
    assert [i.kind for i in Inbound.select().order_by(Inbound.id)] == ["resident_new", "quarantine"]


def test_in_flow_control_pauses_new_mail_only_while_mail_waits_for_the_pipeline_or_delivery(harness):
    import asyncio
    import threading

    from gateway.alerts.bulletins import BULLETIN_PRIORITY
    from gateway.inbound.smtp import InFlow
    from gateway.db.models import Outbound

    clock = harness.clock
    in_flow = InFlow(delay=1.0, backlog=3, clock=clock)
    real_sleep = asyncio.sleep

    async def sleep(seconds):   # the pause advances the fake clock
        clock.advance(seconds)
        await real_sleep(0)

    asyncio.sleep = sleep
    try:
        assert asyncio.run(in_flow.wait()) == 0.0   # nothing waiting: no pause
        for n in range(3):
            db.intake.save_inbound(resident_mail(message_id=f"<b{n}@x>").as_bytes(), "ann@example.net",
                               ["surgery@surgery.example.org"], "smtp", harness.clock.now())
        clock.advance(InFlow.CHECK_SECONDS)   # the backlog is read again at most this often
        assert asyncio.run(in_flow.wait()) >= 1.0   # behind: paused for the whole delay, then let in
        while harness.worker.process_one():
            pass
        clock.advance(InFlow.CHECK_SECONDS)
        assert asyncio.run(in_flow.wait()) >= 1.0   # handled, but six answers wait for delivery
        relay_down = threading.Event()
        relay_down.set()   # ... unless the relay cannot be reached: the outbox cannot drain then
        clock.advance(InFlow.CHECK_SECONDS)
        assert asyncio.run(InFlow(delay=1.0, backlog=3, clock=clock, relay_down=relay_down).wait()) == 0.0
        db.outbox.mark_sent([row.id for row in Outbound.select()], harness.clock.now())
        for n in range(5):   # a bulletin's copies wait at their own pace: they do not count
            db.outbox.enqueue(db.outbox.Outgoing("bulletin", "alerts@surgery.example.org", f"s{n}@example.net", f"<s{n}@x>",
                                         b"", priority=BULLETIN_PRIORITY), harness.clock.now(), harness.clock.now())
        clock.advance(InFlow.CHECK_SECONDS)
        assert asyncio.run(in_flow.wait()) == 0.0   # caught up: no pause
        assert asyncio.run(InFlow(delay=0, backlog=1, clock=clock).wait()) == 0.0   # 0: off
    finally:
        asyncio.sleep = real_sleep


AREAS = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
         "area__rhosddu": {"name": "Rhosddu", "team": "rhosddu", "postcodes": "LL11 2"}}


def ask(harness, to: str, n: int, sender: str = "victim@example.net") -> None:
    harness.submit(resident_mail(to=to, sender=sender, subject="Alerts", body="Alerts please",
                                 message_id=f"<ask{n}@x>"), rcpt_tos=[to])


def test_one_confirmation_request_per_address_and_area_a_day(make_harness):
    harness = make_harness(**AREAS, limits={"auto_replies_per_address_per_day": "0"})   # the area rule alone
    for n in range(5):
        ask(harness, "subscribe+hightown@surgery.example.org", n)
    ask(harness, "subscribe+rhosddu@surgery.example.org", 5)   # another area: asked for once too
    assert [m["Subject"] for m in harness.outbox("alerts_confirm_request")] == [
        "Please confirm: community alerts for Hightown", "Please confirm: community alerts for Rhosddu"]
    harness.clock.advance(24 * 3600 + 60)   # a day later the resident may ask again
    ask(harness, "subscribe+hightown@surgery.example.org", 6)
    assert len(harness.outbox("alerts_confirm_request")) == 3
    assert [i.kind for i in Inbound.select().order_by(Inbound.id)][1:5] == ["subscribe_asked_already"] * 4


def test_the_cap_counts_every_kind_of_automatic_reply_and_a_day_later_there_is_room_again(make_harness):
    harness = make_harness(**AREAS)
    harness.submit(resident_mail(sender="victim@example.net", message_id="<c1@x>"))           # acknowledged
    ask(harness, "alerts@surgery.example.org", 1)                                            # "which area?"
    ask(harness, "subscribe+hightown@surgery.example.org", 2)                               # confirmation request
    ask(harness, "subscribe+rhosddu@surgery.example.org", 3)                                # over the cap
    harness.submit(resident_mail(sender="victim@example.net", message_id="<c2@x>", subject="Again"))  # over it
    to_victim = [m for m in harness.outbox() if m["To"].endswith("victim@example.net")]
    assert len(to_victim) == 3
    assert len(harness.outbox("team_new_case")) == 2   # the team still gets every case
    event = CaseEvent.get(CaseEvent.kind == "not_acknowledged")
    assert "already had 3 automatic replies in 24 hours" in event.detail
    harness.clock.advance(24 * 3600 + 60)
    ask(harness, "subscribe+rhosddu@surgery.example.org", 4)
    assert len(harness.outbox("alerts_confirm_request")) == 2


def test_every_way_of_writing_one_mailbox_shares_its_cap(make_harness):
    """Found by an independent attack: victim+1@, victim+2@ ... each had a cap of its own, and
    all of it reached victim@."""
    harness = make_harness(**AREAS)
    for n in range(1, 7):
        sender = "Victim@Example.net" if n == 6 else f"victim+{n}@example.net"
        harness.submit(resident_mail(sender=sender, message_id=f"<t{n}@x>", subject=f"Case {n}"))
    assert len(harness.outbox("resident_ack")) == 3
    assert len(harness.outbox("team_new_case")) == 6   # the team still gets every case
    harness.submit(resident_mail(sender="victim_x@example.net", message_id="<u1@x>", subject="Other"))
    assert len(harness.outbox("resident_ack")) == 4   # another mailbox (and _ is no wildcard)


def test_held_notices_are_one_per_case_an_hour_and_the_next_counts_the_rest(make_harness):
    harness = make_harness()
    harness.submit(resident_mail())
    forged = "reply+srg-2026-0001-aaaaaaaaaaaaaaaa@surgery.example.org"
    for n in range(5):
        harness.submit(resident_mail(message_id=f"<t{n}@x>", sender="mallory@example.com", to=forged),
                       rcpt_tos=[forged])
        harness.clock.advance(60)
    first, = harness.outbox("team_held")
    assert "more message(s) were held" not in first.get_body(("plain",)).get_content()
    assert Inbound.select().where(Inbound.kind == "held").count() == 5   # every message kept, held
    harness.clock.advance(3600)
    harness.submit(resident_mail(message_id="<t9@x>", sender="mallory@example.com", to=forged), rcpt_tos=[forged])
    _, second = harness.outbox("team_held")
    text = second.get_body(("plain",)).get_content()
    assert "And 4 more message(s) were held on this case since the last such notice" in text
    assert "gateway case show SRG-2026-0001" in text
    harness.clock.advance(3601)
    harness.submit(resident_mail(message_id="<t10@x>", sender="mallory@example.com", to=forged), rcpt_tos=[forged])
    assert "more message(s) were held" not in harness.outbox("team_held")[-1].get_body(("plain",)).get_content()


def test_an_officer_hears_of_at_most_three_held_messages_an_hour(harness):
    """Found by an independent attack: one captured signed reply sent thirty times gave the
    officer thirty "Not sent" notices."""
    from tests.unit.pipeline.test_officer import officer_reply

    harness.submit(resident_mail())
    for _ in range(6):   # the first is relayed; the five copies after it are replays, held
        officer_reply(harness, "We will patrol on Friday.")
    assert len(harness.outbox("resident_answer")) == 1
    assert len(harness.outbox("officer_held")) == 3
    assert CaseEvent.select().where(CaseEvent.kind == "officer_not_told").count() == 2
    harness.clock.advance(3600 + 60)
    officer_reply(harness, "We will patrol on Friday.")
    assert len(harness.outbox("officer_held")) == 4


def test_made_up_addresses_of_many_cases_make_one_notice_a_team_an_hour(make_harness):
    """Found by an independent attack: case references run in order, so made-up addresses of
    forty cases gave the team forty notices an hour (one per case)."""
    harness = make_harness()
    for n in range(1, 6):
        harness.submit(resident_mail(sender=f"r{n}@example.net", message_id=f"<o{n}@x>", subject=f"Case {n}"))
    for n in range(1, 6):
        made_up = f"reply+srg-2026-{n:04d}-aaaaaaaaaaaaaaaa@surgery.example.org"
        harness.submit(resident_mail(message_id=f"<m{n}@x>", sender="mallory@example.com", to=made_up),
                       rcpt_tos=[made_up])
    assert len(harness.outbox("team_held")) == 1
    assert Inbound.select().where(Inbound.kind == "held").count() == 5   # every message kept, held
    harness.clock.advance(3600)
    made_up = "reply+srg-2026-0003-aaaaaaaaaaaaaaaa@surgery.example.org"
    harness.submit(resident_mail(message_id="<m9@x>", sender="mallory@example.com", to=made_up), rcpt_tos=[made_up])
    assert len(harness.outbox("team_held")) == 2
