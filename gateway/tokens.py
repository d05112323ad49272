"""App-only OAuth 2.0 tokens for XOAUTH2 logins (Microsoft 365), from MSAL for Python.

The client-credentials flow: the app registration's secret or certificate buys an access
token for [oauth2] scope; there is no refresh token to keep. MSAL keeps the token in memory
and asks for a new one when less than five minutes of it are left, so a steady daemon asks
about once per token lifetime (an hour, for Entra ID), however many connections it opens.
One Tokens per [oauth2] section per process (`provider`), shared by IMAP and the relays.

A refusal is a TokenError naming Microsoft's AADSTS code and what to do about it; an outage
of the token service is a TokenError too: the caller retries as for a relay that is down.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from dataclasses import dataclass

from gateway.config.oauth2 import OAuth2
from gateway.errors import TemporaryFailure

log = logging.getLogger(__name__)
logging.getLogger("msal").setLevel(logging.WARNING)   # its debug log would show the requests

# Microsoft's codes (learn.microsoft.com, "Microsoft Entra authentication and authorization
# error codes"), said as what an administrator does about them. {secret} is the file's name.
ADVICE = {
    7000215: "the client secret is wrong or has expired: make a new one in Entra ID and replace {secret}",
    7000222: "the client secret has expired: make a new one in Entra ID and replace {secret}",
    700027: "the certificate was not accepted: upload its public part to the app registration in Entra ID, "
            "and check [oauth2] certificate_thumbprint and {secret}",
    700016: "no app with [oauth2] client_id in this tenant: check client_id and tenant",
    90002: "the tenant was not found: check [oauth2] tenant (contoso.onmicrosoft.com, or the tenant id)",
    900023: "the tenant is not valid: check [oauth2] tenant",
    65001: "admin consent is missing: in Entra ID, API permissions, grant admin consent for the app",
    7000112: "the app registration is disabled in Entra ID",
    70011: "the scope is not valid: check [oauth2] scope (https://outlook.office365.com/.default)",
    1002012: "the scope is not valid: check [oauth2] scope (https://outlook.office365.com/.default)",
    500011: "the resource is not in the tenant: check [oauth2] scope, and that Exchange Online is licensed",
}
_CODE = re.compile(r"AADSTS(\d+)")


class TokenError(TemporaryFailure):
    """No token: said as Microsoft's code and what to do; mail waits and is retried."""

    def __init__(self, message: str, code: int | None = None, outage: bool = False, plain: str = ""):
        super().__init__(message)
        self.code, self.outage = code, outage
        self.plain = plain or message   # the reason alone, without what the daemon does about it


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float        # time.time() when it stops being good
    fresh: bool              # just fetched from the token service (not from memory)

    def roles(self) -> tuple[str, ...]:
        """The app permissions the token carries (its JWT's roles claim), read without
        verifying: only to say what is missing when a login is refused."""
        try:
            payload = self.value.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return tuple(claims.get("roles", ()))
        except (IndexError, ValueError, AttributeError):
            return ()


