#!/usr/bin/env python3
"""OAuth 2.0 for Microsoft 365: how often the gateway asks the token service, and what a
token costs per connection. Against the test peers on loopback (tests/servers/oauth.py, a
token service serving what MSAL needs over HTTPS; tests/servers/xoauth_relay.py, a relay
requiring STARTTLS and AUTH XOAUTH2).

1. A steady run, simulated: the gateway's Tokens (MSAL's in-memory cache) asked for a token
   at every relay connection (one every --every seconds: the delivery worker's linger) and
   every IMAP login, over --hours hours of a clock moved forward; the token service counts
   the tokens it issued. Tokens live --lifetime seconds (Entra ID: 60-90 minutes).
2. Per connection, in real time: a token from memory; a token fetched (HTTPS, MSAL); a relay
   connection with STARTTLS + AUTH XOAUTH2 against one with STARTTLS + AUTH PLAIN; the
   bytes of the AUTH line.
Usage: .venv-test/bin/python bench/oauth_tokens.py [--hours 24] [--every 30] [--lifetime 3599] [--runs 50]
About 10 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway import tokens  # noqa: E402
from gateway.config.oauth2 import OAuth2, Relay  # noqa: E402
from gateway.config.security import RelayLogin  # noqa: E402
from tests.servers.oauth import CLIENT_ID, SECRET, TokenService  # noqa: E402
from tests.servers.xoauth_relay import XOAuthRelay  # noqa: E402


def oauth_of(service: TokenService) -> OAuth2:
    return OAuth2(tenant=service.tenant, client_id=CLIENT_ID, authority=service.authority,
                  scope="https://outlook.office365.com/.default", ca_file=service.ca_file, client_secret=SECRET,
                  secret_file=Path("m365-client-secret"))


def steady_run(service: TokenService, hours: float, every: float) -> tuple[int, int]:
    """(token requests, token() calls) over `hours` of a clock moved `every` s at a time."""
    real, offset = time.time, [0.0]
    time.time = lambda: real() + offset[0]   # MSAL, the cache and the service all read time.time
    try:
        provider = tokens.Tokens(oauth_of(service))
        before, calls = service.token_requests(), 0
        while offset[0] < hours * 3600:
            provider.token()      # a relay connection (an IMAP login asks the same cache)
            calls += 1
            offset[0] += every
        return service.token_requests() - before, calls
    finally:
        time.time = real


def median_ms(work, runs: int) -> float:
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took)


def plain_relay(folder: Path):
    """A STARTTLS + AUTH PLAIN relay (as tests/integration/test_our_mail.py's), for comparison."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.helpers import free_port
    from tests.servers.tls import make_certificates

    folder.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_certificates(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True,
                            authenticator=lambda *a: AuthResult(success=True))
    controller.start()
    return controller, port, ca


def per_connection(service: TokenService, folder: Path, runs: int) -> None:
    from tests.helpers import ready_settings, write_config
    from gateway.runtime.relay import open_relay

    oauth = oauth_of(service)
    provider = tokens.provider(oauth)
    fresh = median_ms(lambda: (provider.forget(provider.token()), provider.token()), max(5, runs // 5))
    cached = median_ms(provider.token, runs * 20) * 1000
    relay = XOAuthRelay(folder / "x", f"{service.authority}/introspect", service.ca_file).start()
    plain, plain_port, plain_ca = plain_relay(folder / "p")
    try:
        (folder / "pw").write_text("a password\n")
        settings = dataclasses.replace(ready_settings(write_config(folder)), oauth2=oauth)
        xo = Relay("relay", "127.0.0.1", relay.port, 10, login=RelayLogin(
            security="starttls", username="surgery@surgery.example.org", ca_file=relay.ca_file, auth="oauth2"))
        pw = Relay("relay", "127.0.0.1", plain_port, 10, login=RelayLogin(
            security="starttls", username="surgery@surgery.example.org", password="a password", ca_file=plain_ca))
        service.grants.mailboxes = ("surgery@surgery.example.org",)
        xo_ms = median_ms(lambda: open_relay(settings, xo).quit(), runs)
        pw_ms = median_ms(lambda: open_relay(settings, pw).quit(), runs)
        token = provider.token().value
        line = len("AUTH XOAUTH2 ") + len(tokens.base64.b64encode(
            tokens.xoauth2("surgery@surgery.example.org", token).encode()))
    finally:
        relay.stop()
        plain.stop()
    print(f"token from memory (MSAL cache):          {cached:8.1f} µs")
    print(f"token fetched (HTTPS to the service):     {fresh:8.1f} ms   (Entra ID over the Internet: more)")
    print(f"relay connection, STARTTLS + XOAUTH2:     {xo_ms:8.1f} ms   (the test relay also checks each token "
          "at the service over HTTPS)")
    print(f"relay connection, STARTTLS + AUTH PLAIN:  {pw_ms:8.1f} ms")
    print(f"AUTH XOAUTH2 line:                        {line:8d} bytes (AUTH PLAIN: about 60)")


def main() -> None:
    warnings.filterwarnings("ignore")   # aiosmtpd's login_data deprecation, once per login
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--every", type=float, default=30)
    parser.add_argument("--lifetime", type=int, default=3599)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        service = TokenService(Path(folder) / "entra", lifetime=args.lifetime).start()
        try:
            requests, calls = steady_run(service, args.hours, args.every)
            print(f"steady run: {args.hours:g} h, a connection every {args.every:g} s ({calls} token() calls), "
                  f"tokens good for {args.lifetime} s")
            print(f"token requests: {requests} in all, {requests / args.hours:.2f} per hour "
                  f"(one per {args.lifetime - 300} s: MSAL renews 5 minutes before expiry)")
            per_connection(service, Path(folder), args.runs)
        finally:
            service.stop()


if __name__ == "__main__":
    main()
