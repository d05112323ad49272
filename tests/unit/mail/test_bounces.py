"""Delivery reports: who failed and for good; complaints; receipts are not bounces."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.db.models import CaseEvent, Outbound, Suppression
from gateway.mail.bounce_reasons import BECAUSE_OF_US
from gateway.mail.bounces import read
from tests.helpers import resident_mail

pytestmark = pytest.mark.database

DATA = Path(__file__).resolve().parents[2] / "data" / "bounces"


def test_reports_from_real_mail_servers():
    postfix = read((DATA / "postfix_01.txt").read_bytes())
    assert (postfix.kind, postfix.recipients, postfix.permanent) == ("bounce", ["xxxxx@local.ie"], True)
    free_text = read((DATA / "flufl_simple_01.txt").read_bytes())
    assert (free_text.kind, free_text.recipients) == ("bounce", ["bbbsss@example.com"])
    dsn = read((DATA / "dsn_multi_enmime.eml").read_bytes())
    assert dsn.kind == "bounce" and "arathib@vnet.ibm.com" in dsn.recipients and dsn.permanent
    complaint = read((DATA / "arf_yahoo.eml").read_bytes())
    assert (complaint.kind, complaint.recipients) == ("complaint", ["user@yahoo.com"])
    assert read((DATA / "mdn_mimekit.eml").read_bytes()).kind == "receipt"
    assert read(resident_mail().as_bytes()) is None
    assert read(b"\x00\xff" * 100) is None


def dsn(to: str, failed: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464)."""
    msg = EmailMessage()
    msg["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    msg["To"] = to
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Message-ID"] = f"<dsn-{failed}-{status}@mx.example.net>"
    msg.set_content(f"I'm sorry to have to inform you that your message could not be delivered.\n\n<{failed}>: "
                    "host mx.example.net said: 550 5.1.1 User unknown")
    msg.make_mixed()
    msg.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b1"')
    status_part = email.message_from_string(
        f"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; {failed}\nAction: {action}\nStatus: {status}\n", policy=policy.default)
    msg.attach(status_part)
    return msg.as_bytes()


def test_a_bounced_answer_tells_the_team_suppresses_and_marks_the_delivery_failed(harness):
    from gateway.runtime.outbound import Deliverer
    from tests.unit.pipeline.test_officer import officer_reply

    harness.submit(resident_mail())
    officer_reply(harness, "We will patrol on Friday.")
    answer = Outbound.get(Outbound.purpose == "resident_answer")
    verp = Deliverer(harness.settings, harness.clock, "t").return_path(answer)
    assert verp.startswith(f"bounces+{answer.id}-") and verp.endswith("@surgery.example.org")

    harness.submit(dsn(verp, "ann@example.net"), mail_from="", rcpt_tos=[verp])
    notice, = harness.outbox("team_bounce")
    assert "hightown.npt@police.example" in notice["To"]
    assert notice["Subject"].startswith("[SRG-2026-0001] Undeliverable to the resident")
    assert "could not deliver your answer" in notice.get_body(("plain",)).get_content()
    assert Outbound.get_by_id(answer.id).state == "failed"
    assert Suppression.get().address == "ann@example.net"
    assert CaseEvent.select().where(CaseEvent.kind == "bounce").count() == 1

    harness.submit(resident_mail(message_id="<again@x>", subject="Another matter"))
    assert len(harness.outbox("resident_ack")) == 1  # only the first case's
    assert CaseEvent.select().where(CaseEvent.kind == "not_acknowledged").count() == 1


def test_a_delay_is_recorded_and_suppresses_nothing(harness):
    harness.submit(resident_mail())
    ack = Outbound.get(Outbound.purpose == "resident_ack")
    from gateway.runtime.outbound import Deliverer
    verp = Deliverer(harness.settings, harness.clock, "t").return_path(ack)
    harness.submit(dsn(verp, "ann@example.net", "4.4.1", "delayed"), mail_from="", rcpt_tos=[verp])
    assert Suppression.select().count() == 0 and harness.outbox("team_bounce") == []
    assert CaseEvent.select().where(CaseEvent.kind == "delay").count() == 1


import pytest  # noqa: E402

from gateway.mail import bounces as bounce_reader  # noqa: E402


@pytest.mark.parametrize("status, diagnostic, reason, suppress", [
    ("5.1.1", "smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown", "user_unknown", True),
    ("5.4.4", "smtp; 550 Host or domain name not found. Name service error", "domain_unknown", True),
    ("5.2.1", "smtp; 550 5.2.1 The email account that you tried to reach is disabled", "mailbox_disabled", True),
    ("5.2.2", "smtp; 552 5.2.2 The email account that you tried to reach is over quota", "mailbox_full", False),
    ("5.7.1", "smtp; 550 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using Spamhaus", "reputation",
     False),
    ("5.7.26", "smtp; 550 5.7.26 This mail is unauthenticated, which poses a security risk (DMARC)", "authentication",
     False),
    ("5.7.1", "smtp; 554 5.7.1 Message rejected as spam by Content Filtering", "spam", False),
    ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit", "too_big", False),
    ("4.7.28", "smtp; 421 4.7.28 Our system has detected an unusual rate of unsolicited mail", "spam", False),
    ("5.7.1", "smtp; 550 5.7.1 Relaying denied by policy", "policy", False),
    ("5.0.0", "smtp; 550 Requested action not taken", "unknown", False),   # says nothing: scored, not suppressed
])
def test_a_report_says_why_and_only_a_gone_address_is_suppressed(status, diagnostic, reason, suppress):
    raw = dsn("bounces+1-aaaaaaaaaaaaaaaa@surgery.example.org", "ann@example.net", status=status)
    raw = raw.replace(f"Status: {status}".encode(), f"Status: {status}\nDiagnostic-Code: {diagnostic}".encode())
    raw = raw.replace(b"550 5.1.1 User unknown", diagnostic.split("; ", 1)[1].encode())   # the text says it too
    report = bounce_reader.read(raw)
    assert (report.reason, report.address_is_dead) == (reason, suppress)


def test_refusals_because_of_us_tell_the_administrators_once_an_hour_and_soft_ones_are_counted(make_harness):
    from gateway import db
    from gateway.db.models import Outbound, Suppression
    from tests.unit.pipeline.test_officer import officer_reply

    harness = make_harness(gateway={"admin_address": "it@police.example"})
    harness.submit(resident_mail())
    officer_reply(harness, "We will patrol on Friday.")
    answer = Outbound.get(Outbound.purpose == "resident_answer")
    verp = Deliverer(harness.settings, harness.clock, "t").return_path(answer)
    blocked = dsn(verp, "ann@example.net", status="5.7.1").replace(
        b"Status: 5.7.1", b"Status: 5.7.1\nDiagnostic-Code: smtp; 550 5.7.1 blocked using Spamhaus")
    harness.submit(blocked, mail_from="", rcpt_tos=[verp])
    harness.submit(blocked.replace(b"Message-ID: <", b"Message-ID: <again"), mail_from="", rcpt_tos=[verp])
    notices = harness.outbox("admin_reputation")
    assert len(notices) == 1 and notices[0]["To"] == "it@police.example"
    assert "not the resident" in notices[0].get_body(("plain",)).get_content()
    assert Suppression.select().count() == 0
    assert db.intake.bounce_reasons_since(harness.clock.now() - __import__("datetime").timedelta(hours=1), BECAUSE_OF_US) == {"reputation": 2}
    for day in range(6):   # a full mailbox, day after day: suppressed only after repeated soft failures
        harness.clock.advance(86400)
        assert db.people.count_soft_bounce("full@example.net", harness.clock.now()) == (day >= 4)



def test_a_permanent_failure_that_gives_no_reason_is_scored_never_suppressed_at_once(harness):
    from gateway import db
    from gateway.db.models import Outbound, Suppression

    harness.submit(resident_mail())
    ack = Outbound.get(Outbound.purpose == "resident_ack")
    verp = Deliverer(harness.settings, harness.clock, "t").return_path(ack)
    bare = dsn(verp, "ann@example.net", status="5.0.0").replace(
        b"Status: 5.0.0", b"Status: 5.0.0\nDiagnostic-Code: smtp; 550 Requested action not taken").replace(
        b"550 5.1.1 User unknown", b"550 Requested action not taken")
    harness.submit(bare, mail_from="", rcpt_tos=[verp])
    assert Suppression.select().count() == 0
    assert db.intake.bounce_reasons_since(harness.clock.now() - __import__("datetime").timedelta(hours=1),
                                          ("unknown",)) == {"unknown": 1}
    assert db.people.count_soft_bounce("ann@example.net", harness.clock.now()) is False   # counted: a second one


from gateway.runtime.outbound import Deliverer  # noqa: E402
