"""Signed reply addresses: reply+<reference>-<signature>@<domain>.

The signature is an HMAC of the reference under the gateway's secret, so a case address can
be neither guessed from a reference nor altered into another case's address. Lower case
throughout, because some mail systems fold the case of local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

REPLY_LOCAL = "reply"
SIGNATURE_CHARS = 16  # 80 bits of base32
REFERENCE_RE = re.compile(r"^[a-z][a-z0-9]{0,9}-\d{4}-\d{4,}$")


def split(address: str) -> tuple[str, str]:
    """(local part, domain), both lower case; the domain is "" when there is none."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    if not local:
        return domain.lower(), ""
    return local.lower(), domain.lower()


def base_local(local: str) -> str:
    """The local part without its +detail."""
    return local.split("+", 1)[0]


def sign(reference: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"reply:{reference.upper()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def reply_address(reference: str, secret: str, domain: str) -> str:
    """The case's reply address, e.g. reply+srg-2026-0042-k3j...@surgery.example.org."""
    return f"{REPLY_LOCAL}+{reference.lower()}-{sign(reference, secret)}@{domain}"


def verify_reply_address(address: str, secret: str, domain: str) -> str | None:
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
    if not hmac.compare_digest(signature, sign(reference, secret)):
        return None
    return reference.upper()


def accepts(address: str, domain: str, known: set[str]) -> bool:
    """Whether mail for `address` is ours to take: a known address of our domain (with or
    without a +detail), postmaster, or any reply+ address (verified later, not here)."""
    local, addr_domain = split(address)
    if addr_domain != domain:
        return False
    return local.startswith(REPLY_LOCAL + "+") or base_local(local) in known | {"postmaster"}
