"""SPF (pyspf): may this address send mail for the envelope sender's domain?

pyspf looks names up through its module-level DNSLookup; it is pointed here at our own
Resolver (the configured servers and time budget) for the thread doing the check.
"""

from __future__ import annotations

import threading

import spf as pyspf

from gateway.mail.addresses import split
from gateway.trust.dns import DnsTemporary, Resolver

_current = threading.local()


def _lookup(name: str, qtype: str, strict: bool = True, timeout: float = 30) -> list:
    resolver: Resolver = _current.resolver
    try:
        if qtype in ("TXT", "SPF"):
            return [((name, qtype), (text.encode(),)) for text in resolver.txt(name)] if qtype == "TXT" else []
        records = resolver.answers(name, qtype)
    except DnsTemporary as exc:
        raise pyspf.TempError(f"DNS {exc}") from exc
    if qtype in ("A", "AAAA"):
        return [((name, qtype), r.address) for r in records]
    if qtype == "MX":
        return [((name, qtype), (r.preference, r.exchange)) for r in records]
    if qtype == "PTR":
        return [((name, qtype), r.target.to_text(True)) for r in records]
    return []


pyspf.DNSLookup = _lookup


def check(ip: str, mail_from: str, helo: str, resolver: Resolver) -> tuple[str, str]:
    """(result, domain checked): pass, fail, softfail, neutral, none, temperror or permerror.
    The null sender is checked as postmaster@<helo>, as RFC 7208 says."""
    sender = mail_from.strip("<>")
    domain = split(sender)[1] if "@" in sender else ""
    if not domain:
        domain = (helo or "").lower().rstrip(".")
        sender = f"postmaster@{domain}" if domain else ""
    if not domain or not ip:
        return "none", domain
    _current.resolver = resolver
    try:
        result, _explanation = pyspf.check2(i=ip, s=sender, h=helo or domain, timeout=resolver.timeout,
                                            querytime=resolver.timeout)
    except Exception:   # pyspf is careful, but any text may come in MAIL FROM
        return "permerror", domain
    finally:
        _current.resolver = None
    return str(result).lower(), domain
