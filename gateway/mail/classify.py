"""Pure checks on a parsed message: robots, loops, case references, postcodes."""

from __future__ import annotations

import re

from gateway.mail.addresses import split
from gateway.mail.parse import ParsedMessage

ROBOT_LOCALS = {"mailer-daemon", "postmaster"}
BULK_PRECEDENCE = {"bulk", "junk", "list"}
MAX_RECEIVED = 40
LOOP_HEADER = "X-Loop"
POSTCODE_RE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)


def automatic(msg: ParsedMessage, envelope_from: str) -> str | None:
    """Why this message was sent by a machine (and must get no answer), or None."""
    auto = msg.header("auto-submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("precedence", "x-precedence"):
        value = msg.header(name).strip().lower()
        if value in BULK_PRECEDENCE:
            return f"{name.title()}: {value}"
    if not envelope_from.strip("<>"):
        return "null envelope sender"
    for address in (envelope_from, msg.from_address):
        local, _ = split(address)
        if local in ROBOT_LOCALS:
            return f"sent by {local}"
    return None


def is_bounce(msg: ParsedMessage, envelope_from: str) -> bool:
    """A delivery report rather than some other automatic message."""
    content_type = msg.header("content-type").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return True
    return not envelope_from.strip("<>") or split(msg.from_address)[0] == "mailer-daemon"


def loop(msg: ParsedMessage, domain: str, own_addresses: set[str]) -> str | None:
    """Why this looks like our own mail coming back, or None."""
    for value in msg.headers.get(LOOP_HEADER.lower(), []):
        if domain in value.lower():
            return f"{LOOP_HEADER} {value.strip()}"
    if msg.from_address in own_addresses or split(msg.from_address)[1] == domain:
        return f"sent from our own address {msg.from_address}"
    received = len(msg.headers.get("received", []))
    if received > MAX_RECEIVED:
        return f"{received} Received headers"
    return None


def subject_references(subject: str, prefix: str) -> list[str]:
    """Case references named in a subject line, upper case, in order."""
    pattern = re.compile(rf"\b{re.escape(prefix)}-(\d{{4}})-(\d{{4,}})\b", re.IGNORECASE)
    return [f"{prefix}-{year}-{number}" for year, number in pattern.findall(subject)]


def postcodes(text: str) -> list[str]:
    """UK postcodes in a text, normalised as 'LL13 7AB', in order of appearance."""
    return [f"{outward.upper()} {inward.upper()}" for outward, inward in POSTCODE_RE.findall(text)]


def postcode_matches(postcode: str, prefix: str) -> bool:
    """Whether a full postcode lies in a prefix: 'LL13' (outward code) or 'LL13 7' (sector)."""
    outward, _, inward = postcode.partition(" ")
    p_outward, _, p_inward = prefix.upper().partition(" ")
    return outward == p_outward and inward.startswith(p_inward)


def authenticated(msg: ParsedMessage, authserv_id: str) -> bool:
    """Whether the trusted server's Authentication-Results vouch for the From domain: dmarc=pass,
    or dkim=pass with header.d aligned to it. With no trusted server configured: True."""
    if not authserv_id:
        return True
    from_domain = split(msg.from_address)[1]
    for value in msg.headers.get("authentication-results", []):
        server, _, results = value.partition(";")
        if server.split()[0:1] != [authserv_id]:
            continue
        for result in results.split(";"):
            words = result.lower().split()
            if not words:
                continue
            if words[0] == "dmarc=pass":
                return True
            if words[0] == "dkim=pass" and any(
                    w.startswith("header.d=") and _aligned(w[9:], from_domain) for w in words):
                return True
    return False


def _aligned(signing_domain: str, from_domain: str) -> bool:
    return bool(from_domain) and (from_domain == signing_domain or from_domain.endswith("." + signing_domain))
