"""Issue 15: two daemons on one PostgreSQL. Mail split between their SMTP ports, one daemon
killed with SIGKILL mid-way and started again, or PostgreSQL itself crashed and restarted:
every message that got a 250 has exactly one case, one forward and one acknowledgement
(a delivery the relay took just as a daemon died may go twice, as with one daemon), case
references are unique, and a 20,000-copy bulletin reaches each subscriber once."""

from __future__ import annotations

import collections
import signal
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Relay
from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config
from tests.servers import postgres

TEAM = "hightown.npt@police.example"


@pytest.fixture
def cluster_database():
    """A PostgreSQL of its own whose commits survive a crash (this file kills it)."""
    server = postgres.Postgres(durable=True).start()
    yield server
    server.remove()


def two_daemons(tmp_path, gateway_process, url: str, relay_port: int, **sections):
    daemons = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        port = free_port()
        # One secret file for the cluster (README, "One secret file for the cluster"): a makes it.
        path = write_config(folder, gateway={"database": url, "secret_file": str(tmp_path / "gateway.secret")},
                            smtp={"listen": f"127.0.0.1:{port}"},
                            relay={"host": "127.0.0.1", "port": str(relay_port), "retry_delays": "1, 1, 2"},
                            worker={"lease_seconds": "10", "poll_seconds": "0.2", "delivery_workers": "3"},
                            limits={"acks_per_hour": "0", "acks_per_sender_per_day": "0"}, **sections)
        daemons.append(gateway_process(path, port))
    return daemons


class Sender:
    """Sends numbered messages as a mail server would: a 4xx or a refused connection is
    tried again a little later; what got a 250 is remembered."""

    def __init__(self):
        self.accepted: set[int] = set()
        self.lock = threading.Lock()

    def send(self, port_of, n: int, deadline: float) -> None:
        msg = resident_mail(sender=f"r{n}@example.net", message_id=f"<m{n}@example.net>",
                            subject=f"Message {n}", body=f"Message number {n} about LL13 7AB.")
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", port_of(n), timeout=20) as smtp:
                    smtp.sendmail(f"r{n}@example.net", ["surgery@surgery.example.org"], msg.as_bytes())
                with self.lock:
                    self.accepted.add(n)
                return
            except (OSError, smtplib.SMTPException):
                time.sleep(0.3)


