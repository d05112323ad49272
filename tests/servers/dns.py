"""A small authoritative DNS server on loopback (dnslib), serving the test world's DKIM keys,
SPF and DMARC records over UDP and TCP. Nothing here reaches the internet.

The world:
  police.example   signs with DKIM (selector sel); SPF allows only 192.0.2.0/24 (so mail from
                   loopback claiming to be police fails SPF); DMARC p=reject
  evil.example     an attacker's own domain: signs with its own key, SPF passes from loopback
  example          a public suffix with a key, for "header.d=example" (a suffix is not aligned)
  example.net      residents: SPF passes from loopback, no DKIM, no DMARC
  forged.example   SPF allows only 192.0.2.0/24, DMARC p=reject: mail from here is forged
  servfail.example every lookup fails (SERVFAIL): a DNS outage for that domain
  silent.example   no lookup is ever answered: an attacker's own DNS that hangs every check
"""

from __future__ import annotations

import socket
import threading

import dkim
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.dns import DNSError
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from gateway.trust.dkim import new_key

SELECTOR = "sel"
KEYS: dict[str, bytes] = {}


def _txt_chunks(text: str) -> list[bytes]:
    data = text.encode()
    return [data[i:i + 255] for i in range(0, len(data), 255)]


class Zone(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.failing: set[str] = set()   # domains (and everything under them) that SERVFAIL
        self.silent: set[str] = set()    # domains (and everything under them) never answered
        self.queries = 0
        self.lock = threading.Lock()

    def add(self, name: str, *texts: str) -> None:
        with self.lock:
            self.records.setdefault(name.lower().rstrip("."), []).extend(texts)

    def replace(self, name: str, *texts: str) -> None:
        with self.lock:
            self.records[name.lower().rstrip(".")] = list(texts)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        with self.lock:
            self.queries += 1
            failing = any(name == d or name.endswith("." + d) for d in self.failing)
            silent = any(name == d or name.endswith("." + d) for d in self.silent)
            texts = list(self.records.get(name, ()))
            known = name in self.records
        if silent:   # dnslib's handler logs the error and sends nothing: the asker times out
            raise DNSError(f"{name}: never answered")
        if failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif request.q.qtype == QTYPE.TXT and texts:
            for text in texts:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(_txt_chunks(text)), ttl=60))
        elif not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DnsServer:
    def __init__(self) -> None:
        self.zone = Zone()
        self.port = _free_udp_tcp_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        self.servers = [DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=tcp, logger=quiet)
                        for tcp in (False, True)]

    def start(self) -> "DnsServer":
        for server in self.servers:
            server.start_thread()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def _free_udp_tcp_port() -> int:
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def key_for(domain: str) -> bytes:
    """The private key `domain` signs with (made once per test process)."""
    if domain not in KEYS:
        KEYS[domain], _ = _keys[domain]
    return KEYS[domain]


_keys: dict[str, tuple[bytes, str]] = {}


def sign(raw: bytes, domain: str = "police.example", selector: str = SELECTOR,
         headers: tuple[bytes, ...] = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"References",
                                       b"In-Reply-To", b"Content-Type", b"MIME-Version")) -> bytes:
    """A message signed with DKIM as `domain` would sign it."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    present = [h for h in headers if h.lower() + b":" in raw.lower()]
    return dkim.sign(raw, selector.encode(), domain.encode(), key_for(domain), include_headers=present) + raw


def world(zone: Zone) -> None:
    for domain in ("police.example", "evil.example", "example"):
        private, public = new_key(1024)   # 1024 bits: quick to make, and what dkimpy accepts at least
        _keys[domain] = (private, public)
        zone.add(f"{SELECTOR}._domainkey.{domain}", f"v=DKIM1; k=rsa; p={public}")
    zone.add("police.example", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add("_dmarc.police.example", "v=DMARC1; p=reject; adkim=r; aspf=r")
    zone.add("evil.example", "v=spf1 ip4:127.0.0.0/8 -all")
    zone.add("example.net", "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")
    zone.add("forged.example", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add("_dmarc.forged.example", "v=DMARC1; p=reject")
    zone.failing.add("servfail.example")
    zone.silent.add("silent.example")


_shared: DnsServer | None = None
_lock = threading.Lock()


def shared() -> DnsServer:
    """The test process's DNS server, started on first use."""
    global _shared
    with _lock:
        if _shared is None:
            server = DnsServer()
            world(server.zone)
            _shared = server.start()
    return _shared
