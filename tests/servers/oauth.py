"""An OAuth 2.0 token service on loopback, playing Entra ID for the client-credentials flow:
HTTPS with a certificate made in the test, the tenant's OpenID discovery document
(/{tenant}/v2.0/.well-known/openid-configuration), the token endpoint
(/{tenant}/oauth2/v2.0/token) taking a client secret or a certificate's signed assertion,
and issuing signed tokens (RS256 JWT) with an expiry, and an introspection endpoint
(/introspect, RFC 7662) for Dovecot's oauth2 passdb and the XOAUTH2 relay.

Errors come as Entra ID writes them ({"error", "error_description": "AADSTSnnn: ...",
"error_codes"}). The service can be told to refuse a secret (`secret`), withhold consent,
grant no mailbox, issue tokens that die early (`valid_for`), and go down and come back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import free_port
from tests.servers.tls import make_certificates

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6b5f1c1e-0d5e-4a8e-9a43-2f1b8c7d9e01"
SECRET = "test-client-secret-not-real~0123456789"
AUDIENCE = "https://outlook.office365.com"


@dataclass
class Grants:
    """What the tenant's administrator did for the app."""
    secret: str = SECRET                  # the app's current client secret
    certificate_thumbprint: str = ""      # SHA-1 of the certificate uploaded, hex upper
    certificate_key: object = None        # its public key
    consent: bool = True                  # admin consent granted
    roles: tuple[str, ...] = ("IMAP.AccessAsApp", "SMTP.SendAsApp")
    mailboxes: tuple[str, ...] = ()       # Add-MailboxPermission: the mailboxes the app may use
    unknown: str = ""                     # refuse every request with AADSTS9999999 and this description


