"""Issue 25, item 4: recovery in seconds. A daemon killed with SIGKILL while its delivery
workers held leases (the relay hung) is started again with the relay back: every message
reaches the relay at once, each once, not after [worker] lease_seconds (300). What a daemon
of another host holds keeps the lease rule. Mail deferred while the relay was down goes at
once when the daemon starts again or the relay answers, not at its next retry; a pipeline
process restarted takes back what the dead one held."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
from collections import Counter

import pytest

from gateway import db
from gateway.runtime import recovery
from tests.conftest import Relay
from tests.helpers import db_rows, resident_mail, wait_for
from tests.integration.test_daemon import send, start, stop_when_all_sent

pytestmark = pytest.mark.database
COUNT = 30


class HungRelay:
    """A relay host that takes the connection and never answers (a hung server, a firewall
    that lets SYN through): delivery waits on it, holding its leases, for timeout_seconds."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def arrived(relay: Relay) -> Counter:
    """(recipient, the resident's Message-ID) of each message at the relay: an acknowledgement
    answers it (In-Reply-To), a team's copy carries it (the original, attached)."""
    seen = Counter()
    for _, rcpts, msg in list(relay.received):
        original = msg["In-Reply-To"] or next(msg.iter_attachments()).get_content()["Message-ID"]
        seen[(rcpts[0], original)] += 1
    return seen


def test_a_daemon_killed_while_delivery_held_leases_catches_up_at_once_when_started_again(tmp_path, gateway_process):
    hung = HungRelay()
    gateway, port = start(tmp_path, gateway_process, hung.port, relay={"timeout_seconds": "120"},
                          worker={"lease_seconds": "300", "poll_seconds": "0.2", "delivery_workers": "2"})
    for n in range(COUNT):
        send(port, resident_mail(sender=f"r{n}@example.net", message_id=f"<crash{n}@example.net>"), f"r{n}@example.net")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(COUNT,)], 60,
             what="every message through the pipeline")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where lease_owner is not null")[0][0] > 0, 30,
             what="delivery holding leases while the relay hangs")
    gateway.stop(signal.SIGKILL)
    hung.close()
    relay = Relay(hung.port).start()
    try:
        again = gateway_process(gateway.config_path, port)
        relay.wait(2 * COUNT, timeout=60)   # within a minute of the restart, not lease_seconds
        stop_when_all_sent(tmp_path, again)   # and then any second, wrong delivery has shown itself
        expected = {(f"r{n}@example.net", f"<crash{n}@example.net>") for n in range(COUNT)} | {
            ("hightown.npt@police.example", f"<crash{n}@example.net>") for n in range(COUNT)}
        seen = arrived(relay)
        assert set(seen) == expected and set(seen.values()) == {1}, seen.most_common(3)
        assert "without waiting for their leases to run out" in again.log_text()
    finally:
        relay.stop()


def test_only_the_work_of_a_daemon_of_this_host_that_is_gone_is_taken_back(harness):
    now, host = harness.clock.now(), socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive, reused = os.getpid(), os.getppid()
    owners = {1: f"{host}:{dead.pid}:out0",     # its process is gone: taken back
              2: f"other-host:{dead.pid}:out0",   # another host's: the lease rule
              3: f"{host}:{alive}:out1",          # running, its heartbeat fresh: kept
              4: f"{host}:{reused}:out0"}         # its pid runs, but its heartbeat stopped long ago: reused
    for n, owner in owners.items():
        db.outbox.enqueue(db.outbox.Outgoing("resident_ack", "a@x", f"r{n}@example.net", f"<{n}@x>", b"x"), now,
                          now + dt.timedelta(hours=1))
        assert len(db.outbox.claim_outbound_batch(owner, now, 300, 1)) == 1
    db.cluster.daemon_seen(f"{host}:{alive}", host, alive, now, now)
    db.cluster.daemon_seen(f"{host}:{reused}", host, reused, now - dt.timedelta(hours=1), now - dt.timedelta(minutes=5))
    assert db.cluster.take_turn("reminders", f"{host}:{dead.pid}", now, 30)

    assert recovery.take_back(host, f"{host}:{alive + 10_000_000}", now) == 2
    freed = db.outbox.claim_outbound_batch("new", now, 300, 10)
    assert sorted(d.rcpt_to for d in freed) == ["r1@example.net", "r4@example.net"]
    assert db.cluster.take_turn("reminders", "new", now, 30)   # the dead daemon's turn let go
    assert [(h, pid) for h, pid, _, _ in db.cluster.daemons()] == [(host, alive)]


