"""[oauth2] (an Entra ID app registration, for Microsoft 365) and the relays: [relay] and
[relay:bulletins], each a frozen Relay. Read by config.load; every problem names its section
and key. The client secret or the certificate's private key is read from a file, looked for
first in $CREDENTIALS_DIRECTORY, as the other secrets are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config.security import RelayLogin, relay_login, secret_file

AUTH_KINDS = ("password", "oauth2")
OFFICE365_SMTP = "smtp.office365.com"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_SCOPE = "https://outlook.office365.com/.default"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TENANT = re.compile(r"^[A-Za-z0-9.-]+$")


@dataclass(frozen=True)
class OAuth2:
    """[oauth2]: an app-only (client-credentials) token from Entra ID, for XOAUTH2 logins."""
    tenant: str
    client_id: str
    authority: str                       # https://login.microsoftonline.com, or a sovereign cloud's
    scope: str
    secret_file: Path | None = None      # the client secret, or:
    certificate_file: Path | None = None   # private key and certificate, PEM
    certificate_thumbprint: str = ""
    ca_file: Path | None = None          # a CA to trust for the token service besides the system's
    client_secret: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)

    @property
    def authority_url(self) -> str:
        return f"{self.authority}/{self.tenant}"

    @property
    def secret_name(self) -> str:
        """The file an administrator replaces when the secret or certificate is refused."""
        chosen = self.secret_file or self.certificate_file
        return chosen.name if chosen else "the secret file"


@dataclass(frozen=True)
class Relay:
    """Where outgoing mail leaves: [relay], or [relay:bulletins] for bulletin copies."""
    section: str        # "relay" or "relay:bulletins": named in every message about it
    host: str
    port: int
    timeout: float
    max_per_second: float = 0.0
    login: RelayLogin = field(default_factory=RelayLogin)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def oauth2_of(r, base: Path) -> OAuth2:
    """[oauth2] read with `r` (a values.Reader for the section)."""
    tenant = r.text("tenant", "", lambda v: None if v and _TENANT.match(v) else
                    "is required: the tenant's domain (contoso.onmicrosoft.com) or its id")
    client_id = r.text("client_id", "", lambda v: None if _GUID.match(v) else
                       "is required: the app registration's Application (client) ID, a GUID")
    authority = r.text("authority", DEFAULT_AUTHORITY, lambda v: None if v.startswith("https://") else
                       "must be an https:// address (the token service)").rstrip("/")
    scope = r.text("scope", DEFAULT_SCOPE)
    secret_name, cert_name = r.text("client_secret_file", ""), r.text("certificate_file", "")
    thumbprint = r.text("certificate_thumbprint", "").replace(":", "").upper()
    values = dict(tenant=tenant, client_id=client_id, authority=authority, scope=scope,
                  certificate_thumbprint=thumbprint)
    if bool(secret_name) == bool(cert_name):
        r.fail("client_secret_file", "give client_secret_file or certificate_file (with certificate_thumbprint), "
                                     "one of them")
    elif secret_name:
        values["secret_file"] = secret_file(secret_name, base)
        values["client_secret"] = _read(r, "client_secret_file", values["secret_file"])
    else:
        values["certificate_file"] = secret_file(cert_name, base)
        values["private_key"] = _read(r, "certificate_file", values["certificate_file"])
        if values["private_key"] and "PRIVATE KEY" not in values["private_key"]:
            r.fail("certificate_file", f"{values['certificate_file']} holds no PEM private key")
        if not re.match(r"^[0-9A-F]{40}$", thumbprint):
            r.fail("certificate_thumbprint", "is required with certificate_file: the certificate's SHA-1 "
                                             "thumbprint as Entra ID shows it (40 hex digits)")
    ca_name = r.text("ca_file", "")
    if ca_name:
        values["ca_file"] = base / ca_name
        if not values["ca_file"].is_file():
            r.fail("ca_file", f"{values['ca_file']} is not a file")
    return OAuth2(**values)


def _read(r, key: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        r.fail(key, f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
        return ""


def auth_of(r) -> str:
    """[relay] auth or [imap] auth: password (the default) or oauth2."""
    auth = r.text("auth", "password").lower()
    if auth not in AUTH_KINDS:
        r.fail("auth", f"{auth!r} must be password or oauth2")
        return "password"
    return auth


def relay_of(r, base: Path, *, host_required: bool = False) -> Relay:
    """[relay] or [relay:bulletins]: host, port, timeout, rate, and the login (password or
    oauth2: STARTTLS or TLS, then AUTH XOAUTH2 as username)."""
    host = r.text("host", "", (lambda v: None if v else "is required") if host_required else None)
    port = int(r.number("port", "25", int, 1, 65535))
    timeout = float(r.number("timeout_seconds", "30", float, 1, 600))
    rate = float(r.number("max_per_second", "0", float, 0, 100_000))
    return Relay(section=r.section, host=host, port=port, timeout=timeout, max_per_second=rate,
                 login=login_of(r, base, host))


def login_of(r, base: Path, host: str) -> RelayLogin:
    """A relay section's security, auth, username, password_file and ca_file."""
    return _oauth2_login(r, base) if auth_of(r) == "oauth2" else relay_login(r, base, host)


def check_uses(settings_parts: dict, oauth2: OAuth2 | None, problems: list[str], warnings: list[str],
               has_areas: bool) -> None:
    """Across sections: auth = oauth2 needs [oauth2]; bulletins through Exchange Online are warned of."""
    users = [f"[{name}] auth" for name, auth in settings_parts.items() if auth == "oauth2"]
    if users and oauth2 is None:
        problems.extend(f"{u}: oauth2 needs an [oauth2] section (the Entra ID app registration)" for u in users)
    bulletins = settings_parts.get("bulletins_host", "")
    if has_areas and bulletins.lower().rstrip(".") == OFFICE365_SMTP:
        where = "[relay:bulletins]" if settings_parts.get("relay:bulletins") else "[relay] (there is no [relay:bulletins])"
        warnings.append(f"{where} host: bulletins would leave through {OFFICE365_SMTP}, which takes about 30 "
                        "messages a minute and 10,000 recipients a day per mailbox: give bulletins their own "
                        "relay in [relay:bulletins]")


def _oauth2_login(r, base: Path) -> RelayLogin:
    security = r.text("security", "starttls").lower()
    if security not in ("starttls", "tls"):
        r.fail("security", "must be starttls or tls with auth = oauth2 (the token must never travel in clear)")
    username = r.text("username", "", lambda v: None if v else
                      "is required with auth = oauth2: the mailbox the gateway sends as")
    if r.text("password_file", ""):
        r.fail("password_file", "is not used with auth = oauth2 (the token comes from [oauth2]): remove it")
    ca_name = r.text("ca_file", "")
    ca_file = base / ca_name if ca_name else None
    if ca_file is not None and not ca_file.is_file():
        r.fail("ca_file", f"{ca_file} is not a file")
    return RelayLogin(security=security if security in ("starttls", "tls") else "starttls",
                      username=username, ca_file=ca_file, auth="oauth2")