def _aad(status: int, error: str, code: int, text: str) -> web.Response:
    body = {"error": error, "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {uuid.uuid4()}",
            "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())}
    return web.json_response(body, status=status)


@dataclass
class TokenService:
    folder: Path
    tenant: str = TENANT
    lifetime: int = 3599            # expires_in told to the client
    valid_for: int | None = None    # how long a token really works (None: lifetime): "expire early"
    grants: Grants = field(default_factory=Grants)

    def __post_init__(self):
        self.port = free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file, cert, key = make_certificates(self.folder)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.lock = threading.Lock()
        self.issued: list[str] = []          # every token handed out (the count of token requests)
        self.refused: list[str] = []         # every refusal's AADSTS line
        self.revoked: set[str] = set()       # tokens that stopped working early
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: web.AppRunner | None = None
        self.thread: threading.Thread | None = None

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.authority}/{self.tenant}"

    # -- the endpoints --------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_post("/introspect", self.introspect)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != self.tenant:
            return _aad(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check to make sure you "
                        "have the correct tenant ID and are signing into the correct cloud.")
        base = f"{self.authority}/{tenant}"
        return web.json_response({
            "issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "jwks_uri": f"{base}/discovery/v2.0/keys", "introspection_endpoint": f"{self.authority}/introspect",
            "response_types_supported": ["code", "token"], "token_endpoint_auth_methods_supported":
                ["client_secret_post", "private_key_jwt"]})

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != self.tenant:
            return _aad(400, "invalid_request", 90002, f"Tenant '{request.match_info['tenant']}' not found.")
        refusal = self._refusal(form, str(request.url))
        if refusal is not None:
            with self.lock:
                self.refused.append(json.loads(refusal.body)["error_description"].split("\r\n")[0])
            return refusal
        now = int(time.time())
        claims = {"aud": AUDIENCE, "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now, "nbf": now,
                  "exp": now + (self.valid_for if self.valid_for is not None else self.lifetime),
                  "appid": form["client_id"], "tid": self.tenant, "roles": list(self.grants.roles),
                  "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self.signing_key, algorithm="RS256")
        with self.lock:
            self.issued.append(token)
        return web.json_response({"token_type": "Bearer", "expires_in": self.lifetime,
                                  "ext_expires_in": self.lifetime, "access_token": token})

    def _refusal(self, form, url: str) -> web.Response | None:
        if self.grants.unknown:   # a code the gateway does not know, or a proxy echoing the request
            return _aad(400, "invalid_request", 9999999, self.grants.unknown)
        if form.get("grant_type") != "client_credentials":
            return _aad(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("client_id") != CLIENT_ID:
            return _aad(400, "unauthorized_client", 700016, f"Application with identifier '{form.get('client_id')}' "
                        f"was not found in the directory '{self.tenant}'.")
        if "client_assertion" in form:
            if not self._assertion_ok(form["client_assertion"], url):
                return _aad(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        elif form.get("client_secret") != self.grants.secret:
            return _aad(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                        f"sent in the request is the client secret value, not the client secret ID, for a secret "
                        f"added to app '{CLIENT_ID}'.")
        if form.get("scope") != f"{AUDIENCE}/.default":
            return _aad(400, "invalid_scope", 1002012, f"The provided value for scope {form.get('scope')} is not valid.")
        if not self.grants.consent:
            return _aad(400, "invalid_grant", 65001, f"The user or administrator has not consented to use the "
                        f"application with ID '{CLIENT_ID}'. Send an interactive authorization request for this "
                        "user and resource.")
        return None

    def _assertion_ok(self, assertion: str, url: str) -> bool:
        header = jwt.get_unverified_header(assertion)
        thumb = self.grants.certificate_thumbprint
        x5t = base64.urlsafe_b64encode(bytes.fromhex(thumb)).rstrip(b"=").decode() if thumb else None
        if not thumb or str(header.get("x5t", "")).rstrip("=") != x5t and "x5t#S256" not in header:
            return False
        try:
            jwt.decode(assertion, self.grants.certificate_key, algorithms=["RS256", "PS256"], audience=url,
                       options={"verify_aud": False})
        except jwt.PyJWTError:
            return False
        return True

    async def introspect(self, request: web.Request) -> web.Response:
        form = await request.post()
        # An inactive token still names a username and imap_access: Dovecot's oauth2 passdb
        # takes an answer without them for its own failure ("temporary"), not the token's.
        dead = {"active": False, "email": self.grants.mailboxes[0] if self.grants.mailboxes else "-",
                "imap_access": "expired"}
        try:
            claims = jwt.decode(form.get("token", ""), self.signing_key.public_key(), algorithms=["RS256"],
                                audience=AUDIENCE)
        except jwt.PyJWTError:
            return web.json_response(dead)
        with self.lock:
            if form.get("token") in self.revoked:
                return web.json_response(dead)
        roles = claims.get("roles", [])
        answer = {"active": True, "client_id": claims["appid"], "exp": claims["exp"], "roles": roles,
                  "mailboxes": list(self.grants.mailboxes),
                  # for Dovecot's oauth2 passdb: the mailbox the app may open, and whether it may use IMAP
                  "email": self.grants.mailboxes[0] if self.grants.mailboxes else "-",
                  "imap_access": "granted" if "IMAP.AccessAsApp" in roles else "none"}
        return web.json_response(answer)

    # -- what a test tells it -------------------------------------------------------------
    def use_certificate(self) -> tuple[Path, str]:
        """Upload a new certificate to the app; returns (PEM file with key and certificate, thumbprint)."""
        from tests.servers.tls import _name
        import datetime as dt
        from cryptography.hazmat.primitives import hashes

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name("gateway app")).issuer_name(_name("gateway app"))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
                .sign(key, hashes.SHA256()))
        thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        self.grants.certificate_thumbprint, self.grants.certificate_key = thumbprint, key.public_key()
        pem = self.folder / "m365-app.pem"
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
        return pem, thumbprint

    def revoke_all(self) -> None:
        """Every token handed out so far stops working (as if expired early)."""
        with self.lock:
            self.revoked.update(self.issued)

    def token_requests(self) -> int:
        with self.lock:
            return len(self.issued)

    def oauth2_section(self, secret_file: str = "m365-client-secret", **overrides: str) -> dict[str, str]:
        """An [oauth2] section for this service; writes the secret file beside the config."""
        (self.folder / secret_file).write_text(SECRET + "\n")
        return {"tenant": self.tenant, "client_id": CLIENT_ID, "client_secret_file": secret_file,
                "authority": self.authority, "ca_file": str(self.ca_file)} | overrides

    # -- running --------------------------------------------------------------------------
    def start(self) -> "TokenService":
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name="token-service")
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the token service did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._listen())
        ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._unlisten())
        self.loop.close()

    async def _listen(self) -> None:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.context, reuse_address=True).start()

    async def _unlisten(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def down(self) -> None:
        """Stop answering: connections to the port are refused."""
        asyncio.run_coroutine_threadsafe(self._unlisten(), self.loop).result(10)

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)

    def stop(self) -> None:
        if self.loop is not None and self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.thread = None