def xoauth2(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def mailbox_advice(token: Token, role: str, username: str) -> str:
    """What to do when a login with a good token is refused: the role, or the mailbox's permission."""
    roles = token.roles()
    if roles and role not in roles:
        return (f"the token lacks the {role} permission: add it to the app registration in Entra ID "
                "(APIs my organization uses, Office 365 Exchange Online) and grant admin consent")
    return (f"the app has no permission on the mailbox {username}: in Exchange Online PowerShell run "
            "New-ServicePrincipal and Add-MailboxPermission for it (README, Microsoft 365)"
            + (", and enable SMTP AUTH on the mailbox" if role.startswith("SMTP") else ""))


_ERROR = re.compile(r"[a-z_]{1,40}")   # OAuth 2.0's error codes (invalid_client, ...): nothing else is shown


def explain(oauth: OAuth2, error: str, description: str) -> TokenError:
    """Microsoft's error answer as a TokenError in plain words: the AADSTS code (or OAuth
    error code) and our own words, never the service's description, which a proxy or a
    wrong authority may fill with the request it was sent, client secret and all."""
    found = _CODE.search(description or "")
    code = int(found.group(1)) if found else None
    advice = ADVICE.get(code or -1, "").format(secret=oauth.secret_name)
    kind = error if _ERROR.fullmatch(error or "") else ""
    label = f"AADSTS{code}" if code else (kind or "no error code")
    if not advice:
        advice = (f"an error the gateway does not know ({kind or 'no OAuth error code'}): look {label} up in "
                  "Microsoft's Entra error codes" if code else
                  "the token service gave no AADSTS code (is [oauth2] authority right, or is a proxy answering?)")
    return TokenError(f"[oauth2] no token from {oauth.authority_url}: {label}: {advice}", code)


class Tokens:
    """The token of one [oauth2] section, kept in memory and renewed ahead of expiry."""

    def __init__(self, oauth: OAuth2):
        self.oauth = oauth
        self.lock = threading.Lock()
        self._app = None
        self.requests = 0            # tokens fetched from the token service (not from memory)
        self.problem: str | None = None   # why the last attempt gave no token (the health check)
        self._not_at_fault = ""      # a token refused at a login as soon as it was fetched

    def token(self) -> Token:
        """A good token: from memory, or fetched. Raises TokenError."""
        with self.lock:
            try:
                result = self._client().acquire_token_for_client(scopes=[self.oauth.scope])
            except TokenError as exc:
                self.problem = str(exc)
                raise
            except Exception as exc:   # requests' connection errors, TLS, a malformed answer
                raise self._outage(exc) from exc
            if "access_token" not in result:
                error = explain(self.oauth, result.get("error", ""), result.get("error_description", ""))
                self.problem = str(error)   # the caller says it, where its log or output goes
                raise error
            fresh = result.get("token_source") != "cache"
            if fresh:
                self.requests += 1
                log.info("oauth2: new token for %s, good for %s s", self.oauth.client_id, result.get("expires_in"))
            self.problem = None
            return Token(result["access_token"], time.time() + int(result.get("expires_in", 0)), fresh)

    def refused(self, token: Token) -> bool:
        """A peer refused a login with `token`. One from memory may have been revoked or have
        died early: it is forgotten, and True says to try once more with a new one. One just
        fetched is not at fault (the permission on the mailbox is missing, say): it is kept and
        remembered, so a login refused again and again costs the token service nothing."""
        with self.lock:
            if token.fresh:
                self._not_at_fault = token.value
                return False
            if token.value == self._not_at_fault:
                return False
        self.forget(token)
        return True

    def forget(self, token: Token) -> None:
        """Drop `token` from memory: the next token() fetches a new one."""
        with self.lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for entry in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                if entry.get("secret") == token.value:
                    cache.remove_at(entry)

    def _client(self):
        """MSAL's app, made on first use: making it asks the token service for the tenant's
        endpoints, which may be down (then it is made again next time)."""
        if self._app is None:
            import msal

            o = self.oauth
            credential = o.client_secret or {"private_key": o.private_key, "thumbprint": o.certificate_thumbprint}
            try:
                self._app = msal.ConfidentialClientApplication(
                    o.client_id, client_credential=credential, authority=o.authority_url,
                    http_client=_session(o), timeout=30,
                    # No instance discovery (a request to login.microsoftonline.com about the
                    # authority): the administrator named it, a sovereign cloud's or another.
                    instance_discovery=False)
            except ValueError as exc:   # the tenant's discovery document was refused (MSAL keeps
                error = explain(o, "", f"{exc.__context__} {exc}")   # the answer's text in the context)
                if error.code is None:
                    raise self._outage(exc) from exc
                raise error from exc
        return self._app

    def _outage(self, exc: BaseException) -> TokenError:
        plain = f"[oauth2] the token service {self.oauth.authority} cannot be reached ({_reason(exc)})"
        error = TokenError(f"{plain}; mail waits and it is tried again", outage=True, plain=plain)
        self.problem = str(error)
        return error


def _reason(exc: BaseException) -> str:
    """What went wrong, whole and on one line. requests wraps urllib3's MaxRetryError, whose
    reason is the real cause ("Failed to resolve 'login.microsoftonline.com' ([Errno -2] Name
    or service not known)"): that is said, without the pool's and connection's descriptions."""
    found = exc
    if found.args and isinstance(found.args[0], BaseException):     # requests' ConnectionError
        found = found.args[0]
    if isinstance(getattr(found, "reason", None), BaseException):   # urllib3's MaxRetryError
        found = found.reason
    text = re.sub(r"^(<[^>]*>|\w+\([^)]*\)): ", "", " ".join(str(found).split()))
    return f"{type(found).__name__}: {text or 'no detail'}"


def _session(oauth: OAuth2):
    """The HTTP session MSAL speaks through: with [oauth2] ca_file, that bundle verifies the
    token service. (requests lets $REQUESTS_CA_BUNDLE override a session's own verify, which
    would silently drop the key: this session keeps it.)"""
    import requests

    class Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            merged["verify"] = self.verify
            return merged

    session = Session() if oauth.ca_file else requests.Session()
    if oauth.ca_file:
        session.verify = str(oauth.ca_file)
    return session


_providers: dict[OAuth2, Tokens] = {}
_providers_lock = threading.Lock()


def provider(oauth: OAuth2) -> Tokens:
    """The one Tokens of this [oauth2] section in this process."""
    with _providers_lock:
        if oauth not in _providers:
            _providers[oauth] = Tokens(oauth)
        return _providers[oauth]


def problems() -> list[str]:
    """Why no token could be had lately, for /healthz (none: every provider has one)."""
    with _providers_lock:
        return [t.problem for t in _providers.values() if t.problem]
