"""An SMTP relay as Exchange Online's smtp.office365.com:587 behaves for an app: STARTTLS
required, then AUTH XOAUTH2 required, the bearer token checked against the token service's
introspection endpoint (active, the SMTP.SendAsApp role, and the app's permission on the
mailbox named in user=). A refusal is sent as XOAUTH2 does: a 334 challenge holding a JSON
error, then 535 after the client's empty line. A token that dies during a session is caught
at the next MAIL FROM: 421, and the connection is closed, as Exchange does."""

from __future__ import annotations

import asyncio
import base64
import collections
import email
import json
import ssl
import urllib.parse
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from tests.conftest import Relay
from tests.helpers import wait_for
from tests.servers.tls import make_certificates


class _Handler:
    def __init__(self, relay: "XOAuthRelay"):
        self.relay = relay

    async def auth_XOAUTH2(self, server, args):
        blob = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        if not isinstance(blob, bytes):
            return AuthResult(success=False)
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        why = await asyncio.to_thread(self.relay.check, user, token)
        if why:
            with self.relay.lock:
                self.relay.refusals.append(why)
            error = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://outlook.office365.com/.default"})
            await server.challenge_auth(error)       # the client answers with an empty line
            return AuthResult(success=False, handled=False, message=self.relay.refusal)
        server.session.xoauth_token = token
        with self.relay.lock:
            self.relay.logins.append((user, token))
        return AuthResult(success=True, auth_data=user)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        token = getattr(session, "xoauth_token", None)
        if token and await asyncio.to_thread(self.relay.check, session.auth_data, token):
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.7.0 The access token has expired; connection closed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.relay.keep(session.auth_data, envelope.rcpt_tos, envelope.original_content or envelope.content)
        return "250 2.6.0 Queued mail for delivery"


class _LongLines(SMTP):
    """An AUTH XOAUTH2 line holds a whole JWT: Exchange takes lines of several kilobytes,
    aiosmtpd only 512 bytes unless told."""
    line_length_limit = 16384

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.command_size_limits = collections.defaultdict(lambda: 16384)


class _Controller(Controller):
    def factory(self):
        return _LongLines(self.handler, **self.SMTP_kwargs)


class XOAuthRelay(Relay):
    """The outgoing relay of tests/conftest.py (what it keeps, stop, messages), behind STARTTLS
    and AUTH XOAUTH2 checked against the token service's introspection."""

    def __init__(self, folder: Path, introspection_url: str, ca_file: Path):
        super().__init__()
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file, cert, key = make_certificates(folder)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(cert, key)
        self.introspection_url = introspection_url
        self.client_tls = ssl.create_default_context(cafile=str(ca_file))
        self.logins: list[tuple[str, str]] = []
        self.refusals: list[str] = []
        self.refusal = "535 5.7.3 Authentication unsuccessful"   # the reply to a refused login

    def check(self, user: str, token: str) -> str | None:
        """Why this token may not send as `user` (None: it may)."""
        body = urllib.parse.urlencode({"token": token}).encode()
        try:
            with urllib.request.urlopen(self.introspection_url, body, timeout=5, context=self.client_tls) as answer:
                info = json.load(answer)
        except OSError as exc:
            return f"introspection failed: {exc}"
        if not info.get("active"):
            return "token not active"
        if "SMTP.SendAsApp" not in info.get("roles", []):
            return "no SMTP.SendAsApp role"
        if user not in info.get("mailboxes", []):
            return f"no permission on {user}"
        return None

    def start(self) -> "XOAuthRelay":
        self.controller = _Controller(_Handler(self), hostname="127.0.0.1", port=self.port, tls_context=self.tls,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     auth_exclude_mechanism=["LOGIN", "PLAIN"])
        self.controller.start()
        return self

    def wait(self, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        wait_for(lambda: len(self.messages()) >= count, timeout, what=f"{count} messages at the XOAUTH2 relay")
        return self.messages()

    def section(self, username: str, **overrides: str) -> dict[str, str]:
        """A [relay] (or [relay:bulletins]) section for this relay."""
        return {"host": "127.0.0.1", "port": str(self.port), "security": "starttls", "auth": "oauth2",
                "username": username, "ca_file": str(self.ca_file)} | overrides
