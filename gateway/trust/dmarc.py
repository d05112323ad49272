"""DMARC (RFC 7489): the From domain's policy, and whether DKIM or SPF domains align with it.

The organisational domain comes from the Public Suffix List (publicsuffixlist), so that
mail.police.example aligns with police.example in relaxed mode, while a signature from
"example" (a public suffix) or from evil-police.example aligns with nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from gateway.trust.dns import Resolver


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def org_domain(domain: str) -> str:
    """The organisational domain: the public suffix and one label more ('police.uk' for
    'north-wales.police.uk' is a suffix, so that one is its own organisation)."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(domain: str, from_domain: str, mode: str = "r") -> bool:
    """Whether an authenticated domain aligns with the From domain: the same name (strict),
    or the same organisational domain (relaxed)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    return mode != "s" and org_domain(domain) == org_domain(from_domain) and _psl().privatesuffix(domain) is not None


@dataclass(frozen=True)
class Policy:
    policy: str          # none | quarantine | reject
    adkim: str = "r"     # r | s
    aspf: str = "r"
    found_at: str = ""   # the domain whose _dmarc record it is


def policy(from_domain: str, resolver: Resolver) -> Policy | None:
    """The DMARC record for the From domain, else for its organisational domain (with sp=
    for subdomains); None when neither publishes one. Raises DnsTemporary."""
    org = org_domain(from_domain)
    for name in dict.fromkeys((from_domain, org)):
        for text in resolver.txt(f"_dmarc.{name}"):
            tags = _tags(text)
            if tags.get("v", "").upper() != "DMARC1":
                continue
            chosen = tags.get("p", "none")
            if name != from_domain and "sp" in tags:
                chosen = tags["sp"]
            if chosen not in ("none", "quarantine", "reject"):
                chosen = "none"   # RFC 7489 6.6.3: an unknown p= is taken as none
            return Policy(policy=chosen, adkim=tags.get("adkim", "r")[:1], aspf=tags.get("aspf", "r")[:1],
                          found_at=name)
    return None


def _tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip().lower() if key.strip().lower() != "rua" else value.strip()
    return tags