def burst(sender: Sender, ports: tuple[int, int], count: int, midway):
    """Send `count` messages split between two SMTP ports, eight at a time; once a third are
    accepted, do `midway()` (the fault); wait for the rest. What `midway` returned."""
    deadline = time.monotonic() + 240
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(sender.send, lambda n: ports[n % 2], n, deadline) for n in range(count)]
        wait_for(lambda: len(sender.accepted) >= count // 3, 120, what="a third of the mail accepted")
        result = midway()
        for future in futures:
            future.result()
    return result


def check_each_once(relay: Relay, folder, accepted: set[int], work_in_hand: int) -> None:
    addresses = {f"r{n}@example.net" for n in accepted}
    wait_for(lambda: addresses <= {rcpt for _, rcpts in relay.envelopes() for rcpt in rcpts}, 120,
             interval=0.5, what="every acknowledgement at the relay")
    wait_for(lambda: db_rows(folder, "select count(*) from outbound where state = 'queued'") == [(0,)], 60,
             what="the outbox to empty")
    time.sleep(1)
    cases = db_rows(folder, 'select resident_address, count(*) from "case" group by resident_address')
    assert {a for a, _ in cases} == addresses and all(n == 1 for _, n in cases), "one case per accepted message"
    references = db_rows(folder, 'select count(reference), count(distinct reference) from "case"')[0]
    assert references[0] == references[1] == len(accepted)
    acks = collections.Counter(r for _, rcpts in relay.envelopes() for r in rcpts if r != TEAM)
    forwards = collections.Counter(m["Subject"].split("]")[0] for _, rcpts, m in relay.received if TEAM in rcpts)
    assert set(acks) == addresses and len(forwards) == len(accepted)
    duplicates = sum(acks.values()) - len(acks) + sum(forwards.values()) - len(forwards)
    assert duplicates <= work_in_hand, (duplicates, acks.most_common(3), forwards.most_common(3))
    # Both daemons appended to one audit trail at once: it is still one unbroken chain, with
    # each case's opening recorded once (the work a killed daemon had in hand was rolled back).
    from tests.integration.test_cli import gateway

    verified = gateway("--config", str(folder / "gateway.ini"), "audit", "verify")
    assert verified.returncode == 0, verified.stderr[-2000:]
    opened = db_rows(folder, "select count(*), count(distinct case_ref) from audit where action = 'opened'")[0]
    assert opened[0] == opened[1] == len(accepted)


def test_two_daemons_one_killed_midway_each_message_once(tmp_path, gateway_process, cluster_database):
    relay = Relay().start()
    try:
        url = cluster_database.database()
        a, b = two_daemons(tmp_path, gateway_process, url, relay.port)
        sender, count = Sender(), 2000

        def kill_a():   # mid-way: some of A's mail stored, some in its pipeline, some being sent
            a.stop(signal.SIGKILL)
            time.sleep(1)
            return gateway_process(a.config_path, a.port)

        restarted = burst(sender, (a.port, b.port), count, kill_a)
        assert len(sender.accepted) == count
        # Work in hand when A died: a claimed pipeline batch is redone from scratch (no duplicates),
        # a delivery the relay took before A marked it sent is sent again: at most one per worker.
        check_each_once(relay, tmp_path / "a", sender.accepted, work_in_hand=3 * 8)
        from tests.integration.test_cli import gateway

        status = gateway("--config", str(b.config_path), "status").stdout
        daemons = [line for line in status.splitlines() if line.startswith("daemon ")]
        # The two running: restarted on the same host, A took back what the killed one held
        # (issue 25) and took its row away with it.
        assert len(daemons) == 2, status
        assert restarted.stop() == 0 and b.stop() == 0
    finally:
        relay.stop()


def test_postgresql_crashing_midway_loses_nothing_and_doubles_nothing(tmp_path, gateway_process,
                                                                       cluster_database):
    relay = Relay().start()
    try:
        url = cluster_database.database()
        a, b = two_daemons(tmp_path, gateway_process, url, relay.port)
        sender, count = Sender(), 600
        burst(sender, (a.port, b.port), count, cluster_database.restart)   # -m immediate: every connection cut
        assert len(sender.accepted) == count
        check_each_once(relay, tmp_path / "a", sender.accepted, work_in_hand=3 * 8)
        for daemon in (a, b):
            log = daemon.log_text()
            assert "database connection lost" in log or "database unavailable" in log
            assert daemon.proc.poll() is None, log[-3000:]
        assert a.stop() == 0 and b.stop() == 0
    finally:
        relay.stop()


def test_a_20000_copy_bulletin_reaches_each_subscriber_once_across_two_daemons(tmp_path, gateway_process,
                                                                                cluster_database):
    from tests.integration.test_cli import gateway

    relay = Relay().start()
    try:
        url = cluster_database.database()
        areas = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"}}
        a, b = two_daemons(tmp_path, gateway_process, url, relay.port, **areas)
        count = 20_000
        people = tmp_path / "people.csv"
        people.write_text("".join(f"s{n}@example.net,Resident {n},hightown\n" for n in range(count)))
        config = str(a.config_path)
        assert gateway("--config", config, "subscribers", "import", str(people)).returncode == 0
        body = tmp_path / "body.txt"
        body.write_text("Bikes have been stolen from sheds on the estate. Lock yours.")
        sent = gateway("--config", config, "bulletin", "send", "--area", "hightown", "--subject", "Shed thefts",
                       "--body", str(body), "--yes")
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: len(relay.envelopes()) >= count // 3, 120, what="a third of the bulletin delivered")
        b.stop(signal.SIGKILL)
        restarted = gateway_process(b.config_path, b.port)
        addresses = {f"s{n}@example.net" for n in range(count)}
        wait_for(lambda: addresses <= {r for _, rcpts in relay.envelopes() for r in rcpts}, 240, interval=0.5,
                 what="every copy delivered")
        wait_for(lambda: db_rows(tmp_path / "a", "select state from bulletin") == [("sent",)], 60,
                 what="the bulletin marked sent")
        copies = collections.Counter(r for _, rcpts in relay.envelopes() for r in rcpts)
        assert set(copies) == addresses
        assert sum(copies.values()) - count <= 3 * 50, copies.most_common(3)   # B's leased batches, at most
        assert db_rows(tmp_path / "a", "select count(*), count(distinct subscriber) from outbound "
                                       "where bulletin = 1") == [(count, count)]
        assert restarted.stop() == 0 and a.stop() == 0
    finally:
        relay.stop()


def test_while_postgresql_is_down_the_door_answers_451_and_nothing_is_lost(tmp_path, gateway_process,
                                                                          cluster_database, relay):
    url = cluster_database.database()
    port = free_port()
    path = write_config(tmp_path, gateway={"database": url}, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)})
    daemon = gateway_process(path, port)
    cluster_database.stop()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                smtp.sendmail("ann@example.net", ["surgery@surgery.example.org"], resident_mail().as_bytes())
        assert refused.value.smtp_code == 451
    finally:
        cluster_database.start_again()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:   # the client's retry, once it is back
        smtp.sendmail("ann@example.net", ["surgery@surgery.example.org"], resident_mail().as_bytes())
    relay.wait(2, timeout=30)
    assert db_rows(tmp_path, 'select count(*) from "case"') == [(1,)]
    assert "database connection lost" in daemon.log_text()
    assert daemon.stop() == 0
