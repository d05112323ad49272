"""The daemon as a subprocess, over real loopback SMTP: a resident's mail in, a relay out."""

from __future__ import annotations

import fcntl
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Relay
from tests.helpers import db_rows, free_port, resident_mail, signed, wait_for, write_config

pytestmark = pytest.mark.database


def start(tmp_path, gateway_process, relay_port: int | None, **sections):
    port = free_port()
    sections.setdefault("smtp", {})["listen"] = f"127.0.0.1:{port}"
    if relay_port:
        sections.setdefault("relay", {}).update(host="127.0.0.1", port=str(relay_port))
    path = write_config(tmp_path, **sections)
    return gateway_process(path, port), port


def send(port: int, msg, sender: str = "ann@example.net", rcpts=("surgery@surgery.example.org",)):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.sendmail(sender, list(rcpts), msg if isinstance(msg, bytes) else msg.as_bytes())


def test_a_resident_message_reaches_the_team_and_the_resident_is_acknowledged(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail(body="Someone keeps dumping rubbish behind the shops on LL13 7AB.\n\nAnn"))
    relay.wait(2)
    forward, = relay.messages("hightown.npt@police.example")
    ack, = relay.messages("ann@example.net")

    assert forward["Subject"] == "[SRG-2026-0001] Bikes on the pavement"
    assert forward["Reply-To"].startswith("reply+srg-2026-0001-")
    text = forward.get_body(("plain",)).get_content()
    assert "Ann Resident <ann@example.net>" in text
    assert "dumping rubbish behind the shops" in text
    original, = forward.iter_attachments()
    assert original.get_content_type() == "message/rfc822"
    assert original.get_content()["Message-ID"] == "<a1@example.net>"

    assert ack["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert ack["Subject"] == "Re: Bikes on the pavement [SRG-2026-0001]"
    assert ack["In-Reply-To"] == "<a1@example.net>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Reply-To"] == forward["Reply-To"]
    body = ack.get_content()
    assert "Your case reference is SRG-2026-0001." in body
    assert "You can expect a response by " in body
    assert "dial 999 now" in body and "call 101" in body
    assert "police.example" not in ack.as_string()
    assert gateway.stop() == 0


def test_only_our_domain_is_accepted_and_size_is_limited(tmp_path, gateway_process):
    gateway, port = start(tmp_path, gateway_process, None, smtp={"max_message_bytes": "2048"})
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ann@example.net")
        code, reply = smtp.rcpt("victim@other.example")
        assert code == 550 and b"only for its own addresses" in reply
        code, _ = smtp.rcpt("nobody@surgery.example.org")
        assert code == 550
        smtp.rset()
        big = resident_mail(body="x" * 5000)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("ann@example.net", ["surgery@surgery.example.org"], big.as_bytes())
        assert refused.value.smtp_code == 552
    assert db_rows(tmp_path, "select count(*) from inbound") == [(0,)]


def test_a_storage_failure_answers_451_and_the_retry_is_kept(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    db_rows(tmp_path, "alter table inbound rename to inbound_away")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(port, resident_mail())
    assert refused.value.smtp_code == 451
    db_rows(tmp_path, "alter table inbound_away rename to inbound")
    send(port, resident_mail())
    relay.wait(2)
    assert db_rows(tmp_path, "select count(*), min(kind) from inbound") == [(1, "resident_new")]


def stop_when_all_sent(folder, daemon) -> None:
    """Wait until every outgoing message is marked sent, then stop the daemon: a second, wrong
    delivery can only come from a row not marked sent, so after this nothing more can arrive
    (a fixed sleep could not say that on a slow machine)."""
    wait_for(lambda: db_rows(folder, "select count(*) from outbound where state = 'queued'") == [(0,)], 30,
             what="every outgoing message marked sent")
    assert daemon.stop() == 0


def test_relay_down_then_back_delivers_everything_once(tmp_path, gateway_process):
    relay = Relay()
    gateway, port = start(tmp_path, gateway_process, relay.port)
    for n in range(3):
        send(port, resident_mail(message_id=f"<d{n}@example.net>", sender=f"r{n}@example.net"), f"r{n}@example.net")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where attempts > 0 and last_error is not null")
             == [(6,)], what="six failed first attempts")
    relay.start()
    try:
        relay.wait(6, timeout=20)
        stop_when_all_sent(tmp_path, gateway)   # and then a second, wrong delivery has shown itself
        assert len(relay.messages()) == 6
        assert sorted(m["To"].addresses[0].addr_spec for m in relay.messages()) == sorted(
            ["hightown.npt@police.example"] * 3 + [f"r{n}@example.net" for n in range(3)])
        assert db_rows(tmp_path, "select state, count(*) from outbound group by state") == [("sent", 6)]
    finally:
        relay.stop()


