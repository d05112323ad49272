"""Alert bulletins end to end: the daemon over loopback SMTP and HTTP, the CLI, a relay."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.helpers import db_rows, free_port, resident_mail, signed, wait_for, write_config
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send
import pytest

pytestmark = pytest.mark.database

AREAS = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
         "area__rhosddu": {"name": "Rhosddu", "team": "rhosddu", "postcodes": "LL11 2"}}


def start(tmp_path, gateway_process, relay_port: int, **sections):
    smtp_port, http_port = free_port(), free_port()
    path = write_config(tmp_path, **AREAS, smtp={"listen": f"127.0.0.1:{smtp_port}"},
                        relay={"host": "127.0.0.1", "port": str(relay_port)},
                        http={"listen": f"127.0.0.1:{http_port}", "base_url": f"http://127.0.0.1:{http_port}"},
                        **sections)
    return gateway_process(path, smtp_port), smtp_port, http_port, path


def to(relay, address: str, purpose_header: str | None = None):
    return [m for m in relay.messages(address) if purpose_header is None or purpose_header in m["Subject"]]


def subscribe(port: int, relay, address: str, area_text: str, confirm: bool = True) -> None:
    send(port, resident_mail(to="alerts@surgery.example.org", sender=address, subject="Alerts",
                             body=area_text, message_id=f"<sub-{address}>"),
         sender=address, rcpts=["alerts@surgery.example.org"])
    request = wait_for(lambda: to(relay, address, "Please confirm"), 10, what=f"a confirmation request to {address}")[0]
    if confirm:
        send(port, resident_mail(to=request["Reply-To"], sender=address, subject="Re: " + request["Subject"],
                                 body="", message_id=f"<conf-{address}>"), sender=address, rcpts=[request["Reply-To"]])
        wait_for(lambda: to(relay, address, "You will now receive"), 10, what=f"the welcome to {address}")


def send_bulletin(path, tmp_path, subject: str, body: str = "Lock your cars tonight.", area: str = "hightown"):
    body_file = tmp_path / "bulletin.txt"
    body_file.write_text(body)
    return gateway("--config", str(path), "bulletin", "send", "--area", area, "--subject", subject,
                   "--body", str(body_file), "--yes")


def test_subscribe_confirm_receive_and_unsubscribe_by_mail_and_by_one_click(tmp_path, gateway_process, relay):
    daemon, port, http_port, path = start(tmp_path, gateway_process, relay.port)
    for address in ("ann@example.net", "carol@example.net", "dave@example.net"):
        subscribe(port, relay, address, "Hightown please")
    subscribe(port, relay, "bob@example.net", "Hightown please", confirm=False)  # never confirms

    dry = gateway("--config", str(path), "bulletin", "send", "--area", "hightown", "--subject", "x",
                  "--body", str(tmp_path / "gateway.ini"), "--dry-run")
    assert dry.returncode == 0 and "3 recipient(s)" in dry.stdout and "Dry run" in dry.stdout
    first = send_bulletin(path, tmp_path, "Car crime on Hill Street")
    assert first.returncode == 0, first.stderr
    assert "Bulletin 1: 3 queued, 0 suppressed skipped" in first.stdout
    wait_for(lambda: all(to(relay, a, "Car crime") for a in ("ann@example.net", "carol@example.net",
                                                             "dave@example.net")), 15, what="three copies")
    assert to(relay, "bob@example.net", "Car crime") == []
    copy = to(relay, "ann@example.net", "Car crime")[0]
    assert copy["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert (copy["Precedence"], copy["Auto-Submitted"]) == ("bulk", "auto-generated")
    assert copy["List-Id"] == "Hightown alerts <hightown.alerts.surgery.example.org>"
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url, mailto = [p.strip(" <>") for p in copy["List-Unsubscribe"].split(",")]
    assert "Lock your cars tonight." in copy.get_content()

    # Ann: one-click, as a mail provider does it (RFC 8058). A GET alone changes nothing.
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200 and b"Unsubscribe</button>" in page.read()
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as page:
        assert page.status == 200 and b"You are unsubscribed" in page.read()
    forged = url.rsplit("-", 1)[0] + "-aaaaaaaaaaaaaaaa"
    try:
        urllib.request.urlopen(urllib.request.Request(forged, data=b"", method="POST"), timeout=10)
        raise AssertionError("a forged token was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 404

    # Carol: by mail to her own unsubscribe address.
    carol_copy = to(relay, "carol@example.net", "Car crime")[0]
    carol_unsub = carol_copy["List-Unsubscribe"].split("mailto:")[1].split("?")[0]
    send(port, resident_mail(to=carol_unsub, sender="carol@example.net", subject="unsubscribe", body="",
                             message_id="<unsub-carol@x>"), sender="carol@example.net", rcpts=[carol_unsub])
    wait_for(lambda: to(relay, "carol@example.net", "no more community alerts"), 10, what="carol's confirmation")

    second = send_bulletin(path, tmp_path, "Second alert")
    assert second.returncode == 0 and "1 queued" in second.stdout
    wait_for(lambda: to(relay, "dave@example.net", "Second alert"), 15, what="dave's second copy")
    time.sleep(1)
    for address in ("ann@example.net", "carol@example.net", "bob@example.net"):
        assert to(relay, address, "Second alert") == []
    status = gateway("--config", str(path), "bulletin", "status", "2", "--no-watch")
    assert "recipients 1  queued 0  sent 1  failed 0" in status.stdout
    listed = gateway("--config", str(path), "bulletin", "list")
    assert "sent 3/3" in listed.stdout and "sent 1/1" in listed.stdout
    assert daemon.stop() == 0


def test_an_officers_emailed_bulletin_needs_the_confirming_reply_and_a_strangers_is_refused(
        tmp_path, gateway_process, relay):
    daemon, port, _, path = start(tmp_path, gateway_process, relay.port)
    subscribe(port, relay, "ann@example.net", "LL13 7AB")
    stranger = resident_mail(to="bulletin+hightown@surgery.example.org", sender="mallory@example.com",
                             subject="Send money to", message_id="<m@x>")
    send(port, stranger, sender="mallory@example.com", rcpts=["bulletin+hightown@surgery.example.org"])
    officer = resident_mail(to="bulletin+hightown@surgery.example.org", sender="PC Jones <pc.jones@police.example>",
                            subject="Sheds broken into", body="Please lock your sheds.\n\n-- \nPC Jones",
                            message_id="<b1@police.example>")
    send(port, signed(officer), sender="pc.jones@police.example", rcpts=["bulletin+hightown@surgery.example.org"])
    preview = wait_for(lambda: to(relay, "pc.jones@police.example", "Preview"), 10, what="the preview")[0]
    time.sleep(1)
    assert to(relay, "ann@example.net", "Sheds") == [] and to(relay, "mallory@example.com") == []
    send(port, signed(resident_mail(to=preview["Reply-To"], sender="PC Jones <pc.jones@police.example>",
                                    subject="Re: " + preview["Subject"], message_id="<b2@police.example>")),
         sender="pc.jones@police.example", rcpts=[preview["Reply-To"]])
    copy = wait_for(lambda: to(relay, "ann@example.net", "Sheds broken into"), 15, what="the bulletin")[0]
    assert "Please lock your sheds." in copy.get_content() and "PC Jones" not in copy.get_content()
    assert len(to(relay, "ann@example.net", "Send money")) == 0
    assert daemon.stop() == 0


def write_subscribers(tmp_path, count: int) -> str:
    csv = tmp_path / "subscribers.csv"
    csv.write_text("address,name,areas\n" + "".join(f"r{n}@example.net,Resident {n},hightown\n"
                                                     for n in range(count)))
    return str(csv)


def test_a_fan_out_killed_midway_is_finished_by_the_daemon_once_each(tmp_path, gateway_process):
    dead_relay = free_port()  # nothing listens: deliveries wait for a retry, so only fan-out runs
    path = write_config(tmp_path, **AREAS, smtp={"listen": ""}, relay={"host": "127.0.0.1", "port": str(dead_relay)})
    assert gateway("--config", str(path), "init").returncode == 0
    imported = gateway("--config", str(path), "subscribers", "import", write_subscribers(tmp_path, 30000))
    assert imported.returncode == 0 and "30000 subscription(s) started" in imported.stdout
    (tmp_path / "b.txt").write_text("Road closed.")
    cli = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(path), "bulletin", "send",
                            "--area", "hightown", "--subject", "Road closed", "--body", str(tmp_path / "b.txt"),
                            "--yes"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where bulletin = 1")[0][0] >= 2000, 30,
             what="the first batch of the fan-out")
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    queued_at_kill = db_rows(tmp_path, "select count(*) from outbound where bulletin = 1")[0][0]
    assert 0 < queued_at_kill < 30000, "the fan-out finished before it could be interrupted"
    assert db_rows(tmp_path, "select state from bulletin") == [("enqueuing",)]

    daemon = gateway_process(path, None)
    wait_for(lambda: db_rows(tmp_path, "select state from bulletin") == [("queued",)], 60, what="the fan-out to finish")
    assert daemon.stop() == 0
    per_subscriber = db_rows(tmp_path, "select count(*), count(distinct subscriber) from outbound where bulletin = 1")
    assert per_subscriber == [(30000, 30000)]
    assert db_rows(tmp_path, "select recipients, skipped from bulletin") == [(30000, 0)]


def test_a_daemon_killed_while_delivering_a_bulletin_finishes_it_after_restart(tmp_path, gateway_process, relay):
    daemon, _, _, path = start(tmp_path, gateway_process, relay.port, worker={"lease_seconds": "2",
                                                                             "delivery_workers": "4"})
    assert gateway("--config", str(path), "subscribers", "import", write_subscribers(tmp_path, 600)).returncode == 0
    assert send_bulletin(path, tmp_path, "Flood warning").returncode == 0
    wait_for(lambda: len(relay.envelopes()) >= 100, 30, what="deliveries to start")
    daemon.stop(signal.SIGKILL)
    restarted = gateway_process(path, daemon.port)
    wait_for(lambda: len({r for _, rcpts in relay.envelopes() for r in rcpts}) >= 600, 60,
             what="every subscriber's copy")
    # Anything still to come would be a duplicate: it can only come from a row not yet marked
    # sent, so once none is left and the daemon has stopped, nothing more can arrive.
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where state = 'queued'") == [(0,)], 30,
             what="every copy marked sent")
    assert restarted.stop() == 0
    copies = collections.Counter(r for _, rcpts in relay.envelopes() for r in rcpts)
    assert set(copies) == {f"r{n}@example.net" for n in range(600)}
    # A copy the relay accepted just as the process died is sent again: at most one per worker.
    assert sum(copies.values()) - 600 <= 4, copies.most_common(5)
    status = gateway("--config", str(path), "bulletin", "status", "1", "--no-watch")
    assert "queued 0  sent 600" in status.stdout

