"""Issue 23, erasure leaves traces: after `gateway erase`, the officers' messages and held
mail on the resident's cases stayed (off the case), holding its subject and the officer's
words to her; the spool's .eml files naming her stayed; and the log held her address. Now
every message on her cases goes, whoever wrote it, and every spool file naming her or one
of her cases; and the log shows addresses hashed unless told otherwise."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from gateway.runtime.outbound import Deliverer
from tests.helpers import db_rows, resident_mail, signed, wait_for
from tests.integration.privacy.test_privacy import ANN, BOB, _address_anywhere
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send, start

pytestmark = pytest.mark.database
SUBJECT, HER_WORDS = "bikes on the pavement", "they ride on the pavement"
ANSWER, HELD = "patrol elm street on friday", "spoken to the school caretaker"


def _text(raw: bytes) -> str:
    """A message's headers and every text part, decoded, lower-cased: what a reader sees."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = [str(value) for _, value in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
        elif part.get_content_type() == "message/rfc822":
            parts.append(_text(part.get_payload(0).as_bytes()))
    return "\n".join(parts).lower()


def _in_database(folder: Path, text: str) -> list[str]:
    """Where the words are still held: the database files' bytes (or PostgreSQL's rows), and
    the stored messages read as a person would (a base64 body hides words from a byte search)."""
    found = _address_anywhere(folder, text)
    for table in ("inbound", "outbound"):
        found += [f"{table} {row_id}" for row_id, raw in db_rows(folder, f"SELECT id, raw FROM {table}")
                  if raw and text in _text(bytes(raw))]
    return found


def _in_spool(spool: Path, text: str) -> list[str]:
    return [p.name for p in sorted(spool.glob("*.eml"))
            if text.encode() in p.read_bytes().lower() or text in _text(p.read_bytes())]


def _her_case_answered_and_held_then_spooled(harness) -> Path:
    """Ann's case SRG-2026-0001, which PC Jones answers (signed) and writes to again unsigned
    (held), and into which Bob replies (held); Bob's own case SRG-2026-0002; all delivered
    into the spool (no relay)."""
    harness.submit(resident_mail())
    forward = harness.outbox("team_new_case")[0]
    ack = harness.outbox("resident_ack")[0]
    answer = resident_mail(subject="Re: " + forward["Subject"], body="Dear Ann, we will patrol Elm Street on Friday.",
                           sender="PC Jones <pc.jones@police.example>", to=forward["Reply-To"],
                           message_id="<o1@police.example>")
    harness.submit(signed(answer), rcpt_tos=[forward["Reply-To"]])
    unsigned = resident_mail(subject="Re: " + forward["Subject"], body="We have spoken to the school caretaker.",
                             sender="PC Jones <pc.jones@police.example>", to=forward["Reply-To"],
                             message_id="<o2@police.example>")
    harness.submit(unsigned, rcpt_tos=[forward["Reply-To"]])
    harness.submit(resident_mail(subject="Re: " + ack["Subject"], sender=f"Bob <{BOB}>", body="I saw them too.",
                                 message_id="<b1@example.com>", In_Reply_To=ack["Message-ID"]))
    harness.submit(resident_mail(subject="Loud music", sender=f"Bob <{BOB}>", body="Every night at two.",
                                 message_id="<b2@example.com>"))
    deliverer = Deliverer(harness.settings, harness.clock, "test")
    while deliverer.deliver_one():
        pass
    return harness.settings.spool


def test_erasure_leaves_nothing_of_her_case_in_the_database_or_the_spool(harness):
    spool = _her_case_answered_and_held_then_spooled(harness)
    folder, path = harness.settings.path.parent, str(harness.settings.path)
    for words in (ANN, SUBJECT, HER_WORDS, ANSWER, HELD):
        assert _in_database(folder, words) and _in_spool(spool, words), words
    assert len(_in_spool(spool, "srg-2026-0002")) == 2
    erased = gateway("--config", path, "erase", "--resident", ANN, "--yes")
    assert erased.returncode == 0, erased.stderr
    gone = (ANN, SUBJECT, HER_WORDS, ANSWER, HELD, "i saw them too")
    assert {words: _in_database(folder, words) for words in gone} == {words: [] for words in gone}
    assert {words: _in_spool(spool, words) for words in gone} == {words: [] for words in gone}
    out = erased.stdout
    assert "Erased ann@example.net: 1 case(s)" in out
    assert "message(s) others wrote on them or about them" in out and "file(s) from the spool" in out
    # Bob's own case, and the mail about it, are untouched.
    assert db_rows(folder, 'SELECT reference, subject FROM "case"') == [("SRG-2026-0002", "Loud music")]
    assert len(_in_spool(spool, "srg-2026-0002")) == 2   # the team's copy and his acknowledgement


def test_the_log_does_not_hold_a_residents_address_by_default(tmp_path, gateway_process):
    daemon, port = start(tmp_path, gateway_process, None)
    send(port, resident_mail())
    spool = tmp_path / "var" / "outbox"
    wait_for(lambda: spool.is_dir() and len(list(spool.glob("*.eml"))) >= 2, 20, what="the forward and the ack")
    assert daemon.stop() == 0
    log = daemon.log_text()
    assert "resident_ack) delivered to addr-" in log   # she is still followed, by a stable stand-in
    assert ANN not in log.lower()
