"""What a verified DKIM signature vouches for: the case addresses, Message-IDs and subject
its covered headers name. Only the header instances the signature covered are read (see
dkim.Signature.covered); a header an attacker put above or beside them is never seen here."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses

from gateway.mail.parse import MSGID_RE
from gateway.trust.dkim import Signature


@dataclass(frozen=True)
class Signed:
    addresses: tuple[str, ...] = ()     # in a signed To or Cc, lower case
    thread_ids: tuple[str, ...] = ()    # in a signed In-Reply-To or References
    subjects: tuple[str, ...] = ()      # each signed Subject, encoded words decoded
    message_ids: tuple[str, ...] = ()   # the signed Message-ID


def named_by(signatures: tuple[Signature, ...]) -> Signed:
    """What these (verified, aligned) signatures cover, together: each is the sender's own."""
    values = lambda *names: [v for s in signatures for n in names for v in s.values(n)]  # noqa: E731
    addresses = [a.strip().lower() for _, a in getaddresses(values("to", "cc")) if "@" in a]
    return Signed(addresses=tuple(addresses),
                  thread_ids=tuple(MSGID_RE.findall(" ".join(values("in-reply-to", "references")))),
                  subjects=tuple(_decoded(v) for v in values("subject")),
                  message_ids=tuple(m for v in values("message-id") for m in MSGID_RE.findall(v)[:1]))


def _decoded(value: str) -> str:
    """A Subject as a person reads it (Exchange writes non-ASCII subjects as encoded words)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:   # a broken encoded word stays as written
        return value
