"""The config sections about trust and secrets: [trust], [dkim], and the TLS and login keys
of [smtp] and [relay]. Read by config.load; every problem names its section and key.

Secrets (the relay's password, the DKIM private key) are read from files, never from the
INI itself. A relative file name is looked for first in $CREDENTIALS_DIRECTORY (systemd's
LoadCredential=), then beside the config file.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path


RELAY_SECURITY = ("none", "starttls", "tls")
# Ranges no stranger on the Internet connects from, allowed at any size in trusted_networks
# and authserv_networks: loopback, private use (RFC 1918), link-local, IPv6 unique local
# (fc00::/7). Not 100.64.0.0/10: carrier-grade NAT space is shared with an ISP's other
# customers, so it is held to the public limit below, like any other address.
PRIVATE_RANGES = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))
WIDEST_PUBLIC = {4: 24, 6: 48}   # a range holding public addresses may be no wider than this
# IPv6 prefixes whose addresses are IPv4 ones (mapped, NAT64): judged as the IPv4 range inside.
EMBEDDED_IPV4 = tuple(ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96"))


@dataclass(frozen=True)
class TrustSettings:
    """[trust]: how the gateway tells who is speaking."""

    dns_servers: tuple[tuple[str, int], ...] = ()   # empty: the system's resolvers
    dns_timeout: float = 3.0
    authserv_id: str = ""                  # read this server's Authentication-Results instead of checking
    trusted_networks: tuple = ()           # ipaddress networks whose SMTP clients vouch for trusted_domains
    trusted_domains: tuple[str, ...] = ()
    authserv_networks: tuple = ()          # ipaddress networks whose SMTP clients' A-R headers count
    police_domains: tuple[str, ...] = ()   # no address in these (or below them) reaches a resident


@dataclass(frozen=True)
class DkimSigning:
    domain: str
    selector: str
    key_file: Path
    private_key: bytes = field(repr=False)


@dataclass(frozen=True)
class RelayLogin:
    security: str = "none"          # none | starttls | tls
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None
    auth: str = "password"          # password | oauth2 (AUTH XOAUTH2 with a token from [oauth2])


@dataclass(frozen=True)
class ListenerTls:
    cert: Path
    key: Path


# The value of the unit's SetCredential= stand-ins (runtime/unit.py): systemd hands it over
# when a LoadCredential= file is missing, and it counts as no credential at all.
ABSENT_CREDENTIAL = "absent"


def secret_file(name: str, base: Path) -> Path:
    """Where a secret file named in the config is: absolute as given; relative, in
    $CREDENTIALS_DIRECTORY when it is there (and not the unit's stand-in), else beside the
    config file."""
    path = Path(name)
    if path.is_absolute():
        return path
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / path).is_file() and not _stand_in(Path(credentials) / path):
        return Path(credentials) / path
    return base / path


def _stand_in(path: Path) -> bool:
    try:
        return path.stat().st_size < 64 and path.read_bytes().strip() == ABSENT_CREDENTIAL.encode()
    except OSError:
        return False


def trust(reader, problems: list[str], police_default: tuple[str, ...], legacy_authserv: str,
          smtp_intake: bool = False) -> TrustSettings:
    """[trust]: how senders are checked. `smtp_intake`: [smtp] listen is set (anyone may
    connect there, so Authentication-Results need authserv_networks to count)."""
    servers = []
    for item in reader.items("dns_servers"):
        host, sep, port = item.rpartition(":") if item.count(":") == 1 or item.startswith("[") else ("", "", "")
        host, port = (host.strip("[]"), port) if sep else (item.strip("[]"), "53")
        try:
            ipaddress.ip_address(host)
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError
        except ValueError:
            reader.fail("dns_servers", f"{item!r} must be an IP address with an optional :PORT, e.g. 127.0.0.1:5353")
            continue
        servers.append((host, int(port)))
    timeout = float(reader.number("dns_timeout_seconds", "3", float, 0.1, 60))
    authserv_id = reader.text("authserv_id", "") or legacy_authserv
    networks = networks_of(reader, "trusted_networks")
    authserv_networks = networks_of(reader, "authserv_networks")
    if authserv_id and smtp_intake and not authserv_networks:
        reader.fail("authserv_networks", f"is required with authserv_id while [smtp] listen is set: the networks of "
                                         f"the receiving server(s) that write the Authentication-Results of "
                                         f"{authserv_id} (anyone can connect to the SMTP port and write that header)")
    if authserv_networks and not authserv_id:
        reader.fail("authserv_networks", "is set but authserv_id is empty: name your receiving server's authserv-id")
    domains = tuple(d.lower().strip(".") for d in reader.items("trusted_domains"))
    if networks and not domains:
        reader.fail("trusted_domains", "is required with trusted_networks: the domains those servers send for")
    police = tuple(d.lower().strip(".") for d in reader.items("police_domains")) or police_default
    return TrustSettings(dns_servers=tuple(servers), dns_timeout=timeout, authserv_id=authserv_id,
                         trusted_networks=tuple(networks), trusted_domains=domains, police_domains=police,
                         authserv_networks=tuple(authserv_networks))


def networks_of(reader, key: str) -> list:
    """A comma-separated list of CIDR ranges, each one narrow enough to trust (too_wide)."""
    networks = []
    for item in reader.items(key):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            reader.fail(key, f"{item!r} is not a network in CIDR form, e.g. 10.20.0.0/16")
            continue
        problem = too_wide(network)
        if problem:
            reader.fail(key, f"{item!r} {problem}")
        else:
            networks.append(network)
    return networks


def too_wide(network) -> str | None:
    """Why a range is too wide to trust, or None: one holding public addresses may be no
    wider than a /24 (IPv4) or /48 (IPv6); private, loopback and link-local ones any size."""
    if network.prefixlen == 0:
        return f"is every IPv{network.version} address: it would trust anyone on the Internet"
    for embedded in EMBEDDED_IPV4:
        if network.version == 6 and network.subnet_of(embedded):
            network = ipaddress.ip_network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
            break
        if network.version == 6 and network.supernet_of(embedded):
            return f"holds {embedded}, which is every IPv4 address: it would trust anyone on the Internet"
    if any(network.subnet_of(r) for r in PRIVATE_RANGES if r.version == network.version):
        return None
    widest = WIDEST_PUBLIC[network.version]
    if network.prefixlen < widest:
        return (f"holds public addresses and is wider than a /{widest}: it would trust servers that are not yours; "
                f"list your own servers (private, loopback and link-local ranges may be any size)")
    return None


def dkim(reader, base: Path) -> DkimSigning | None:
    """[dkim]: sign every outgoing message, once domain, selector and key_file are set."""
    domain, selector, key_name = (reader.text(k, "") for k in ("domain", "selector", "key_file"))
    if not (domain or selector or key_name):
        return None
    for key, value in (("domain", domain), ("selector", selector), ("key_file", key_name)):
        if not value:
            reader.fail(key, "is required with the other [dkim] keys (domain, selector, key_file)")
    if not key_name:
        return None
    path = secret_file(key_name, base)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        reader.fail("key_file", f"cannot read {path}: {exc.strerror or exc}")
        return None
    problem = _check_private_key(pem)
    if problem:
        reader.fail("key_file", f"{path}: {problem}")
        return None
    if not (domain and selector):
        return None
    return DkimSigning(domain=domain.lower(), selector=selector, key_file=path, private_key=pem)


def relay_login(reader, base: Path, host: str) -> RelayLogin:
    """[relay] security, username, password_file, ca_file."""
    security = reader.text("security", "none").lower()
    if security not in RELAY_SECURITY:
        reader.fail("security", f"{security!r} must be starttls, tls or none")
        security = "none"
    username = reader.text("username", "")
    password_name = reader.text("password_file", "")
    password = ""
    if username and not password_name:
        reader.fail("password_file", "is required with username (a file holding only the password)")
    elif password_name:
        path = secret_file(password_name, base)
        try:
            password = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as exc:
            reader.fail("password_file", f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
        if not username:
            reader.fail("username", "is required with password_file")
    if username and security == "none" and host and not loopback(host):
        reader.fail("security", f"none would send the relay password in clear to {host}: use starttls or tls")
    ca_name = reader.text("ca_file", "")
    ca_file = base / ca_name if ca_name else None
    if ca_file is not None:
        _check_ca(reader, ca_file)
    return RelayLogin(security=security, username=username, password=password, ca_file=ca_file)


def listener_tls(reader, base: Path) -> ListenerTls | None:
    """[smtp] tls_cert and tls_key: STARTTLS at the SMTP listener."""
    cert, key = reader.text("tls_cert", ""), reader.text("tls_key", "")
    if not cert and not key:
        return None
    if not (cert and key):
        reader.fail("tls_key" if cert else "tls_cert", "give both tls_cert and tls_key, or neither")
        return None
    tls = ListenerTls(cert=base / cert, key=secret_file(key, base))
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as exc:
        reader.fail("tls_cert", f"cannot load {tls.cert} with {tls.key}: {exc}")
        return None
    return tls


def _check_private_key(pem: bytes) -> str | None:
    """What is wrong with a DKIM private key file's contents, or None."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except Exception as exc:
        return f"not a PEM private key without a passphrase ({type(exc).__name__})"
    if not isinstance(key, rsa.RSAPrivateKey):
        return "must be an RSA key (gateway dkim-keygen makes one)"
    return None if key.key_size >= 1024 else f"an RSA key of {key.key_size} bits is too short (2048 is usual)"


def _check_ca(reader, ca_file: Path) -> None:
    try:
        ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        reader.fail("ca_file", f"cannot load {ca_file}: {exc}")


def loopback(host: str) -> bool:
    """Whether a host name is this machine (where a password in clear goes nowhere)."""
    return host in ("localhost", "::1") or host.startswith("127.")
