"""Issue 23: a genuinely signed officer message sent again by someone who holds a copy. Each
replay an attacker got through is sent to the running daemon over loopback SMTP (the test
world's DNS serves the officer's DKIM key and p=reject DMARC; SPF fails from loopback, so
only the signature can speak for the officer): it is held, the team is told why, and nothing
reaches the resident. Genuine replies by each route are still relayed, exactly once."""

from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import threading
from email.utils import format_datetime

import dkim
import pytest

from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config
from tests.integration.test_daemon import send
from tests.servers.dns import SELECTOR, key_for

pytestmark = pytest.mark.database

TEAM = "hightown.npt@police.example"
# What Exchange Online signs (h=From:Date:Subject:Message-ID:Content-Type:MIME-Version:...): not
# To, Cc, In-Reply-To or References.
EXCHANGE = (b"From", b"Date", b"Subject", b"Message-ID", b"Content-Type", b"MIME-Version")
FULL = (b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"In-Reply-To", b"References", b"Content-Type",
        b"MIME-Version")
REPLAYED = "a replay of a message already acted on"


def daemon(tmp_path, gateway_process, relay, **sections) -> int:
    """`gateway run` on a free port, relaying to `relay`; its port once it listens (waited for
    up to a minute: on a busy machine Python alone can take more than the usual 15 s to start)."""
    port = free_port()
    sections.setdefault("smtp", {})["listen"] = f"127.0.0.1:{port}"
    sections.setdefault("relay", {}).update(host="127.0.0.1", port=str(relay.port))
    process = gateway_process(write_config(tmp_path, **sections), None)
    wait_for(lambda: process.proc.poll() is None and _listening(port), 60,
             what=f"the gateway to listen on port {port}")
    return port


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def settle(folder) -> None:
    """Wait until every message in has been handled and every message out has left."""
    wait_for(lambda: db_rows(folder, "SELECT count(*) FROM inbound WHERE state = 'queued'") == [(0,)]
             and db_rows(folder, "SELECT count(*) FROM outbound WHERE state = 'queued'") == [(0,)],
             120, what="the gateway to handle everything")


def open_case(folder, port, relay, sender="Ann Resident <ann@example.net>", message_id="<a1@example.net>",
              subject="Bikes on the pavement"):
    """A resident's first message; the team's forward of it (its Reply-To is the case's address)."""
    send(port, resident_mail(sender=sender, message_id=message_id, subject=subject),
         sender=sender.split("<")[1].rstrip(">"))
    settle(folder)
    return [m for m in relay.messages(TEAM) if subject in m["Subject"]][0]


def reply(forward, body: str, n: int, to: str | None = None, **headers) -> bytes:
    """PC Jones's reply to a forward, as his mail client writes it (not yet signed)."""
    msg = resident_mail(body=body, sender="PC Jones <pc.jones@police.example>", to=to or forward["Reply-To"],
                        message_id=f"<r{n}@police.example>", subject="RE: " + forward["Subject"],
                        Date=format_datetime(dt.datetime(2026, 12, 1, 10, n % 60, tzinfo=dt.timezone.utc)),
                        In_Reply_To=forward["Message-ID"], **headers)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signed(raw: bytes, over: tuple[bytes, ...] = FULL, length: bool = False) -> bytes:
    """Signed as police.example's server signs, over the headers `over` that are present."""
    present = [h for h in over if re.search(rb"(?im)^" + h + rb":", raw.split(b"\r\n\r\n")[0])]
    return dkim.sign(raw, SELECTOR.encode(), b"police.example", key_for("police.example"),
                     include_headers=present, length=length) + raw


def as_officer(port: int, raw: bytes, to: str) -> None:
    send(port, raw, sender="pc.jones@police.example", rcpts=[to])


def kinds(folder) -> list[str]:
    return [kind for (kind,) in db_rows(folder, "SELECT kind FROM inbound ORDER BY id")]


def answers(relay, resident: str = "ann@example.net", words: str = "") -> list[str]:
    """The texts the resident received from the team other than the acknowledgement."""
    texts = [m.get_body(("plain",)).get_content() for m in relay.messages(resident) if m["Auto-Submitted"] is None]
    return [t for t in texts if words in t]


def held_why(folder) -> str:
    """Why the newest message was held, as the case records it (a team hears of holds on one
    case once an hour: the reasons of the rest are on the case, not in its mailbox)."""
    return db_rows(folder, "SELECT error FROM inbound ORDER BY id DESC LIMIT 1")[0][0] or ""


def held_notices(relay) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in relay.messages(TEAM) if "] Held: " in m["Subject"]]