def test_kill_9_after_accepting_loses_nothing_and_doubles_nothing(tmp_path, gateway_process):
    relay = Relay()
    gateway, port = start(tmp_path, gateway_process, relay.port)
    count = 10
    for n in range(count):
        send(port, resident_mail(message_id=f"<k{n}@example.net>", sender=f"k{n}@example.net"), f"k{n}@example.net")
    gateway.stop(signal.SIGKILL)
    relay.start()
    try:
        again = gateway_process(gateway.config_path, port)
        relay.wait(2 * count, timeout=30)
        stop_when_all_sent(tmp_path, again)
        messages = relay.messages()
        assert len(messages) == 2 * count
        acks = sorted(m["In-Reply-To"] for m in messages if m["Auto-Submitted"] == "auto-replied")
        assert acks == sorted(f"<k{n}@example.net>" for n in range(count))
        forwarded = sorted(next(m.iter_attachments()).get_content()["Message-ID"]
                           for m in messages if m["Auto-Submitted"] is None)
        assert forwarded == acks
        assert db_rows(tmp_path, "select count(*) from \"case\"") == [(count,)]
    finally:
        relay.stop()


def test_automatic_mail_and_duplicates_over_smtp(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail(subject="Automatic reply: Out of office", Auto_Submitted="auto-replied",
                             message_id="<oof@example.net>"))
    send(port, resident_mail())
    send(port, resident_mail())  # the same Message-ID again
    relay.wait(2)
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(3,)],
             what="all three processed")
    time.sleep(0.5)
    assert len(relay.messages()) == 2
    assert db_rows(tmp_path, "select kind from inbound order by id") == [
        ("auto_reply",), ("resident_new",), ("duplicate",)]
    assert gateway.stop() == 0


def test_sigterm_stops_cleanly_and_a_restart_picks_up_stored_mail(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    assert gateway.stop(signal.SIGTERM) == 0
    with pytest.raises(OSError):
        send(port, resident_mail())
    config_path = tmp_path / "gateway.ini"
    eml = tmp_path / "first.eml"
    eml.write_bytes(resident_mail().as_bytes())
    injected = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config_path), "inject", str(eml)],
                              capture_output=True, text=True)
    assert injected.returncode == 0, injected.stderr
    assert "stored as inbound 1" in injected.stdout
    gateway_process(config_path, port)
    relay.wait(2)
    # Injected mail came over no connection, and is not signed: its sender is not verified,
    # so the acknowledgement does not repeat its subject (README, "How the gateway decides").
    assert {m["Subject"] for m in relay.messages()} == {
        "[SRG-2026-0001] Bikes on the pavement", "Re: Your message [SRG-2026-0001]"}


