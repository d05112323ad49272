"""Delivery against a real SMTP server on loopback: permanent refusals, the spool, and claims."""

from __future__ import annotations

import threading

import pytest
from aiosmtpd.controller import Controller

from gateway import db
from gateway.mail.addresses import verify_token_address
from gateway.db.models import Outbound
from gateway.runtime.outbound import Deliverer
from tests.helpers import free_port, resident_mail

pytestmark = pytest.mark.database


class Refusing:
    """A relay that refuses one recipient for good and another for now."""

    def __init__(self):
        self.accepted = []

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address == "ann@example.net":
            return "550 5.1.1 No such user"
        if address.startswith("hightown.npt@"):
            return "451 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append(envelope.rcpt_tos)
        return "250 OK"


def test_5xx_fails_for_good_and_4xx_is_retried_until_the_deadline(make_harness):
    port = free_port()
    handler = Refusing()
    relay = Controller(handler, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        harness = make_harness(relay={"host": "127.0.0.1", "port": str(port), "retry_delays": "60, 600",
                                      "retry_deadline_hours": "1"})
        harness.submit(resident_mail())
        deliverer = Deliverer(harness.settings, harness.clock, "test")
        while deliverer.deliver_one():
            pass
        ack = Outbound.get(Outbound.purpose == "resident_ack")
        assert (ack.state, ack.attempts) == ("failed", 1)
        assert "550 5.1.1 No such user" in ack.last_error
        forward = Outbound.get(Outbound.purpose == "team_new_case")
        assert (forward.state, forward.attempts) == ("queued", 1)
        assert "451 4.3.2" in forward.last_error
        assert db.utc(harness.clock.now()).timestamp() + 60 == forward.next_attempt_at.timestamp()

        delays = []
        for _ in range(10):  # 60 s, then 600 s repeating, until the one-hour deadline passes
            before = Outbound.get_by_id(forward.id).next_attempt_at
            harness.clock.advance((before - db.utc(harness.clock.now())).total_seconds())
            while deliverer.deliver_one():
                pass
            row = Outbound.get_by_id(forward.id)
            if row.state != "queued":
                break
            delays.append((row.next_attempt_at - before).total_seconds())
        assert delays[:2] == [600, 600]
        assert row.state == "failed" and row.last_error.startswith("gave up after")
        assert handler.accepted == []
        deliverer.close()
    finally:
        relay.stop()


def test_spool_files_are_whole_messages_a_person_can_read(harness):
    harness.submit(resident_mail())
    deliverer = Deliverer(harness.settings, harness.clock, "test")
    while deliverer.deliver_one():
        pass
    files = sorted(harness.settings.spool.glob("*.eml"))
    assert [f.name.split("-", 2)[2] for f in files] == ["team_new_case.eml", "resident_ack.eml"]
    assert not list(harness.settings.spool.glob(".*"))
    head = files[1].read_text().split("\n", 2)
    assert head[1] == "Delivered-To: ann@example.net"
    return_path = head[0].removeprefix("Return-Path: <").removesuffix(">")  # VERP: names the outbox row
    ack = Outbound.get(Outbound.purpose == "resident_ack")
    assert verify_token_address(return_path, "bounces", harness.settings.secret, "surgery.example.org") == str(ack.id)
    assert {row.state for row in Outbound.select()} == {"sent"}


def test_concurrent_workers_never_claim_the_same_item(harness):
    for n in range(40):
        db.intake.save_inbound(resident_mail(message_id=f"<c{n}@x>").as_bytes(), "a@example.net",
                           ["surgery@surgery.example.org"], "smtp", harness.clock.now())
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claim(owner: str) -> None:
        try:
            while items := db.intake.claim_inbound(owner, harness.clock.now(), 300, limit=3):
                with lock:
                    claimed.extend(item.id for item in items)
        except BaseException as exc:  # reported below: a claim must never fail under contention
            errors.append(exc)
        finally:
            db.connection.db.close()

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(claimed) == list(range(1, 41))


def test_the_rate_limit_spaces_sends_across_workers_and_zero_means_none():
    from gateway.runtime.outbound import RateLimit

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    limit = RateLimit(4, monotonic=lambda: now[0], sleep=sleep)   # 4 a second: one every 0.25 s
    for _ in range(5):
        limit.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]                       # the first goes at once
    now[0] += 10                                                  # idle for a while: no debt is kept
    limit.wait()
    assert len(slept) == 4
    unlimited = RateLimit(0, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(100):
        unlimited.wait()
    assert len(slept) == 4


def test_a_relay_connection_outlives_a_quiet_moment_and_is_closed_after_a_longer_one(make_harness, relay,
                                                                                      monkeypatch):
    from gateway.runtime import outbound

    harness = make_harness(relay={"host": "127.0.0.1", "port": str(relay.port)})
    deliverer = Deliverer(harness.settings, harness.clock, "w0")
    try:
        for n in range(3):
            harness.submit(resident_mail(message_id=f"<q{n}@x>", sender=f"q{n}@example.net"))
            assert deliverer.deliver_one()        # a forward and an acknowledgement
            assert not deliverer.deliver_one()    # then nothing is due for a moment
        relay.wait(6)
        assert len(set(relay.peers)) == 1         # one connection for the lot, not one a message
        monkeypatch.setattr(outbound, "LINGER_SECONDS", 0.0)
        assert not deliverer.deliver_one()        # quiet for longer than the linger: QUIT
        harness.submit(resident_mail(message_id="<q3@x>", sender="q3@example.net"))
        assert deliverer.deliver_one()
        relay.wait(8)
        assert len(set(relay.peers)) == 2
    finally:
        deliverer.close()


def test_delivery_says_when_the_relay_cannot_be_reached_and_when_it_can_again(make_harness):
    import datetime as dt
    import threading

    from tests.conftest import Relay

    port = free_port()   # nothing listens there yet
    harness = make_harness(relay={"host": "127.0.0.1", "port": str(port)})
    relay_down = threading.Event()
    deliverer = Deliverer(harness.settings, harness.clock, "w0", relay_down=relay_down)
    harness.submit(resident_mail())
    try:
        deliverer.deliver_one()
        assert relay_down.is_set()   # the SMTP door's flow control stops counting the outbox
        relay = Relay(port).start()
        try:
            harness.clock.advance(dt.timedelta(minutes=5).total_seconds())
            while deliverer.deliver_one():
                pass
            relay.wait(2)
            assert not relay_down.is_set()
        finally:
            relay.stop()
    finally:
        deliverer.close()


class _SlowRelay:
    """A relay that takes its time over each message, as a busy smarthost does."""

    def __init__(self, seconds: float):
        self.seconds, self.received, self.lock = seconds, [], threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(self.seconds)
        message_id = next((line.split(b":", 1)[1].strip() for line in envelope.original_content.splitlines()
                           if line.lower().startswith(b"message-id:")), b"?")
        with self.lock:
            self.received.append(message_id)
        return "250 OK"


def test_a_worker_on_a_slow_relay_keeps_its_lease_so_nothing_goes_twice(make_harness):
    import collections
    import time

    slow = _SlowRelay(0.3)
    port = free_port()
    controller = Controller(slow, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        harness = make_harness(relay={"host": "127.0.0.1", "port": str(port)}, worker={"lease_seconds": "1"})
        for n in range(6):   # 12 messages: 6 forwards and 6 acknowledgements, 3.6 s at the relay's pace
            harness.submit(resident_mail(sender=f"r{n}@example.net", message_id=f"<slow{n}@example.net>"))
        from gateway.clock import SystemClock

        workers = [Deliverer(harness.settings, SystemClock(), f"w{n}") for n in range(2)]
        stop = time.monotonic() + 8

        def work(deliverer):
            while time.monotonic() < stop and Outbound.select().where(Outbound.state == "queued").exists():
                if not deliverer.deliver_one():
                    time.sleep(0.1)
            deliverer.close()

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
    finally:
        controller.stop()
    counts = collections.Counter(slow.received)
    assert sum(counts.values()) == 12 and max(counts.values()) == 1, counts
