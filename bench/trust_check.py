#!/usr/bin/env python3
"""What a sender check costs per message: gateway.trust.verdict.check against a DNS server on
loopback (tests/servers/dns.py, dnslib), for the kinds of mail the gateway sees:

  resident, SPF + DMARC      unsigned mail from example.net over SMTP (an SPF and a DMARC lookup)
  officer, DKIM + DMARC      a reply DKIM-signed by police.example (key, DMARC; SPF fails)
  officer, trusted A-R       [trust] authserv_id, from authserv_networks: headers only, no DNS at all
  officer, trusted network   [trust] trusted_networks: no DNS at all

each with a fresh resolver per message (nothing cached: the first message from a domain)
and with one resolver for the run (cached: every later one, as in the daemon). Medians and
90th percentiles of N messages. Then what DKIM-signing one outgoing message costs. Usage: .venv-test/bin/python bench/trust_check.py [--messages N]
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.config.security import TrustSettings  # noqa: E402
from gateway.mail.parse import parse  # noqa: E402
from gateway.trust.dns import Resolver  # noqa: E402
from gateway.trust.verdict import Seen, check  # noqa: E402
from tests.helpers import resident_mail, signed  # noqa: E402
from tests.servers.dns import shared  # noqa: E402


def cases(dns: tuple[tuple[str, int], ...]):
    resident = resident_mail().as_bytes()
    officer = signed(resident_mail(sender="PC Jones <pc.jones@police.example>", body="We will patrol.\n"))
    vouched = (b"Authentication-Results: mx.police.example; dmarc=pass header.from=police.example\r\n"
               + resident_mail(sender="pc.jones@police.example").as_bytes())
    own = TrustSettings(dns_servers=dns, dns_timeout=3)
    return [
        ("resident, SPF + DMARC", resident, Seen("127.0.0.1", "client.example.net", "ann@example.net"), own),
        ("officer, DKIM + DMARC", officer, Seen("127.0.0.1", "mx.police.example", "pc.jones@police.example"), own),
        ("officer, trusted A-R", vouched, Seen("10.0.0.25", "mx.police.example", "pc.jones@police.example", "smtp"),
         TrustSettings(dns_servers=dns, authserv_id="mx.police.example",
                       authserv_networks=(ipaddress.ip_network("10.0.0.0/8"),))),
        ("officer, trusted network", officer, Seen("10.1.2.3", "ex1.police.example", "pc.jones@police.example"),
         TrustSettings(dns_servers=dns, trusted_networks=(ipaddress.ip_network("10.0.0.0/8"),),
                       trusted_domains=("police.example",))),
    ]


def measure(raw: bytes, seen: Seen, trust: TrustSettings, messages: int, cached: bool) -> list[float]:
    shared_resolver = Resolver(trust.dns_servers, trust.dns_timeout)
    times = []
    for _ in range(messages):
        resolver = shared_resolver if cached else Resolver(trust.dns_servers, trust.dns_timeout)
        msg = parse(raw)
        started = time.perf_counter()
        verdict = check(raw, msg.from_address, msg.from_problem, msg.headers.get("authentication-results", []),
                        seen, trust, resolver, budget=3)
        times.append(time.perf_counter() - started)
    assert verdict.temporary is False
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=300)
    args = ap.parse_args()
    server = shared()
    dns = (("127.0.0.1", server.port),)
    print(f"{'mail':<26} {'verdict':<22} {'first (ms) median / p90':>26} {'cached (ms) median / p90':>26}")
    for name, raw, seen, trust in cases(dns):
        msg = parse(raw)
        verdict = check(raw, msg.from_address, msg.from_problem, msg.headers.get("authentication-results", []),
                        seen, trust, Resolver(dns, 3), budget=3)
        label = ("authenticated " + verdict.method) if verdict.authenticated else (
            "verified" if verdict.verified else "not verified")
        row = []
        for cached in (False, True):
            times = sorted(measure(raw, seen, trust, args.messages, cached))
            row.append(f"{statistics.median(times) * 1000:.2f} / {times[int(len(times) * 0.9)] * 1000:.2f}")
        print(f"{name:<26} {label:<22} {row[0]:>26} {row[1]:>26}")
    print(f"({args.messages} messages each; DNS server on loopback answered {server.zone.queries} queries)")
    print()
    from gateway.trust.dkim import Signer, new_key
    raw = resident_mail().as_bytes().replace(b"\n", b"\r\n")
    for bits in (1024, 2048):
        signer = Signer("surgery.example.org", "gw", new_key(bits)[0])
        times = []
        for _ in range(args.messages):
            started = time.perf_counter()
            signer.sign(raw)
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"DKIM-signing one outgoing message, RSA {bits}: median {statistics.median(times) * 1000:.2f} ms, "
              f"p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
