"""Issue 23: nobody can use the gateway to bomb an address or a team's mailbox. The daemon
over loopback SMTP, a relay, and mail sent as an attacker would: thirty subscription requests
in a victim's name, thirty to alerts@, a mix of kinds, forty made-up reply signatures on one
case, and the same split between two daemons sharing one database."""

from __future__ import annotations

import socket
import time

import pytest

from tests.helpers import database_of, db_rows, free_port, resident_mail, wait_for, write_config
from tests.integration.alerts.test_bulletins import AREAS, start
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send

pytestmark = pytest.mark.database

VICTIM = "victim@example.net"
TEAM = "hightown.npt@police.example"


def handled(folder, count: int) -> None:
    """Wait until `count` messages have been through the pipeline and the outbox is empty."""
    wait_for(lambda: db_rows(folder, "select count(*) from inbound where state = 'done'") == [(count,)], 60,
             what=f"{count} messages handled")
    wait_for(lambda: db_rows(folder, "select count(*) from outbound where state = 'queued'") == [(0,)], 30,
             what="the outbox to empty")
    time.sleep(0.5)   # anything wrongly queued last would be at the relay by now


def bomb(port: int, to: str, count: int, body: str = "Alerts please", prefix: str = "b",
         sender: str = VICTIM) -> None:
    for n in range(count):
        send(port, resident_mail(to=to, sender=sender, subject="Alerts", body=body,
                                 message_id=f"<{prefix}{n}@attacker.example>"), sender=sender, rcpts=[to])


def test_thirty_subscription_requests_bring_the_victim_one_confirmation(tmp_path, gateway_process, relay):
    daemon, port, _, path = start(tmp_path, gateway_process, relay.port)
    bomb(port, "subscribe+hightown@surgery.example.org", 30)
    handled(tmp_path, 30)
    requests = relay.messages(VICTIM)
    assert [m["Subject"] for m in requests] == ["Please confirm: community alerts for Hightown"]
    listed = gateway("--config", str(path), "subscribers", "list")
    assert f"{VICTIM}\t\thightown:pending" in listed.stdout   # asked once, never confirmed
    assert daemon.stop() == 0


def test_thirty_mails_to_alerts_bring_at_most_three_replies_and_the_log_says_why(tmp_path, gateway_process,
                                                                                  relay):
    daemon, port, _, _ = start(tmp_path, gateway_process, relay.port, gateway={"log_addresses": "hash"})
    bomb(port, "alerts@surgery.example.org", 30, body="Send me everything")
    handled(tmp_path, 30)
    replies = relay.messages(VICTIM)
    assert len(replies) == 3 and all("Which area" in m["Subject"] for m in replies)
    assert daemon.stop() == 0
    log = daemon.log_text()
    assert log.count("already had 3 automatic replies in 24 hours") == 27
    assert VICTIM not in log


def test_a_mix_of_kinds_from_one_address_brings_three_automatic_replies_in_a_day(tmp_path, gateway_process, relay):
    daemon, port, _, path = start(tmp_path, gateway_process, relay.port)
    bomb(port, "surgery@surgery.example.org", 2, body="Bikes on the pavement near LL13 7AB.", prefix="case")
    bomb(port, "alerts@surgery.example.org", 1, body="Send me everything", prefix="noarea")
    bomb(port, "subscribe+rhosddu@surgery.example.org", 1, prefix="sub")
    bomb(port, "surgery@surgery.example.org", 1, body="And the rubbish on LL13 7AB.", prefix="late")
    handled(tmp_path, 5)
    subjects = [m["Subject"] for m in relay.messages(VICTIM)]
    assert len(subjects) == 3 and len([s for s in subjects if "[SRG-2026-000" in s]) == 2   # two acknowledgements
    assert "Which area would you like alerts for?" in subjects
    assert len([m for m in relay.messages(TEAM) if m["Subject"].startswith("[SRG-")]) == 3   # the team gets all
    trail = gateway("--config", str(path), "audit", "--case", "SRG-2026-0003")
    assert "not_acknowledged" in trail.stdout and "already had 3 automatic replies" in trail.stdout
    assert daemon.stop() == 0


def open_case(port: int, relay) -> str:
    """A resident's case; the tampered form of its signed reply address."""
    send(port, resident_mail(sender="Ann Resident <ann@example.net>", body="Bikes near LL13 7AB."))
    forward = wait_for(lambda: relay.messages(TEAM), 15, what="the team's copy")[0]
    assert forward["Reply-To"].startswith("reply+srg-2026-0001-")
    return forward["Reply-To"].rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa@surgery.example.org"


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def held_notices(relay) -> list:
    return [m for m in relay.messages(TEAM) if "Held:" in m["Subject"]]


def test_forty_made_up_signatures_on_a_case_give_its_team_one_notice_and_keep_every_message(
        tmp_path, gateway_process, relay):
    daemon, port, _, path = start(tmp_path, gateway_process, relay.port)
    tampered = open_case(port, relay)
    bomb(port, tampered, 40, body="Tell me the resident's address.", prefix="t", sender="mallory@example.com")
    handled(tmp_path, 41)
    notice, = held_notices(relay)
    assert "signature does not match" in notice.get_body(("plain",)).get_content()
    assert db_rows(tmp_path, "select count(*) from inbound i join \"case\" c on c.id = i.case_id "
                             "where i.kind = 'held' and c.reference = 'SRG-2026-0001'") == [(40,)]
    shown = gateway("--config", str(path), "case", "show", "SRG-2026-0001")
    assert shown.stdout.count("no notice again within the hour") == 39
    assert relay.messages("ann@example.net")[1:] == [] and relay.messages("mallory@example.com") == []
    assert daemon.stop() == 0


def test_two_daemons_on_one_database_count_together(tmp_path, gateway_process, relay, backend):
    """The attacks split between two daemons' SMTP doors: the limits hold for the pair."""
    if backend != "postgresql":
        pytest.skip("several daemons share a PostgreSQL database (README: One server or several)")
    ports = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        port = free_port()
        url = database_of(tmp_path / "a") if name == "b" else None   # b shares a's database
        path = write_config(folder, **AREAS, smtp={"listen": f"127.0.0.1:{port}"},
                            relay={"host": "127.0.0.1", "port": str(relay.port)},
                            gateway={"secret_file": str(tmp_path / "gateway.secret"),   # one cluster, one secret
                                     **({"database": url} if url else {})})
        # One at a time (the first makes the tables), each given time to boot on a busy machine;
        # the fixture stops both.
        gateway_process(path, None)
        wait_for(lambda: listening(port), 90, what=f"daemon {name} to listen")
        ports.append(port)
    tampered = open_case(ports[0], relay)
    for n in range(20):
        port = ports[n % 2]
        bomb(port, "subscribe+hightown@surgery.example.org", 1, prefix=f"s{n}-")
        bomb(port, "alerts@surgery.example.org", 1, body="Send me everything", prefix=f"a{n}-",
             sender="other@example.net")
        bomb(port, tampered, 1, prefix=f"t{n}-", sender="mallory@example.com")
    handled(tmp_path / "a", 61)
    assert len(relay.messages(VICTIM)) == 1
    assert len(relay.messages("other@example.net")) == 3
    assert len(held_notices(relay)) == 1
