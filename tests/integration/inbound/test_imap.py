"""IMAP intake against a real Dovecot on loopback: the gateway reads a mailbox it was given."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest

from gateway.inbound.imap import ImapIntake
from gateway.db.models import Inbound
from tests.helpers import free_port, resident_mail, wait_for, write_config
from tests.helpers import db_rows
from tests.integration.test_daemon import send

pytestmark = pytest.mark.database


def mail(n: int, **kwargs) -> bytes:
    kwargs.setdefault("body", f"Report number {n}: the streetlight on Hill Street is out.")
    return resident_mail(message_id=f"<imap-{n}@example.net>", subject=f"Streetlight {n}", **kwargs).as_bytes()


def start_daemon(tmp_path, gateway_process, dovecot, relay, smtp_port: int | None = None, **imap):
    port = smtp_port or free_port()
    path = write_config(tmp_path, imap=dovecot.config(**imap), smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)})
    return gateway_process(path, port), port


def cases(tmp_path) -> list[tuple]:
    return db_rows(tmp_path, 'select reference, subject from "case" order by id')


def test_a_message_in_the_mailbox_becomes_a_case_and_moves_to_processed(tmp_path, gateway_process, dovecot, relay):
    dovecot.append(mail(1))
    gateway, _ = start_daemon(tmp_path, gateway_process, dovecot, relay)
    relay.wait(2)
    assert cases(tmp_path) == [("SRG-2026-0001", "Streetlight 1")]
    forward, = relay.messages("hightown.npt@police.example")
    assert "Report number 1: the streetlight on Hill Street is out." in forward.get_body(("plain",)).get_content()
    ack, = relay.messages("ann@example.net")
    assert "SRG-2026-0001" in ack.get_content()
    wait_for(lambda: dovecot.uids("Processed") and not dovecot.uids("INBOX"), 10, what="the move to Processed")
    assert len(dovecot.uids("Processed")) == 1
    assert db_rows(tmp_path, "select source, state from inbound") == [("imap", "done")]

    dovecot.append(mail(2))  # arrives while the gateway IDLEs
    relay.wait(4)
    assert [s for _, s in cases(tmp_path)] == ["Streetlight 1", "Streetlight 2"]
    assert gateway.stop() == 0


def test_dovecot_restarted_under_a_running_gateway_loses_nothing_and_doubles_nothing(
        tmp_path, gateway_process, dovecot, relay):
    gateway, smtp_port = start_daemon(tmp_path, gateway_process, dovecot, relay)
    dovecot.append(mail(1))
    relay.wait(2)
    dovecot.stop()
    # While IMAP is down the SMTP side goes on working.
    send(smtp_port, resident_mail(message_id="<smtp-1@example.net>", subject="By SMTP"))
    relay.wait(4)
    # The gateway has seen the mailbox gone (instead of a fixed 1.5 s for it to)
    wait_for(lambda: "trying again in" in gateway.log_text(), 15, what="the gateway to find IMAP down")
    dovecot.start()
    dovecot.append(*(mail(n) for n in range(2, 7)))
    wait_for(lambda: len(cases(tmp_path)) == 7, 30, what="seven cases")
    # A second case could only come from mail still in INBOX: once it is empty and the gateway
    # has stopped, nothing more can come (instead of a fixed 1 s for it to show)
    wait_for(lambda: not dovecot.uids("INBOX"), 10, what="INBOX to empty")
    assert gateway.stop() == 0
    assert sorted(s for _, s in cases(tmp_path)) == sorted(["By SMTP"] + [f"Streetlight {n}" for n in range(1, 7)])
    assert len(dovecot.uids("Processed")) == 6
    assert "IMAP connection to 127.0.0.1" in gateway.log_text() and "trying again in" in gateway.log_text()


class Crash(Exception):
    """The process dying between the commit and the move."""


def crash_after_storing(harness, dovecot, **imap) -> None:
    """Take the mailbox in, then die before anything is moved or flagged."""
    settings = harness.settings
    intake = ImapIntake(settings, harness.clock)

    def die(client, uids):
        raise Crash

    intake._finish = die
    from gateway.inbound.imap import connect
    client = connect(settings.imap)
    try:
        with pytest.raises(Crash):
            intake.drain(client, intake._select(client))
    finally:
        client.logout()


@pytest.mark.parametrize("done_folder", ["Processed", ""])
def test_killed_after_storing_and_before_moving_makes_no_second_case(make_harness, tmp_path, gateway_process,
                                                                     dovecot, relay, done_folder):
    dovecot.append(mail(1), mail(2))
    harness = make_harness(imap=dovecot.config(done_folder=done_folder))
    crash_after_storing(harness, dovecot)
    assert Inbound.select().count() == 2 and len(dovecot.uids("INBOX")) == 2  # stored, not moved

    gateway, _ = start_daemon(tmp_path, gateway_process, dovecot, relay, done_folder=done_folder)
    relay.wait(4)
    time.sleep(1.5)
    assert sorted(s for _, s in cases(tmp_path)) == ["Streetlight 1", "Streetlight 2"]
    assert len(relay.messages("hightown.npt@police.example")) == 2
    assert db_rows(tmp_path, "select count(*) from inbound") == [(2,)]
    if done_folder:
        assert dovecot.uids("INBOX") == [] and len(dovecot.uids("Processed")) == 2
    else:
        client = dovecot.client()
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["SEEN"])) == 2
        client.logout()
    assert gateway.stop() == 0


def test_a_message_already_read_in_a_mail_client_is_still_taken_in(make_harness, dovecot):
    dovecot.append(mail(1), flags=(b"\\Seen",))
    dovecot.append(mail(2))
    harness = make_harness(imap=dovecot.config())
    assert drain(harness) == 2
    assert dovecot.uids("INBOX") == [] and len(dovecot.uids("Processed")) == 2


def test_a_changed_uidvalidity_is_read_again_without_loss_or_duplicates(make_harness, dovecot):
    client = dovecot.client()
    client.create_folder("Surgery")
    client.logout()
    dovecot.append(mail(1), mail(2), folder="Surgery")
    harness = make_harness(imap=dovecot.config(folder="Surgery", done_folder=""))
    assert drain(harness) == 2
    # The folder is rebuilt (a migration, a restore): new UIDVALIDITY, the old mail plus one.
    client = dovecot.client()
    client.delete_folder("Surgery")
    client.create_folder("Surgery")
    client.logout()
    dovecot.append(mail(1), mail(2), mail(3), folder="Surgery")
    assert drain(harness) == 1
    assert sorted(i.message_id for i in Inbound.select()) == ["<imap-1@example.net>", "<imap-2@example.net>",
                                                               "<imap-3@example.net>"]


@contextlib.contextmanager
def reading(harness, caplog, level=logging.INFO):
    """The IMAP reader on its own thread, as the daemon runs it, stopped (and checked to have
    stopped) on the way out."""
    stop = threading.Event()
    with caplog.at_level(level):
        thread = threading.Thread(target=ImapIntake(harness.settings, harness.clock).run, args=(stop,))
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)
    assert not thread.is_alive()


def test_a_refused_login_is_logged_with_the_account_not_the_password(make_harness, dovecot, caplog):
    harness = make_harness(imap=dovecot.config(password="wrong-password-123"))
    with reading(harness, caplog, logging.DEBUG):
        wait_for(lambda: "login refused" in caplog.text, 10, what="the refusal in the log")
    refusals = [r.getMessage() for r in caplog.records if "login refused" in r.getMessage()]
    assert refusals and "account 'gw' at 127.0.0.1" in refusals[0] and "trying again in 1 s" in refusals[0]
    assert "wrong-password-123" not in caplog.text


def test_2000_messages_drain_completely(make_harness, dovecot):
    dovecot.append(*(mail(n) for n in range(2000)))
    harness = make_harness(imap=dovecot.config(batch_size="100"))
    assert drain(harness) == 2000
    assert dovecot.uids("INBOX") == [] and len(dovecot.uids("Processed")) == 2000
    assert Inbound.select().where(Inbound.source == "imap").count() == 2000


def drain(harness) -> int:
    from gateway.inbound.imap import connect

    intake = ImapIntake(harness.settings, harness.clock)
    client = connect(harness.settings.imap)
    try:
        return intake.drain(client, intake._select(client))
    finally:
        client.logout()


def test_imap_check_says_ok_or_what_is_wrong(tmp_path, dovecot):
    from tests.integration.test_cli import gateway

    dovecot.append(mail(1), mail(2))
    good = gateway("--config", str(write_config(tmp_path, imap=dovecot.config())), "imap", "check")
    assert good.returncode == 0, good.stderr
    assert f"OK. gw@127.0.0.1:{dovecot.port} (none): folder 'INBOX' holds 2 message(s)" in good.stdout
    bad = gateway("--config", str(write_config(tmp_path, imap=dovecot.config(password="nope"))), "imap", "check")
    assert bad.returncode == 2 and "login refused for account 'gw'" in bad.stderr and "nope" not in bad.stderr
    down = gateway("--config", str(write_config(tmp_path, imap=dovecot.config(port=str(free_port())))),
                   "imap", "check")
    assert down.returncode == 2 and "ConnectionRefusedError" in down.stderr
    none = gateway("--config", str(write_config(tmp_path)), "imap", "check")
    assert none.returncode == 2 and "no [imap] section" in none.stderr


def test_imap_config_problems_name_section_and_key(tmp_path):
    from tests.integration.test_cli import gateway

    path = write_config(tmp_path, imap={"host": "imap.example.org", "security": "none", "username": "",
                                        "password_file": "missing.secret", "idle": "perhaps"})
    result = gateway("--config", str(path), "check-config")
    assert result.returncode == 2
    for text in ("[imap] security: none sends the password in clear: only allowed for loopback",
                 "[imap] username: is required", "[imap] password_file: cannot read",
                 "[imap] idle: 'perhaps' is not yes or no"):
        assert text in result.stdout, result.stdout


def test_a_connection_lost_during_idle_is_noticed_at_once_not_at_the_next_poll(make_harness, dovecot, caplog):
    harness = make_harness(imap=dovecot.config(poll_seconds="600"))
    with reading(harness, caplog):
        wait_for(lambda: "IMAP: reading" in caplog.text, 10, what="the reader to start")
        time.sleep(0.5)  # into IDLE
        dovecot.stop()
        wait_for(lambda: "failed or lost" in caplog.text, 5, what="the lost connection to be noticed")
        dovecot.start()
        dovecot.append(mail(1))
        wait_for(lambda: Inbound.select().count() == 1, 15, what="the message after reconnecting")


def test_tls_and_starttls_verify_the_server_certificate(tmp_path, dovecot_tls):
    from tests.integration.test_cli import gateway

    dovecot_tls.append(mail(1))
    ca = str(dovecot_tls.ca_file)
    tls = dovecot_tls.config(security="tls", port=str(dovecot_tls.tls_port), ca_file=ca)
    result = gateway("--config", str(write_config(tmp_path, imap=tls)), "imap", "check")
    assert result.returncode == 0, result.stderr
    assert "(tls): folder 'INBOX' holds 1 message(s)" in result.stdout
    starttls = dovecot_tls.config(security="starttls", ca_file=ca)
    result = gateway("--config", str(write_config(tmp_path, imap=starttls)), "imap", "check")
    assert result.returncode == 0 and "(starttls)" in result.stdout, result.stderr
    untrusted = dovecot_tls.config(security="tls", port=str(dovecot_tls.tls_port))   # no ca_file
    result = gateway("--config", str(write_config(tmp_path, imap=untrusted)), "imap", "check")
    assert result.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in result.stderr
