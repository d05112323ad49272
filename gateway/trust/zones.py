"""Which DNS zones a sender check asks, and which of them have lately answered quickly.

Sender checks are made side by side (runtime.checks); a zone whose DNS never answers (an
attacker may run their own) must not take every checker, nor hold up anyone else's mail.
A zone here is an organisational domain (dmarc.org_domain), so that a.slow.example and
b.slow.example count as one. A zone is known to be fast when a lookup in it has answered
within half the lookup timeout lately and none has been slower; anything else (never
asked, or slow lately) is checked a few at a time. A From domain is chosen by the sender,
so a forger writing as a popular domain from a slow one is held back by the slow one only.
"""

from __future__ import annotations

import re
import threading
import time

from gateway.config.security import TrustSettings
from gateway.mail.addresses import split
from gateway.trust import verdict
from gateway.trust.dmarc import org_domain

REMEMBER = 600.0   # seconds an observation of a zone counts
MAX_ZONES = 10_000   # zones remembered; the oldest observations go first beyond it
_SIGNER = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


class ZoneWatch:
    """What the resolver has seen of each zone: when it last answered quickly, when it was
    last slow. Thread-safe: the checkers' threads report, the worker asks."""

    def __init__(self, timeout: float):
        self.slow_after = timeout / 2
        self.lock = threading.Lock()
        self.quick: dict[str, float] = {}
        self.slow: dict[str, float] = {}

    def observe(self, name: str, seconds: float, answered: bool) -> None:
        """A lookup of `name` took `seconds` (answered: False when it timed out)."""
        if answered and seconds < self.slow_after:
            seen = self.quick
        elif seconds >= self.slow_after:
            seen = self.slow
        else:
            return   # cut short by the check's own budget: says nothing about the zone
        zone = org_domain(name.lower().rstrip(".").removeprefix("_dmarc."))
        with self.lock:
            seen[zone] = time.monotonic()
            if len(seen) > MAX_ZONES:
                for old in sorted(seen, key=seen.get)[:MAX_ZONES // 10]:
                    del seen[old]

    def fast(self, zone: str) -> bool:
        """Whether `zone` has answered quickly lately and not been slow."""
        now = time.monotonic()
        with self.lock:
            quick, slow = self.quick.get(zone), self.slow.get(zone)
        return quick is not None and now - quick < REMEMBER and (slow is None or now - slow >= REMEMBER)

    def is_slow(self, zone: str) -> bool:
        """Whether a lookup in `zone` has been slow lately."""
        with self.lock:
            slow = self.slow.get(zone)
        return slow is not None and time.monotonic() - slow < REMEMBER


def asked(from_address: str, from_problem: str | None, dkim_signatures: list[str], seen: verdict.Seen,
          trust: TrustSettings) -> frozenset[str]:
    """The zones verdict.check will look names up in for this message: the From domain's
    (DMARC), the envelope sender's or HELO's (SPF), each DKIM signer's; none when it asks
    no DNS at all."""
    if not verdict.needs_dns(from_address, from_problem, seen, trust):
        return frozenset()
    names = [split(from_address)[1]]
    if seen.peer:   # SPF is checked only for mail that came by SMTP
        sender = seen.mail_from.strip("<>")
        names.append(split(sender)[1] if "@" in sender else (seen.helo or ""))
    for value in dkim_signatures:
        signer = _SIGNER.search(value.replace("\r", "").replace("\n", ""))
        if signer:
            names.append(signer.group(1))
    return frozenset(org_domain(name.lower().rstrip(".")) for name in names if name)
