"""Forged delivery reports and complaints change nobody's standing (over loopback SMTP).

A report may suppress or score an address only when it reaches a signed VERP bounce address
of ours whose outbound message went to that very address; anything else is kept and shown
(as a bounce in the inbound list) but suppresses no one."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
import email

import pytest

from tests.helpers import db_rows, resident_mail, wait_for
from tests.integration.test_daemon import send, start
from tests.unit.mail.test_bounces import dsn

pytestmark = pytest.mark.database

ANN, A1 = "ann@example.net", "a1@example.net"


def arf(to: str, complainant: str, message_id: str) -> bytes:
    """An abuse complaint (RFC 5965) as a mailbox provider's feedback loop writes one."""
    msg = EmailMessage()
    msg["From"] = "Feedback <feedback@arf.example.com>"
    msg["To"] = to
    msg["Subject"] = "FW: Bikes on the pavement"
    msg["Message-ID"] = message_id
    msg.set_content("This is an email abuse report.")
    msg.make_mixed()
    msg.replace_header("Content-Type", 'multipart/report; report-type=feedback-report; boundary="b2"')
    msg.attach(email.message_from_string(
        "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: Feedback/1.0\nVersion: 1\n"
        f"Original-Rcpt-To: {complainant}\n", policy=policy.default))
    return msg.as_bytes()


def forged_dsn(to: str, failed: str, n: int) -> bytes:
    return dsn(to, failed).replace(b"Message-ID: <dsn-", f"Message-ID: <forged{n}-".encode())


def handled(folder) -> int:
    """How many received messages the pipeline has finished with."""
    return db_rows(folder, "select count(*) from inbound where kind is not null")[0][0]


def test_forged_reports_and_complaints_suppress_no_one(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    forgeries = [
        (forged_dsn("surgery@surgery.example.org", ANN, 1), "", ["surgery@surgery.example.org"]),
        (forged_dsn("hightown@surgery.example.org", ANN, 2), "", ["hightown@surgery.example.org"]),
        (forged_dsn("bounces+2-aaaaaaaaaaaaaaaa@surgery.example.org", ANN, 3), "",
         ["bounces+2-aaaaaaaaaaaaaaaa@surgery.example.org"]),
        (arf("surgery@surgery.example.org", A1, "<arf1@arf.example.com>"), "feedback@arf.example.com",
         ["surgery@surgery.example.org"]),
    ]
    for raw, sender, rcpts in forgeries:
        send(port, raw, sender=sender, rcpts=rcpts)
    wait_for(lambda: handled(tmp_path) == len(forgeries), 15, what="the forged reports to be handled")
    assert db_rows(tmp_path, "select address from suppression") == []
    assert db_rows(tmp_path, "select kind from inbound") == [("bounce",)] * len(forgeries)   # kept and shown
    assert "nobody's standing changed" in gateway.log_text()

    # Both residents still hear from the gateway.
    send(port, resident_mail())
    send(port, resident_mail(sender=f"A One <{A1}>", message_id="<a1b@example.net>", subject="Noise"), sender=A1)
    wait_for(lambda: relay.messages(ANN) and relay.messages(A1), 15, what="both acknowledgements")
    assert gateway.stop() == 0


def test_a_signed_bounce_address_speaks_only_for_the_address_its_message_went_to(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    wait_for(lambda: relay.messages(ANN), 15, what="the acknowledgement")
    verp, = [sender for sender, rcpts, _ in list(relay.received) if rcpts == [ANN]]
    assert verp.startswith("bounces+")

    send(port, forged_dsn(verp, "bob@example.net", 1), sender="", rcpts=[verp])   # not the ack's recipient
    send(port, arf(verp, "bob@example.net", "<arf2@arf.example.com>"), sender="", rcpts=[verp])
    wait_for(lambda: handled(tmp_path) == 3, 15, what="the reports to be handled")
    assert db_rows(tmp_path, "select address from suppression") == []

    send(port, arf(verp, ANN, "<arf3@arf.example.com>"), sender="", rcpts=[verp])   # ann herself complains
    wait_for(lambda: db_rows(tmp_path, "select address, reason from suppression"), 15, what="the suppression")
    assert db_rows(tmp_path, "select address, reason from suppression") == [(ANN, "complaint")]
    assert gateway.stop() == 0
