"""Issue 13: a hostile or careless sender never hurts another message. The SMTP door runs
in-process over a real socket, on the harness's database."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.inbound import smtp
from gateway.db.models import Inbound, Outbound
from tests.helpers import free_port, resident_mail

pytestmark = pytest.mark.database


@pytest.fixture
def door(harness):
    port = free_port()
    # 31 sessions at once from 127.0.0.1 below: more than [smtp] max_connections_per_client's 20
    settings = harness.settings.__class__(**{**harness.settings.__dict__, "smtp_listen": ("127.0.0.1", port),
                                             "max_connections_per_client": 50})
    controller = smtp.controller(settings, harness.clock, threading.Event())
    controller.start()
    yield port
    controller.stop()


def converse(port: int, lines: list[bytes]) -> list[bytes]:
    """Speak SMTP line by line as bytes (smtplib will not send what a hostile client sends);
    the reply to each line, and to the greeting first."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            text = b""
            while True:
                line = reader.readline()
                text += line
                if len(line) < 4 or line[3:4] != b"-":
                    return text

        replies.append(reply())
        for line in lines:
            sock.sendall(line + (b"" if line.endswith(b"\r\n.\r\n") else b"\r\n"))
            replies.append(reply())
    return replies


def message_lines(mail_from: bytes, rcpt: bytes = b"<surgery@surgery.example.org>", n: int = 0) -> list[bytes]:
    body = resident_mail(message_id=f"<h{n}@example.net>").as_bytes().replace(b"\n", b"\r\n")
    return [b"EHLO client.example.net", b"MAIL FROM:" + mail_from, b"RCPT TO:" + rcpt, b"DATA",
            body + b"\r\n.\r\n", b"QUIT"]


def test_postmaster_without_a_domain_is_accepted(door):
    replies = converse(door, [b"EHLO c.example.net", b"MAIL FROM:<a@example.net>", b"RCPT TO:<postmaster>", b"QUIT"])
    assert replies[3].startswith(b"250"), replies[3]
    replies = converse(door, [b"EHLO c.example.net", b"MAIL FROM:<a@example.net>", b"RCPT TO:<nobody>", b"QUIT"])
    assert replies[3].startswith(b"550")


def test_a_sender_address_that_is_not_utf8_is_stored_and_harms_no_one_else(door):
    bad = b"<j\xe9r\xf4me@example.net>"
    with ThreadPoolExecutor(31) as pool:
        outcomes = list(pool.map(lambda n: converse(door, message_lines(bad if n == 15 else b"<ann@example.net>", n=n)),
                                 range(31)))
    data_replies = [o[5] for o in outcomes]
    assert all(r.startswith(b"250") for n, r in enumerate(data_replies) if n != 15), data_replies
    assert data_replies[15][:1] in (b"2", b"5")   # stored, or refused by name: never a 451 for everyone
    assert Inbound.select().count() >= 30


class _Refusing:
    """A relay that refuses some recipients as real servers do, and keeps what it takes."""

    REFUSALS = {"gone@example.net": "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
                "blocked@example.net": "550 5.7.1 Message rejected as spam by Content Filtering"}

    def __init__(self):
        self.received = []

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.REFUSALS:
            return self.REFUSALS[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def relay_harness(make_harness, smtputf8: bool):
    from aiosmtpd.controller import Controller

    keep = _Refusing()
    port = free_port()
    controller = Controller(keep, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    harness = make_harness(relay={"host": "127.0.0.1", "port": str(port)})
    return harness, keep, controller


def deliver_and_digest(harness) -> None:
    """Deliver what is due, then let the pipeline read any report that made, twice over."""
    from gateway.runtime.outbound import Deliverer

    deliverer = Deliverer(harness.settings, harness.clock, "t")
    for _ in range(2):
        while deliverer.deliver_one():
            pass
        while harness.worker.process_one():
            pass
    deliverer.close()


@pytest.mark.parametrize("smtputf8", [True, False])
def test_an_internationalised_address_uses_smtputf8_or_fails_for_good_and_says_why(make_harness, smtputf8):
    from gateway.db.models import Suppression

    harness, keep, controller = relay_harness(make_harness, smtputf8)
    try:
        raw = ("From: Jérôme <jérôme@example.net>\r\nTo: surgery@surgery.example.org\r\nSubject: Bins\r\n"
               "Message-ID: <j1@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "The bins were not collected.\r\n").encode()
        harness.submit(raw, mail_from="jérôme@example.net")
        deliver_and_digest(harness)
    finally:
        controller.stop()
    ack = Outbound.get(Outbound.purpose == "resident_ack")
    if smtputf8:
        assert ack.state == "sent" and any("jérôme@example.net" in rcpts for _, rcpts in keep.received)
        return
    assert ack.state == "failed" and "does not offer SMTPUTF8" in ack.last_error
    notice = Outbound.get(Outbound.purpose == "team_bounce")   # the team can reach the resident another way
    assert notice.state == "sent" and "our acknowledgement" in bytes(notice.raw).decode()
    assert Suppression.select().count() == 0    # the address is not dead: our relay could not carry it
    assert Outbound.select().where(Outbound.state == "queued").count() == 0   # nothing stuck


def test_a_refusal_at_send_time_is_a_bounce_and_only_a_dead_address_is_suppressed(make_harness):
    from gateway.db.models import Suppression

    harness, keep, controller = relay_harness(make_harness, True)
    try:
        for n, address in enumerate(("gone@example.net", "blocked@example.net")):
            harness.submit(resident_mail(sender=address, message_id=f"<r{n}@example.net>", subject=f"Case {n}"))
        deliver_and_digest(harness)
    finally:
        controller.stop()
    failed = {r.rcpt_to: r.last_error for r in Outbound.select().where(Outbound.state == "failed")}
    assert set(failed) == {"gone@example.net", "blocked@example.net"}
    assert [s.address for s in Suppression.select()] == ["gone@example.net"]   # 5.1.1; not 5.7.1 (refused us)
    notices = [bytes(r.raw).decode() for r in Outbound.select().where(Outbound.purpose == "team_bounce")]
    assert len(notices) == 2 and any("blocked@example.net" in n for n in notices)


def test_flow_control_reads_the_backlog_off_the_event_loop(door, monkeypatch):
    import asyncio

    from gateway import db

    on_loop = []
    original = db.intake.backlog

    def recording(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)    # called from the event loop's own thread
        except RuntimeError:
            on_loop.append(False)
        return original(*args, **kwargs)

    monkeypatch.setattr(db.intake, "backlog", recording)
    replies = converse(door, message_lines(b"<ann@example.net>"))
    assert replies[2].startswith(b"250")
    assert on_loop and not any(on_loop)
