"""[gateway] log_format and log_addresses: one line per event, addresses as asked, the
Message-ID kept whole (it looks like an address, and is not one)."""

from __future__ import annotations

import hashlib
import json
import logging

from gateway.logs import JsonFormatter, TextFormatter, about, address_hash

KEY = bytes(range(32))


def record(message: str, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("gateway.worker", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_the_case_and_message_id_and_hash_addresses():
    line = JsonFormatter("hash", "[pipeline]", KEY, "surgery.example.org").format(record(
        "inbound %s: from %s", 7, "Ann@Example.net", **about(inbound=7, case="SRG-2026-0001",
                                                              message_id="<a1@example.net>")))
    event = json.loads(line)
    assert event["event"] == f"inbound 7: from {address_hash('ann@example.net', KEY)}"
    assert (event["case"], event["inbound"], event["process"]) == ("SRG-2026-0001", 7, "pipeline")
    # A sender's Message-ID can be their address ("<a1@example.net>"): a stable keyed stand-in.
    assert event["message_id"].startswith("mid-") and "a1@example.net" not in line
    assert "\n" not in line


def test_text_lines_show_the_case_and_message_id_and_can_hide_addresses():
    text = TextFormatter("none", own_domain="surgery.example.org").format(record(
        "outbound %s delivered to %s", 3, "bob@example.com",
        **about(case="SRG-2026-0002", message_id="<x9@surgery.example.org>")))
    assert text.endswith("outbound 3 delivered to <address> [case SRG-2026-0002; message-id <x9@surgery.example.org>]")
    theirs = TextFormatter("none").format(record("inbound 4: resident_new", **about(message_id="<midp@example.net>")))
    assert theirs.endswith("[message-id <message-id>]")   # found by an independent attack: it was her address
    assert TextFormatter("full").format(record("to %s", "bob@example.com")).endswith("to bob@example.com")
    assert address_hash("Bob@Example.com", KEY) == address_hash("bob@example.com", KEY) != address_hash(
        "ann@example.net", KEY)


def test_a_hashed_address_cannot_be_confirmed_without_the_key():
    """The unkeyed hash anyone could compute from a guessed address is not what the log shows."""
    line = TextFormatter("hash", key=KEY).format(record("from %s", "ann@example.net"))
    unkeyed = "addr-" + hashlib.sha256(b"ann@example.net").hexdigest()[:10]
    assert address_hash("ann@example.net", KEY) in line and unkeyed not in line
    assert address_hash("ann@example.net", bytes(32)) not in line
    # No key, no hash at all: the address is hidden instead.
    assert TextFormatter("hash").format(record("from %s", "ann@example.net")).endswith("from <address>")


def test_a_line_break_from_a_sender_cannot_forge_a_second_line():
    text = TextFormatter().format(record("inbound 1: %s", "duplicate\n2026-12-01 INFO gateway: forged"))
    assert "\n" not in text and "duplicate\\n2026-12-01" in text
