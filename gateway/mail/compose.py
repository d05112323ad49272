"""The only builder of outgoing messages. Pure: text and facts in, bytes out.

Every message we send carries a Message-ID on our domain (so replies thread back), a Date,
Auto-Submitted where a machine wrote it, and our loop header, so that other systems (and we
ourselves) can tell it from a person's mail.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr

from gateway.mail.addresses import signed_message_id
from gateway.mail.classify import LOOP_HEADER

SMTP_POLICY = policy.SMTP.clone(max_line_length=78)
FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)
RE_PREFIX = re.compile(r"^\s*(re|aw|sv|ateb)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and to, and what it answers."""

    from_name: str
    from_address: str
    to_address: str
    to_name: str = ""
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str | None = None
    high_priority: bool = False   # Importance: high and X-Priority: 1 (Outlook's red flag)


def new_message_id(domain: str, secret: str = "") -> str:
    """Signed when a secret is given (a case's mail), so replies can be tied to it."""
    return signed_message_id(secret, domain) if secret else f"<{uuid.uuid4().hex}@{domain}>"


YOUR_MESSAGE = {"en": "Your message", "cy": "Eich neges"}
# Said first in the subject of an urgent acknowledgement: a phone's inbox shows only its start.
IN_DANGER = {"en": "If you are in danger, call 999 now", "cy": "Os ydych mewn perygl, ffoniwch 999 nawr"}


def reply_subject(subject: str, reference: str, language: str = "en") -> str:
    """'Re: <their subject> [REFERENCE]' without stacking Re: or the reference twice."""
    base = RE_PREFIX.sub("", subject).strip() or YOUR_MESSAGE.get(language, YOUR_MESSAGE["en"])
    if reference.lower() not in base.lower():
        base = f"{base} [{reference}]"
    return f"Re: {base}"


def urgent_subject(subject: str, language: str = "en") -> str:
    """An acknowledgement's subject with the 999 warning before everything else."""
    return f"{IN_DANGER.get(language, IN_DANGER['en'])}: {subject}"


def team_subject(subject: str, reference: str, label: str = "") -> str:
    """'[REFERENCE] <their subject>' so the team's mailbox sorts and finds by reference."""
    base = (subject or "(no subject)").replace(f"[{reference}]", "").strip()
    return f"[{reference}] {label}{base}"


def thread_index(reference: str, opened_at: dt.datetime, position: int) -> str:
    """An Outlook Thread-Index: the same 22-byte root for every message of a case (so Outlook
    groups them) followed by one 5-byte block per message before this one."""
    if opened_at.tzinfo is None:
        opened_at = opened_at.replace(tzinfo=dt.timezone.utc)
    filetime = int((opened_at - FILETIME_EPOCH).total_seconds() * 10_000_000)
    root = (filetime >> 16).to_bytes(6, "big") + hashlib.md5(reference.encode()).digest()
    children = b"".join((n + 1).to_bytes(5, "big") for n in range(min(position, 100)))
    return base64.b64encode(root + children).decode()


def build(envelope: Envelope, subject: str, text: str, domain: str, now: dt.datetime,
          original: bytes | None = None, thread: tuple[str, str] | None = None,
          files: tuple[tuple[str, str, bytes], ...] = (), secret: str = "") -> tuple[str, bytes]:
    """A complete message as bytes, with the original attached unchanged if given, and
    Outlook's Thread-Index and Thread-Topic when `thread` is (index, topic).

    Written out directly rather than through EmailMessage: its header objects were the
    largest single cost of handling a resident's message (bench/RESULTS.md, whole path)."""
    message_id = new_message_id(domain, secret)
    headers = [("Message-ID", message_id), ("Date", format_datetime(now)),
               ("From", _address(envelope.from_name, envelope.from_address)),
               ("To", _address(envelope.to_name, envelope.to_address)), ("Subject", subject)]
    if envelope.reply_to:
        headers.append(("Reply-To", envelope.reply_to))
    if envelope.in_reply_to:
        headers.append(("In-Reply-To", envelope.in_reply_to))
    if envelope.references:
        headers.append(("References", " ".join(envelope.references[-20:])))
    if thread:
        headers += [("Thread-Index", thread[0]), ("Thread-Topic", thread[1])]
    if envelope.high_priority:
        headers += [("Importance", "high"), ("X-Priority", "1")]
    if envelope.auto_submitted:
        headers += [("Auto-Submitted", envelope.auto_submitted),
                    ("X-Auto-Response-Suppress", "All")]  # asks Exchange not to answer us with an OOF
    headers.append((LOOP_HEADER, domain))
    head = b"".join(_header(name, value, address=name in ("From", "To")) for name, value in headers)
    text_head, text_body = _text(text)
    parts = []
    if original is not None:
        parts.append(_original(original))
    parts += [_file(name, content_type, data) for name, content_type, data in files]
    if not parts:
        return message_id, head + b"MIME-Version: 1.0\r\n" + text_head + b"\r\n" + text_body
    boundary = f"=_{uuid.uuid4().hex}".encode()
    body = b"".join(b"--" + boundary + b"\r\n" + part_head + b"\r\n" + part_body + b"\r\n"
                    for part_head, part_body in [(text_head, text_body), *parts])
    return message_id, (head + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + boundary
                        + b'"\r\n\r\n' + body + b"--" + boundary + b"--\r\n")


def _header(name: str, value: str, address: bool = False) -> bytes:
    """One header line, folded at 78 characters; non-ASCII text as RFC 2047 encoded words.
    An address header's name is already encoded: what is left non-ASCII is an internationalised
    address (SMTPUTF8), written as UTF-8."""
    value = " ".join(value.split())
    if value.isascii() and (len(name) + 2 + len(value) <= 78 or name in ("Message-ID", "In-Reply-To")):
        # a lone Message-ID is never folded: some clients then fail to thread on it
        return f"{name}: {value}\r\n".encode("ascii")
    if address:
        return f"{name}: {value}\r\n".encode("utf-8")
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, maxlinelen=78, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n".encode("ascii")


