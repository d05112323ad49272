"""Signed reply addresses: reply+<reference>-<signature>@<domain>.

The signature is an HMAC of the reference under the gateway's secret, so a case address can
be neither guessed from a reference nor altered into another case's address. Lower case
throughout, because some mail systems fold the case of local parts.

Everything new is signed with one secret (Settings.secret); every check accepts any of the
secrets given (Settings.secrets: the current one and those rotated out but still in their
grace), so an address handed out before a rotation keeps working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from typing import Iterable

REPLY_LOCAL = "reply"
SIGNATURE_CHARS = 16  # 80 bits of base32
REFERENCE_RE = re.compile(r"^[a-z][a-z0-9]{0,9}-\d{4}-\d{4,}$")


def split(address: str) -> tuple[str, str]:
    """(local part, domain), both lower case; the domain is "" when there is none."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    if not local:
        return domain.lower(), ""
    return local.lower(), domain.lower()


def within(domain: str, domains: tuple[str, ...]) -> bool:
    """Whether `domain` is one of `domains` or a subdomain of one."""
    domain = domain.lower().strip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def base_local(local: str) -> str:
    """The local part without its +detail."""
    return local.split("+", 1)[0]


def sign(reference: str, secret: str) -> str:
    return _mac("reply", reference.upper(), secret)


def _mac(purpose: str, value: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def _signed(signature: str, purpose: str, value: str, secrets: str | Iterable[str]) -> bool:
    """Whether `signature` is the MAC of `value` under any of the secrets (one, or several)."""
    keys = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    return any(hmac.compare_digest(signature, _mac(purpose, value, key)) for key in keys if key)


# Signed tokens for the alert service: confirm a subscription, unsubscribe, publish a
# bulletin. The value is a row id; the purpose is part of what is signed, so a token for one
# purpose is worthless for another.
TOKEN_RE = re.compile(r"^([a-z0-9]{1,20})-([a-z2-7]{16})$")


def token(purpose: str, value: int | str, secret: str) -> str:
    """'<value>-<signature>', for an address's +detail or a URL."""
    return f"{str(value).lower()}-{_mac(purpose, str(value).lower(), secret)}"


def verify_token(text: str, purpose: str, secrets: str | Iterable[str]) -> str | None:
    """The value a token stands for, or None if it is not a valid token for `purpose`."""
    match = TOKEN_RE.match(text.strip().lower())
    if not match or not _signed(match.group(2), purpose, match.group(1), secrets):
        return None
    return match.group(1)


def token_address(purpose: str, value: int | str, secret: str, domain: str) -> str:
    """e.g. unsubscribe+42-k3j...@surgery.example.org."""
    return f"{purpose}+{token(purpose, value, secret)}@{domain}"


def verify_token_address(address: str, purpose: str, secrets: str | Iterable[str], domain: str) -> str | None:
    local, addr_domain = split(address)
    if addr_domain != domain or not local.startswith(purpose + "+"):
        return None
    return verify_token(local[len(purpose) + 1:], purpose, secrets)


def reply_address(reference: str, secret: str, domain: str) -> str:
    """The case's reply address, e.g. reply+srg-2026-0042-k3j...@surgery.example.org."""
    return f"{REPLY_LOCAL}+{reference.lower()}-{sign(reference, secret)}@{domain}"


def looks_like_reply_address(address: str, domain: str) -> bool:
    """Whether an address is written as one of our case reply addresses (signed or not)."""
    local, addr_domain = split(address)
    return addr_domain == domain and local.startswith(REPLY_LOCAL + "+")


def verify_reply_address(address: str, secrets: str | Iterable[str], domain: str) -> str | None:
    """The case reference a reply address stands for, or None if it is not a valid one.

    A forged or altered address is treated exactly like no address at all.
    """
    local, addr_domain = split(address)
    if addr_domain != domain or not local.startswith(REPLY_LOCAL + "+"):
        return None
    token = local[len(REPLY_LOCAL) + 1:]
    reference, _, signature = token.rpartition("-")
    if not REFERENCE_RE.match(reference) or len(signature) != SIGNATURE_CHARS:
        return None
    if not _signed(signature, "reply", reference.upper(), secrets):
        return None
    return reference.upper()


def signed_message_id(secret: str, domain: str) -> str:
    """A Message-ID for our own mail that only we can make: <random.signature@domain>. A
    reply whose References carry one is tied to what we sent (an officer's reply counts only
    when tied so, or by the case's reply address)."""
    random = uuid.uuid4().hex[:20]   # 80 bits: unique; the signature is what cannot be made up
    return f"<{random}.{_mac('msgid', random, secret)}@{domain}>"


MESSAGE_ID_RE = re.compile(r"^<([0-9a-f]{20})\.([a-z2-7]{16})@([^<>@\s]+)>$")


def verify_message_id(message_id: str, secrets: str | Iterable[str], domain: str) -> bool:
    """Whether a Message-ID is one we made (signed_message_id)."""
    match = MESSAGE_ID_RE.match(message_id.strip().lower())
    return bool(match) and match.group(3) == domain and _signed(match.group(2), "msgid", match.group(1), secrets)


TOKEN_PURPOSES = ("confirm", "unsubscribe", "publish", "bounces")


def accepts(address: str, domain: str, known: set[str]) -> bool:
    """Whether mail for `address` is ours to take: a known address of our domain (with or
    without a +detail), postmaster, or any signed reply+/confirm+/unsubscribe+/publish+
    address (verified later, not here)."""
    local, addr_domain = split(address)
    if not addr_domain and local == "postmaster":   # RFC 5321 4.5.1: accepted without a domain
        return True
    if addr_domain != domain:
        return False
    return base_local(local) in known | {"postmaster", REPLY_LOCAL, *TOKEN_PURPOSES}
