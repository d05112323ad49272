"""DNS TXT lookups for DKIM, SPF and DMARC, through dnspython, with a time budget.

A name that does not exist, or has no TXT record, is an answer ([]); a timeout or a server
failure is not (DnsTemporary), so that a check can say "could not tell" instead of "fail".
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import dns.exception
import dns.nameserver
import dns.resolver

CACHE_ENTRIES = 10_000


class DnsTemporary(Exception):
    """The DNS could not answer now (timeout, SERVFAIL, no server reachable)."""


class Resolver:
    """TXT lookups against `servers` ((host, port) pairs; empty: the system's resolvers),
    each within `timeout` seconds and, inside `budget()`, within what is left of it."""

    def __init__(self, servers: tuple[tuple[str, int], ...] = (), timeout: float = 3.0):
        if servers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.cache = dns.resolver.LRUCache(CACHE_ENTRIES)
        self.timeout = timeout
        self._deadline = threading.local()
        # Told of every lookup made (name, seconds, answered): trust.zones learns from it
        # which zones answer quickly (runtime.checks schedules the sender checks by it).
        self.observe: Callable[[str, float, bool], None] | None = None

    def budget(self, seconds: float | None) -> "_Budget":
        """`with resolver.budget(3):` every lookup inside shares those seconds."""
        return _Budget(self._deadline, seconds)

    def _lifetime(self) -> float:
        deadline = getattr(self._deadline, "at", None)
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise DnsTemporary("the time allowed for checking this sender ran out")
        return min(self.timeout, left)

    def txt(self, name: str) -> list[str]:
        """The TXT records at `name`, each joined into one string; [] if there are none."""
        return [b"".join(record.strings).decode("utf-8", "replace") for record in self.answers(name, "TXT")]

    def answers(self, name: str, rdtype: str) -> list:
        """The records of one type at `name` (rdata); [] if there are none. Raises
        DnsTemporary when the DNS cannot answer now."""
        lifetime, started, answered = self._lifetime(), time.monotonic(), True
        try:
            return list(self._resolver.resolve(name.rstrip(".") + ".", rdtype, lifetime=lifetime,
                                               raise_on_no_answer=False, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout as exc:
            answered = False
            raise DnsTemporary(f"DNS timeout for {name} {rdtype}") from exc
        except dns.resolver.NoNameservers as exc:   # every server answered SERVFAIL or refused
            raise DnsTemporary(f"DNS server failure for {name} {rdtype}") from exc
        except dns.exception.DNSException as exc:
            raise DnsTemporary(f"DNS error for {name} {rdtype}: {type(exc).__name__}") from exc
        finally:
            if self.observe is not None:
                self.observe(name, time.monotonic() - started, answered)


class _Budget:
    def __init__(self, holder: threading.local, seconds: float | None):
        self.holder, self.seconds = holder, seconds

    def __enter__(self) -> None:
        self.saved = getattr(self.holder, "at", None)
        self.holder.at = None if self.seconds is None else time.monotonic() + self.seconds

    def __exit__(self, *exc) -> None:
        self.holder.at = self.saved