def status(folder, reference: str = "SRG-2026-0001") -> str:
    return db_rows(folder, 'SELECT status FROM "case" WHERE reference = ?', (reference,))[0][0]


# ---- the same case: a header added above the signed ones ---------------------------------

def test_a_signed_reply_sent_again_with_a_new_message_id_on_top_is_held(tmp_path, gateway_process, relay):
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    genuine = signed(reply(forward, "We will patrol on Friday.", 1))
    as_officer(port, genuine, forward["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path) == ["resident_new", "officer_reply"] and status(tmp_path) == "answered"
    as_officer(port, b"Message-ID: <again1@police.example>\r\n" + genuine, forward["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held"
    assert len(answers(relay, words="We will patrol on Friday.")) == 1
    why, = held_notices(relay)
    assert "it has 2 Message-ID headers, where a message may have only one" in why
    assert REPLAYED in why and "Nothing has been sent to the resident." in why


def test_a_close_sent_again_is_held_and_the_case_stays_open(tmp_path, gateway_process, relay):
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    genuine = signed(reply(forward, "#close\nWe have spoken to the riders.", 1))
    as_officer(port, genuine, forward["Reply-To"])
    settle(tmp_path)
    assert status(tmp_path) == "closed"
    ack = relay.messages("ann@example.net")[0]
    send(port, resident_mail(message_id="<a2@example.net>", to=ack["Reply-To"], subject="Re: " + ack["Subject"],
                             body="They are back again tonight."), rcpts=[ack["Reply-To"]])
    settle(tmp_path)
    assert status(tmp_path) == "open"   # the resident wrote again: the police owe a reply
    as_officer(port, b"Message-ID: <again2@police.example>\r\n" + genuine, forward["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and status(tmp_path) == "open"
    assert len(answers(relay, words="We have spoken to the riders.")) == 1
    assert REPLAYED in held_why(tmp_path)


ADDED = {"To": "someone@example.org", "Cc": "someone@example.org", "Subject": "RE: call 07700 900123",
         "In-Reply-To": "<other@example.org>", "References": "<other@example.org>",
         "Date": "Tue, 01 Dec 2026 11:00:00 +0000", "Sender": "someone@example.org", "Reply-To": "someone@example.org"}


def test_a_header_allowed_once_written_twice_is_held(tmp_path, gateway_process, relay):
    """Each header a message may have once, added a second time above a signed reply the
    gateway has not seen yet (each a reply of its own): which would a reader believe? Held,
    saying which."""
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    for n, (header, value) in enumerate(ADDED.items(), 1):
        genuine = signed(reply(forward, f"We will patrol on Friday ({n}).", n, Cc=TEAM,
                               Sender="pc.jones@police.example", Reply_To="pc.jones@police.example",
                               References=forward["Message-ID"]))
        as_officer(port, f"{header}: {value}\r\n".encode() + genuine, forward["Reply-To"])
        settle(tmp_path)
        assert kinds(tmp_path)[-1] == "held", header
        assert f"it has 2 {header} headers, where a message may have only one" in held_why(tmp_path)
    assert answers(relay) == []


# ---- another case: unsigned headers pointed elsewhere -----------------------------------

def test_an_exchange_signed_reply_pointed_at_another_case_is_held(tmp_path, gateway_process, relay):
    port = daemon(tmp_path, gateway_process, relay)
    ann = open_case(tmp_path, port, relay)
    bob = open_case(tmp_path, port, relay, sender="Bob <bob@example.net>", message_id="<b1@example.net>",
                    subject="Noise at night")
    genuine = signed(reply(ann, "Ann, we will patrol on Friday.", 1), over=EXCHANGE)
    retargeted = (genuine.replace(ann["Reply-To"].encode(), bob["Reply-To"].encode())
                  .replace(ann["Message-ID"].encode(), bob["Message-ID"].encode()))
    as_officer(port, retargeted, bob["Reply-To"])   # the copy gets there before the genuine one
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and answers(relay, "bob@example.net") == []
    why = held_notices(relay)[0]
    assert "case SRG-2026-0002" in why and "not covered by the sender's signature" in why
    as_officer(port, genuine, ann["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "officer_reply" and len(answers(relay, words="we will patrol on Friday")) == 1
    as_officer(port, retargeted, bob["Reply-To"])   # and after it
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and answers(relay, "bob@example.net") == []
    assert status(tmp_path, "SRG-2026-0002") == "open"


def test_an_exchange_signed_reply_is_relayed_once_and_the_same_bytes_again_are_held(tmp_path, gateway_process,
                                                                                     relay):
    """Tied by the reference in its subject alone (written to the team's address), which
    counts now that the signature covers the Subject."""
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    written = reply(forward, "We will patrol on Friday.", 1, to="hightown@surgery.example.org")
    genuine = signed(re.sub(rb"In-Reply-To: [^\r]*\r\n", b"", written), over=EXCHANGE)
    as_officer(port, genuine, "hightown@surgery.example.org")
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "officer_reply" and status(tmp_path) == "answered"
    as_officer(port, genuine, "hightown@surgery.example.org")
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and REPLAYED in held_notices(relay)[0]
    assert len(answers(relay, words="We will patrol on Friday.")) == 1


# ---- a body longer than the signature ------------------------------------------------------

def test_text_added_past_an_l_signature_is_held_and_a_whole_one_relayed(tmp_path, gateway_process, relay):
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    genuine = signed(reply(forward, "We will patrol on Friday.", 1), length=True)
    assert b"l=" in genuine.split(b"\r\n\r\n")[0]
    as_officer(port, genuine + b"Call 07700 900123 and pay the fine.\r\n", forward["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and answers(relay) == []
    why = held_notices(relay)[0]
    assert "covers only the first part of the text" in why
    as_officer(port, genuine, forward["Reply-To"])   # nothing past its length: the officer's own words
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "officer_reply"
    text, = answers(relay)
    assert "We will patrol on Friday." in text and "07700" not in text


# ---- how the signed text is read: an unsigned Content-Type (found by an independent attack) -

@pytest.mark.parametrize("content_type", ["message/rfc822", 'text/html; charset="utf-8"', 'text/plain; charset="utf-7"'])
def test_a_signature_that_does_not_cover_the_content_type_is_held(tmp_path, gateway_process, relay, content_type):
    """The same signed bytes read as an attachment, as HTML or in another charset say other
    things ("he was NOT arrested" vanishes): a copy with its Content-Type changed is held."""
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    written = reply(forward, "Warning: he was NOT arrested and may come back.\n\nWe will call you on Friday.", 1)
    genuine = signed(written, over=tuple(h for h in FULL if h != b"Content-Type"))
    changed = re.sub(rb"(?im)^Content-Type: [^\r]*", b"Content-Type: " + content_type.encode(), genuine, count=1)
    as_officer(port, changed, forward["Reply-To"])
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and answers(relay) == []
    assert "does not cover its Content-Type" in held_notices(relay)[0]


# ---- the signature's own value, written another way ---------------------------------------

def test_a_signature_written_another_way_is_still_the_same_signature(tmp_path, gateway_process, relay):
    """Signed without Message-ID, so a new one can be put in its place; and b= rewritten as
    s + n (the key's modulus added) or with a zero byte in front, which dkimpy still verifies."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    genuine = signed(reply(forward, "We will patrol on Friday.", 1),
                     over=(b"From", b"To", b"Subject", b"Date", b"Content-Type", b"MIME-Version"))
    as_officer(port, genuine, forward["Reply-To"])
    settle(tmp_path)
    b_value = re.search(rb";\s*b=([A-Za-z0-9+/=\s]+?)(?:;|\r\n[^ \t])", genuine).group(1)
    number = int.from_bytes(base64.b64decode(re.sub(rb"\s+", b"", b_value)), "big")
    modulus = load_pem_private_key(key_for("police.example"), None).public_key().public_numbers().n
    size = (modulus.bit_length() + 7) // 8
    plus_n = base64.b64encode((number + modulus).to_bytes(size + 1, "big"))
    zero_first = base64.b64encode(b"\0" + number.to_bytes(size, "big"))
    for n, value in enumerate((plus_n, zero_first), 2):
        copy = genuine.replace(b_value, value).replace(b"<r1@police.example>", f"<x{n}@police.example>".encode())
        as_officer(port, copy, forward["Reply-To"])
        settle(tmp_path)
        assert kinds(tmp_path)[-1] == "held" and REPLAYED in held_why(tmp_path)
    assert len(answers(relay, words="We will patrol on Friday.")) == 1


# ---- the other routes keep their rules ----------------------------------------------------

def test_a_reply_tied_by_signed_references_is_relayed_once(tmp_path, gateway_process, relay):
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    genuine = signed(reply(forward, "We will patrol on Friday.", 1, to="surgery@surgery.example.org",
                           References=forward["Message-ID"]).replace(b"[SRG-2026-0001] ", b""))
    for _ in range(2):
        as_officer(port, genuine, "surgery@surgery.example.org")
        settle(tmp_path)
    assert kinds(tmp_path)[1:] == ["officer_reply", "held"]
    assert len(answers(relay, words="We will patrol on Friday.")) == 1


@pytest.mark.parametrize("route", ["network", "authserv"])
def test_an_unsigned_reply_by_a_trusted_route_is_relayed_once_and_a_subject_alone_is_still_held(
        tmp_path, gateway_process, relay, route):
    sections = ({"trust": {"trusted_networks": "127.0.0.0/8", "trusted_domains": "police.example"}}
                if route == "network" else {"trust": {"authserv_id": "mx.police.example", "authserv_networks": "127.0.0.0/8"}})
    vouched = b"Authentication-Results: mx.police.example; dmarc=pass header.from=police.example\r\n"
    port = daemon(tmp_path, gateway_process, relay, **sections)
    forward = open_case(tmp_path, port, relay)
    genuine = vouched + reply(forward, "We will patrol on Friday.", 1)
    for _ in range(2):
        as_officer(port, genuine, forward["Reply-To"])
        settle(tmp_path)
    assert kinds(tmp_path)[1:] == ["officer_reply", "duplicate"]   # the same Message-ID: a copy, dropped
    by_subject = vouched + re.sub(rb"In-Reply-To: [^\r]*\r\n", b"",
                                  reply(forward, "By the subject alone.", 2, to="hightown@surgery.example.org"))
    as_officer(port, by_subject, "hightown@surgery.example.org")
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and "reference in its subject" in held_notices(relay)[0]
    assert len(answers(relay, words="We will patrol on Friday.")) == 1 and answers(relay, words="subject alone") == []


# ---- two daemons on one PostgreSQL ---------------------------------------------------------

def test_two_transactions_cannot_both_act_on_one_signature(tmp_path, backend):
    """The second insert waits for the first transaction and, once it commits, finds the
    signature taken: whichever daemon commits first acts, the other holds a replay."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no other daemon's transaction to meet")
    from gateway import config, db
    from gateway.clock import FakeClock

    settings = config.load(write_config(tmp_path))
    db.connect(settings.database)
    db.migrate(FakeClock().now())
    marks = [("signature", "f" * 64)]
    inside, results = threading.Event(), {}

    def second():
        inside.wait(10)
        with db.atomic():
            results["second"] = db.replay.first_use(marks, FakeClock().now(), 2)

    thread = threading.Thread(target=second)
    thread.start()
    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND position('INSERT INTO acted_on' in query) > 0")
    with db.atomic():
        results["first"] = db.replay.first_use(marks, FakeClock().now(), 1)
        inside.set()
        wait_for(lambda: db_rows(tmp_path, waiting) == [(1,)], 10, what="the second insert to wait for ours")
    thread.join(10)
    assert results == {"first": True, "second": False}
    assert db_rows(tmp_path, "SELECT inbound_id FROM acted_on") == [(1,)]


# ---- an officer's internal mail, never sent to the gateway ------------------------------

NOT_SENT_TO_US = ("addressed to none of the gateway's addresses: an officer's mail about the case that was not "
                  "sent to the gateway")


def test_an_officers_internal_mail_about_a_case_sent_on_by_someone_else_is_held(tmp_path, gateway_process, relay):
    """PC Jones writes to his sergeant about the case (Exchange signs no To); someone with a
    copy sends it to surgery@. Its subject names the case, but it was never written to the
    gateway: held, saying so, and the resident hears nothing. The same mail Cc'd to the team's
    gateway address is an answer."""
    port = daemon(tmp_path, gateway_process, relay)
    forward = open_case(tmp_path, port, relay)
    internal = resident_mail(body="Sarge, I think we tell her we will patrol on Friday.",
                             sender="PC Jones <pc.jones@police.example>", to="Sgt Evans <sgt.evans@police.example>",
                             message_id="<internal1@police.example>", subject="RE: " + forward["Subject"],
                             Date="Tue, 01 Dec 2026 10:00:00 +0000").as_bytes().replace(b"\n", b"\r\n")
    as_officer(port, signed(internal, over=EXCHANGE), "surgery@surgery.example.org")
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "held" and answers(relay) == []
    assert NOT_SENT_TO_US in held_why(tmp_path) and status(tmp_path) == "open"
    assert NOT_SENT_TO_US in held_notices(relay)[0]

    copied = resident_mail(body="Ann, we will patrol on Friday.", sender="PC Jones <pc.jones@police.example>",
                           to="Sgt Evans <sgt.evans@police.example>", Cc="hightown@surgery.example.org",
                           message_id="<internal2@police.example>", subject="RE: " + forward["Subject"],
                           Date="Tue, 01 Dec 2026 10:05:00 +0000").as_bytes().replace(b"\n", b"\r\n")
    as_officer(port, signed(copied, over=EXCHANGE), "hightown@surgery.example.org")
    settle(tmp_path)
    assert kinds(tmp_path)[-1] == "officer_reply" and len(answers(relay, words="we will patrol on Friday")) == 1
