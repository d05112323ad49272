"""Police addresses out of text that goes to a resident. Pure.

Officers' own addresses never reach residents: not in a signature, not in a forwarded
line, not as a mailto link. An address counts when its domain is one of the police domains
or any subdomain of one, however it is written: after Unicode normalisation (NFKC turns a
full-width ＠ into @), with "at" or "%40" in place of @, or hidden in the local part of
another address (the percent hack: hightown.npt%police.example@relay.example, or a bang
path).
"""

from __future__ import annotations

import re
import unicodedata

from gateway.mail.addresses import within

REMOVED = "[address removed]"
AT = r"(?:@|%40|\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*|\s+at\s+)"
LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]+"
DOMAIN = r"[\w-]+(?:\s*(?:\.|\[dot\]|\(dot\))\s*[\w-]+)+"
ADDRESS_RE = re.compile(rf"(?:mailto:)?({LOCAL}){AT}({DOMAIN})", re.IGNORECASE)
HIDDEN_RE = re.compile(rf"[%!]({DOMAIN})", re.IGNORECASE)


def police_addresses_removed(text: str, police_domains: tuple[str, ...]) -> str:
    """The text with every address in a police domain (or a subdomain) replaced."""
    if not police_domains:
        return text
    text = unicodedata.normalize("NFKC", text)
    return ADDRESS_RE.sub(lambda m: REMOVED if _is_police(m, police_domains) else m.group(0), text)


def _is_police(match: re.Match, domains: tuple[str, ...]) -> bool:
    if _within(match.group(2), domains):
        return True
    return any(_within(hidden, domains) for hidden in HIDDEN_RE.findall(match.group(1)))


def _within(domain: str, domains: tuple[str, ...]) -> bool:
    """addresses.within, once "police [dot] example" is written as a domain again."""
    return within(re.sub(r"\s*(?:\[dot\]|\(dot\))\s*", ".", domain.lower()).replace(" ", ""), domains)