def _address(name: str, address: str) -> str:
    """'Display Name <local@domain>', the name quoted or encoded as it needs."""
    name = " ".join((name or "").split())
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    # One line: a long name comes back folded, which a header set on an EmailMessage (a
    # bulletin's From under a team's Welsh name) refuses; a folding space between encoded
    # words is no part of the name (RFC 2047), and the header is folded again when written.
    return f"{' '.join(Header(name, 'utf-8').encode().split())} <{address}>"


def _text(text: str) -> tuple[bytes, bytes]:
    body = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    if not body.endswith("\r\n"):
        body += "\r\n"
    if body.isascii() and all(len(line) <= 998 for line in body.split("\r\n")):
        return b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n', body.encode()
    return (b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n',
            binascii.b2a_qp(body.encode("utf-8"), istext=True))


def _original(raw: bytes) -> tuple[bytes, bytes]:
    """The message as it arrived: message/rfc822 when it is plain 7-bit, else a byte-exact
    .eml attachment in base64 (8-bit or broken mail must not be altered on the way)."""
    if raw.isascii() and all(len(line) <= 998 for line in raw.splitlines()):
        lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return (b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="original.eml"\r\n',
                b"\r\n".join(lines).rstrip(b"\r\n"))
    return _file("original.eml", "application/octet-stream", raw)


def _file(name: str, content_type: str, data: bytes) -> tuple[bytes, bytes]:
    """A file attachment in base64, its name quoted (or RFC 2231-encoded when not ASCII)."""
    if "/" not in content_type or not content_type.isascii() or any(c in content_type for c in ' ;"\r\n'):
        content_type = "application/octet-stream"
    clean = " ".join(name.split()).replace("\\", "_").replace('"', "'") or "attachment"
    disposition = (f'attachment; filename="{clean}"' if clean.isascii()
                   else f"attachment; filename*={encode_rfc2231(clean, 'utf-8')}")
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    return (f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Transfer-Encoding: base64\r\n").encode("ascii"), encoded


def delivery_report(domain: str, recipient: str, status: str, diagnostic: str, original: bytes,
                    now: dt.datetime) -> bytes:
    """An RFC 3464 report of a message our relay refused for good, as a receiving server would
    send it, so that the pipeline's reports stage handles it exactly as a bounce."""
    boundary = f"=_{uuid.uuid4().hex}"
    head = original.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    diagnostic = " ".join(diagnostic.split())[:900]
    text = (f"Our relay refused a message for {recipient} for good:\r\n\r\n    {diagnostic}\r\n")
    status_part = (f"Reporting-MTA: dns; {domain}\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\n"
                   f"Action: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n")
    # From MAILER-DAEMON with no domain: "from our own domain" would be dropped as a loop.
    return (f"From: Mail Delivery System <MAILER-DAEMON>\r\nTo: postmaster@{domain}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(now)}\r\n"
            f"Message-ID: {new_message_id(domain)}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status_part}\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").encode("utf-8") + head + (
            f"\r\n\r\n--{boundary}--\r\n").encode()


# --- Alert bulletins: one message rendered per bulletin, made personal per recipient by
# replacing marks, because building an EmailMessage for each of 200,000 residents is too slow.

NAME_MARK = "\x01name\x01"
UNSUBSCRIBE_ADDRESS_MARK = "\x01unsubscribe-address\x01"
UNSUBSCRIBE_URL_MARK = "\x01unsubscribe-url\x01"


@dataclass(frozen=True)
class BulletinMessage:
    """A bulletin ready to personalise: fixed headers, and the body text with marks in it."""

    head: bytes
    text_named: str      # for a subscriber whose name we know (contains NAME_MARK)
    text_unnamed: str
    domain: str


def bulletin(from_name: str, from_address: str, subject: str, list_id: str, reply_to: str,
             domain: str, now: dt.datetime, text_named: str, text_unnamed: str) -> BulletinMessage:
    """The headers every copy shares: bulk mail from the surgery address, marked as such."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Date"] = format_datetime(now)
    msg["From"] = _address(from_name, from_address)
    msg["Subject"] = subject
    msg["Reply-To"] = reply_to
    msg["List-Id"] = list_id
    msg["Precedence"] = "bulk"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = domain
    head = msg.as_bytes(policy=SMTP_POLICY).split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return BulletinMessage(head=head, text_named=text_named, text_unnamed=text_unnamed, domain=domain)


def personal_copy(message: BulletinMessage, to_address: str, name: str, unsubscribe_address: str,
                  unsubscribe_url: str, message_id: str) -> bytes:
    """One resident's copy: their address, greeting and unsubscribe links (RFC 2369, RFC 8058)."""
    text = message.text_named.replace(NAME_MARK, name) if name else message.text_unnamed
    text = text.replace(UNSUBSCRIBE_ADDRESS_MARK, unsubscribe_address).replace(UNSUBSCRIBE_URL_MARK, unsubscribe_url)
    body = binascii.b2a_qp(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"), istext=True)
    unsubscribe = f"<mailto:{unsubscribe_address}?subject=unsubscribe>"
    head = [f"To: {to_address}", f"Message-ID: {message_id}"]
    if unsubscribe_url:
        head += [f"List-Unsubscribe: <{unsubscribe_url}>, {unsubscribe}",
                 "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    else:
        head.append(f"List-Unsubscribe: {unsubscribe}")
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: quoted-printable"]
    return message.head + "\r\n".join(head).encode("utf-8") + b"\r\n\r\n" + body