def test_an_officer_answers_by_pressing_reply_and_the_resident_hears_from_the_team(tmp_path, gateway_process, relay):
    from tests.unit.pipeline.test_officer import OUTLOOK_REPLY

    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    forward = relay.wait(2) and relay.messages("hightown.npt@police.example")[0]
    reply = resident_mail(body=OUTLOOK_REPLY.replace("#CMD\n", ""), sender="PC Jones <pc.jones@police.example>",
                          to=forward["Reply-To"], subject="RE: " + forward["Subject"],
                          message_id="<outlook-1@police.example>", In_Reply_To=forward["Message-ID"])
    reply = signed(reply)   # as police.example's own server signs its mail
    send(port, reply, sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])
    send(port, reply, sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])  # a second copy
    relay.wait(3)
    time.sleep(1)
    to_ann = relay.messages("ann@example.net")
    assert len(to_ann) == 2  # the acknowledgement and one answer
    answer = to_ann[1]
    assert answer["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert answer.get_content().startswith("Thank you for reporting this. We will patrol Hill Street this week.")
    assert "police.example" not in answer.as_string()
    assert db_rows(tmp_path, "select status from \"case\"") == [("answered",)]
    assert gateway.stop() == 0


def test_officers_over_smtp_spoof_note_subject_only_and_assign(tmp_path, gateway_process, relay):
    """The rest of an officer's life with a case, through the daemon's SMTP door and a relay."""
    gateway, port = start(tmp_path, gateway_process, relay.port,
                          gateway={"trusted_authserv_id": "mx.police.example"},
                          trust={"authserv_networks": "127.0.0.1/32"})
    send(port, resident_mail())
    forward = relay.wait(2) and relay.messages("hightown.npt@police.example")[0]
    vouched = {"Authentication_Results": "mx.police.example; dmarc=pass header.from=police.example"}

    def officer(body: str, n: int, to: str = forward["Reply-To"], **headers):
        msg = resident_mail(body=body, sender="PC Jones <pc.jones@police.example>", to=to,
                            subject="RE: " + forward["Subject"], message_id=f"<o{n}@police.example>", **headers)
        send(port, msg, sender="pc.jones@police.example", rcpts=[to])

    officer("I am PC Jones, honestly. Send me your address.", 1)             # spoofed: nobody vouches
    notice = relay.wait(3) and relay.messages("hightown.npt@police.example")[-1]
    assert notice["Subject"].startswith("[SRG-2026-0001] Held:")
    officer("#note\nSpoke to the council about the pavement.", 2, **vouched)
    # The reference in the subject is not enough for police mail: held, and the (vouched-for)
    # officer is told why; the same reply tied by our Message-ID in References goes through.
    officer("We have asked the council to put up signs.", 3, to="surgery@surgery.example.org", **vouched)
    told = wait_for(lambda: relay.messages("pc.jones@police.example"), 10, what="the note to the officer")
    assert "reference in its subject" in told[0].get_content()
    officer("We have asked the council to put up signs.", 5, to="surgery@surgery.example.org",
            References=forward["Message-ID"], **vouched)
    wait_for(lambda: len(relay.messages("ann@example.net")) >= 2, 10, what="the answer")
    answers = relay.messages("ann@example.net")[1:]
    assert [a.get_content().splitlines()[0] for a in answers] == ["We have asked the council to put up signs."]
    assert "Send me your address" not in "".join(m.as_string() for m in relay.messages("ann@example.net"))
    assert "Spoke to the council" not in "".join(m.as_string() for m in relay.messages("ann@example.net"))

    officer("#assign rhosddu\nThis is on your patch.", 4, **vouched)
    moved = wait_for(lambda: relay.messages("rhosddu.npt@police.example"), 10, what="the case at rhosddu")
    assert len(moved) == 1 and "SRG-2026-0001" in moved[0]["Subject"]
    assert db_rows(tmp_path, 'select team, status from "case"') == [("rhosddu", "answered")]
    events = [k for (k,) in db_rows(tmp_path, "select kind from case_event order by id")]
    assert "held" in events and "note" in events and "assigned" in events
    assert gateway.stop() == 0


def pipeline_children(pid: int) -> list[int]:
    """The daemon's pipeline process(es), by the name it gives itself."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "gw-pipeline":
                    found.append(int(child))
            except FileNotFoundError:
                pass
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_pipeline_process_is_restarted_if_it_dies_and_dies_with_the_daemon(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    wait_for(lambda: len(pipeline_children(gateway.proc.pid)) == 1, what="the pipeline process")
    first = pipeline_children(gateway.proc.pid)[0]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: pipeline_children(gateway.proc.pid) not in ([], [first]), timeout=15,
             what="a new pipeline process")
    assert "pipeline process exited unexpectedly (exit code -9); restarting it" in gateway.log_text()
    send(port, resident_mail())
    relay.wait(2, timeout=20)
    assert sorted(m["To"] for m in relay.messages()) == [
        "Ann Resident <ann@example.net>", "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"]
    second = pipeline_children(gateway.proc.pid)[0]
    gateway.stop(signal.SIGKILL)
    wait_for(lambda: not alive(second), timeout=10, what="the pipeline process to die with the daemon")


@pytest.mark.sqlite_only
def test_writers_in_other_processes_wait_on_the_lock_file(tmp_path):
    config = write_config(tmp_path, area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    assert subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), "init"],
                          capture_output=True).returncode == 0
    lock = open(tmp_path / "var" / "gateway.db-writer.lock", "rb")
    fcntl.flock(lock, fcntl.LOCK_EX)
    adding = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "subscribers", "add",
                               "ann@example.net", "--area", "hightown"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        time.sleep(3)
        assert adding.poll() is None, adding.stdout.read()   # waiting its turn, not failing
        fcntl.flock(lock, fcntl.LOCK_UN)
        output, _ = adding.communicate(timeout=30)
        assert adding.returncode == 0, output
    finally:
        adding.kill()
        lock.close()
    assert db_rows(tmp_path, "select address from subscriber") == [("ann@example.net",)]


def test_sigterm_to_the_pipeline_process_alone_stops_the_daemon_cleanly(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    child = wait_for(lambda: pipeline_children(gateway.proc.pid), what="the pipeline process")[0]
    os.kill(child, signal.SIGTERM)
    assert gateway.proc.wait(20) == 0
    log = gateway.log_text()
    assert "asked to stop" in log and "exited unexpectedly" not in log and "gateway stopped" in log


def test_status_lists_each_running_daemon_and_forgets_one_that_stopped(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    config_path = str(tmp_path / "gateway.ini")

    def status() -> str:
        return subprocess.run([sys.executable, "-m", "gateway", "--config", config_path, "status"],
                              capture_output=True, text=True).stdout

    shown = wait_for(lambda: f"pid {gateway.proc.pid}:" in status() and status(), 10, what="the daemon in status")
    assert "(running)" in shown and "last seen" in shown
    assert gateway.stop() == 0
    assert "daemon             none running" in status()
