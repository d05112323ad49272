"""DKIM: verifying the signatures on a message, and signing our own (dkimpy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dkim as dkimpy

from gateway.trust.dns import DnsTemporary, Resolver

# What our signature covers: everything a resident's provider shows or acts on.
SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"In-Reply-To",
                  b"References", b"MIME-Version", b"Content-Type", b"Content-Transfer-Encoding",
                  b"Auto-Submitted", b"Precedence", b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post")
MAX_SIGNATURES = 5   # a message with more is not worth more lookups
_quiet = logging.getLogger("gateway.trust.dkimpy")
_quiet.setLevel(logging.CRITICAL)   # dkimpy logs every failed check as an error; we report them ourselves


@dataclass(frozen=True)
class Signature:
    domain: str        # d=
    result: str        # pass | fail | temperror | permerror


def verify(raw: bytes, resolver: Resolver) -> list[Signature]:
    """Every DKIM signature on the message (up to MAX_SIGNATURES), each checked."""
    try:
        checker = dkimpy.DKIM(raw, logger=_quiet, minkey=1024, timeout=resolver.timeout)
    except Exception:   # headers dkimpy cannot even split: no signature to speak of
        return []
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    return [_one(checker, index, resolver) for index in range(min(count, MAX_SIGNATURES))]


def _one(checker: dkimpy.DKIM, index: int, resolver: Resolver) -> Signature:
    temporary = []

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            records = resolver.txt(name.decode("ascii", "replace"))
        except DnsTemporary as exc:
            temporary.append(str(exc))
            raise dkimpy.DnsTimeoutError(str(exc)) from exc
        return records[0].encode() if records else None

    try:
        ok = checker.verify(idx=index, dnsfunc=lookup)
    except dkimpy.DKIMException:
        ok = None
    except Exception:   # a malformed signature must not stop the message
        ok = None
    domain = (checker.domain or b"").decode("ascii", "replace").lower().rstrip(".")
    if temporary:
        return Signature(domain, "temperror")
    return Signature(domain, "pass" if ok else ("permerror" if ok is None else "fail"))


@dataclass(frozen=True)
class Signer:
    """Signs outgoing mail as [dkim] domain with [dkim] selector."""

    domain: str
    selector: str
    private_key: bytes

    def sign(self, raw: bytes) -> bytes:
        """The message with a DKIM-Signature header on top (relaxed/relaxed, rsa-sha256)."""
        present = {line.split(b":", 1)[0].strip().lower()
                   for line in raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n") if b":" in line}
        headers = [h for h in SIGNED_HEADERS if h.lower() in present]
        header = dkimpy.sign(raw, self.selector.encode(), self.domain.encode(), self.private_key,
                             canonicalize=(b"relaxed", b"relaxed"), include_headers=headers, logger=_quiet)
        return header + raw


def new_key(bits: int = 2048) -> tuple[bytes, str]:
    """(private key PEM, the public key's base64 for the DNS record)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    import base64

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def dns_record(selector: str, domain: str, public_b64: str) -> str:
    """The TXT record to publish, as a zone-file line."""
    chunks = " ".join(f'"{public_b64[i:i + 200]}"' for i in range(0, len(public_b64), 200))
    return f'{selector}._domainkey.{domain}. IN TXT ( "v=DKIM1; k=rsa; p=" {chunks} )'