def test_mail_deferred_while_the_relay_was_down_goes_at_once_when_the_daemon_is_started_again(tmp_path,
                                                                                             gateway_process):
    relay = Relay()   # not started: nothing listens there, each try is refused
    gateway, port = start(tmp_path, gateway_process, relay.port, relay={"retry_delays": "1, 600"},
                          worker={"lease_seconds": "300", "poll_seconds": "0.2", "delivery_workers": "2"})
    for n in range(COUNT):
        send(port, resident_mail(sender=f"r{n}@example.net", message_id=f"<down{n}@example.net>"), f"r{n}@example.net")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where attempts >= 2") == [(2 * COUNT,)], 60,
             what="every message tried twice, its next try ten minutes away")
    gateway.stop(signal.SIGKILL)
    relay.start()
    try:
        again = gateway_process(gateway.config_path, port)
        relay.wait(2 * COUNT, timeout=60)   # within a minute of the restart, not at the next retry
        stop_when_all_sent(tmp_path, again)
        seen = arrived(relay)
        assert len(seen) == 2 * COUNT and set(seen.values()) == {1}, seen.most_common(3)
    finally:
        relay.stop()


def test_mail_deferred_while_the_relay_was_down_goes_at_once_when_it_answers_again(tmp_path, gateway_process):
    relay = Relay()
    gateway, port = start(tmp_path, gateway_process, relay.port, relay={"retry_delays": "1, 600"})
    for n in range(3):
        send(port, resident_mail(sender=f"r{n}@example.net", message_id=f"<back{n}@example.net>"), f"r{n}@example.net")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where attempts >= 2") == [(6,)], 60,
             what="every message tried twice, its next try ten minutes away")
    relay.start()
    try:
        send(port, resident_mail(sender="late@example.net", message_id="<late@example.net>"), "late@example.net")
        relay.wait(8, timeout=30)   # the new message goes, and with it every one that waited for the relay
        stop_when_all_sent(tmp_path, gateway)
        seen = arrived(relay)
        assert len(seen) == 8 and set(seen.values()) == {1}, seen.most_common(3)
    finally:
        relay.stop()


def test_a_pipeline_process_restarted_takes_back_at_once_what_the_dead_one_held(tmp_path, gateway_process, relay):
    from tests.integration.test_daemon import pipeline_children

    gateway, port = start(tmp_path, gateway_process, relay.port, trust={"dns_timeout_seconds": "5"},
                          worker={"lease_seconds": "300", "poll_seconds": "0.2", "delivery_workers": "2"})
    wait_for(lambda: len(pipeline_children(gateway.proc.pid)) == 1, what="the pipeline process")
    first = pipeline_children(gateway.proc.pid)[0]
    # Its sender's DNS never answers: the pipeline process holds the message while it waits.
    send(port, resident_mail(sender="Sam <sam@silent.example>", message_id="<held@silent.example>"),
         "sam@silent.example")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where lease_owner is not null") == [(1,)], 20,
             what="the pipeline process holding the message")
    os.kill(first, signal.SIGKILL)
    relay.wait(2, timeout=60)   # the next one takes it at once, not after lease_seconds
    assert sorted(rcpts[0] for _, rcpts, _ in relay.received) == ["hightown.npt@police.example", "sam@silent.example"]
    assert "took back 1 stored message(s) from this daemon's pipeline process before" in gateway.log_text()
    assert gateway.stop() == 0
