"""Delivery reports, complaints and read receipts: which address failed, and for good or not.

Pure: bytes in, a DeliveryReport (or None) out. The message/delivery-status part (RFC 3464)
is read first where there is one, since it says Action and Status per recipient; otherwise
flufl.bounce (GNU Mailman's detectors for some fifteen mail servers' free-text bounces)
finds the failed addresses. ARF feedback reports (RFC 5965) are complaints. Read receipts
(message/disposition-notification) are automatic but are not bounces. Nothing here raises.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr

from flufl.bounce import all_failures

from gateway.mail import bounce_reasons

logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)  # it logs each detector it runs

MAX_FLUFL_BYTES = 1024 * 1024   # real bounces are small; a huge "bounce" gets the cheap checks only
MAX_PARTS = 200
ADDRESS_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class DeliveryReport:
    kind: str                                   # bounce | delay | complaint | receipt
    recipients: list[str] = field(default_factory=list)
    permanent: bool = False
    detail: str = ""
    diagnostic: str = ""                        # the receiving servers' own words (Diagnostic-Code)

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("bounce", "delay")

    reason: str = ""                            # bounce_reasons: user_unknown, mailbox_full, blocked, ...

    @property
    def address_is_dead(self) -> bool:
        """Whether to stop writing to the address at once (bounce_reasons.suppress)."""
        return bounce_reasons.suppress(self.reason or "unknown")

    @property
    def because_of_us(self) -> bool:
        """Refused for something about our mail (reputation, policy, authentication, size,
        rate): one such report usually means many residents are not getting our mail."""
        return self.reason in bounce_reasons.BECAUSE_OF_US


def read(raw: bytes) -> DeliveryReport | None:
    """What a delivery report says, or None when the message is not one; with its reason."""
    report = _read(raw)
    if report is not None and report.kind in ("bounce", "delay"):
        report.reason = bounce_reasons.reason(report.detail, report.diagnostic, _human_text(raw), report.permanent,
                                              report.kind == "delay")
    return report


def _human_text(raw: bytes) -> str:
    """The start of what the report says in words (its first text part), for the reason."""
    try:
        msg = email.message_from_bytes(raw[:200_000])
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True) or b""
                return payload[:8000].decode("utf-8", "replace")
    except Exception:
        pass
    return ""


def _read(raw: bytes) -> DeliveryReport | None:
    try:
        msg = email.message_from_bytes(raw.removeprefix(b"\xef\xbb\xbf"))
    except Exception:
        return None
    report_type = (msg.get_param("report-type") or "").lower() if msg.get_content_type() == "multipart/report" else ""
    try:
        if report_type == "feedback-report" or _part(msg, "message/feedback-report") is not None:
            return _complaint(msg)
        if report_type == "disposition-notification" or _part(msg, "message/disposition-notification") is not None:
            return DeliveryReport("receipt", detail="read receipt")
        status = _part(msg, "message/delivery-status")
        if status is not None:
            report = _delivery_status(status)
            if report is not None:
                return report
        if len(raw) > MAX_FLUFL_BYTES or _too_many_parts(msg):
            return None  # flufl's detectors each walk every part: a budget, not a verdict
        return _flufl(msg)
    except Exception:  # a detector tripping on broken MIME must not stop the message
        return None


def _too_many_parts(msg: Message) -> bool:
    return any(count > MAX_PARTS for count, _ in enumerate(msg.walk()))


def _part(msg: Message, content_type: str) -> Message | None:
    for count, part in enumerate(msg.walk()):
        if count > MAX_PARTS:
            break
        if part.get_content_type() == content_type:
            return part
    return None


def _delivery_status(part: Message) -> DeliveryReport | None:
    """RFC 3464 per-recipient fields; tolerant of missing blank lines and 'Status:5.5.0'."""
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n\n".join(p.as_string() for p in payload)
    else:
        text = part.get_payload(decode=True) or b""
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    failed, delayed, details, diagnostics = [], [], [], []
    recipient = action = status = None
    for line in text.splitlines() + [""]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "diagnostic-code" and value:
            diagnostics.append(value[:300])
        if name in ("final-recipient", "original-recipient") and value:
            if recipient and name == "final-recipient":
                _file(recipient, action, status, failed, delayed, details)
                action = status = None
            if name == "final-recipient" or recipient is None:
                recipient = _address(value)
        elif name == "action":
            action = value.lower()
        elif name == "status":
            status = value.split()[0] if value else ""
    if recipient:
        _file(recipient, action, status, failed, delayed, details)
    if failed:
        permanent = any(d.startswith("5") for d in details) or not details
        return DeliveryReport("bounce", sorted(set(failed)), permanent, ", ".join(details), " | ".join(diagnostics))
    if delayed:
        return DeliveryReport("delay", sorted(set(delayed)), False, ", ".join(details))
    return None


def _file(recipient, action, status, failed, delayed, details) -> None:
    if action in ("delayed", "relayed", "delivered", "expanded"):
        if action == "delayed":
            delayed.append(recipient)
        return
    failed.append(recipient)
    if status:
        details.append(status)


def _address(value: str) -> str:
    kind, _, address = value.partition(";")
    address = (address or kind).strip().strip("<>")
    match = ADDRESS_RE.search(address)
    return (match.group(0) if match else address).lower()


def _flufl(msg: Message) -> DeliveryReport | None:
    temporary, permanent = all_failures(msg)
    decode = lambda a: (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower()  # noqa: E731
    if permanent:
        return DeliveryReport("bounce", sorted({decode(a) for a in permanent}), True, "flufl.bounce")
    if temporary:
        return DeliveryReport("delay", sorted({decode(a) for a in temporary}), False, "flufl.bounce")
    return None


def _complaint(msg: Message) -> DeliveryReport:
    """Who complained: Original-Rcpt-To in the report, else the To of the returned message."""
    recipients: list[str] = []
    report = _part(msg, "message/feedback-report")
    if report is not None:
        text = report.as_string() if not isinstance(report.get_payload(), str) else report.get_payload()
        recipients = [_address(v) for n, _, v in (l.partition(":") for l in str(text).splitlines())
                      if n.strip().lower() == "original-rcpt-to"]
    if not recipients:
        original = _part(msg, "message/rfc822") or _part(msg, "text/rfc822-headers")
        if original is not None:
            inner = original.get_payload(0) if original.is_multipart() else email.message_from_string(
                str(original.get_payload()))
            to = parseaddr(str(inner.get("To", "")))[1]
            recipients = [to.lower()] if to else []
    return DeliveryReport("complaint", recipients, True, "abuse report (ARF)")
