"""The INI file -> frozen Settings. Every problem names its section and key.

Relative paths (the SQLite file, the spool, a templates folder) are taken relative to the
folder that holds the config file, so every command finds the same files wherever it is run.
"""

from __future__ import annotations

import configparser
import difflib
import re
import zoneinfo
from pathlib import Path

from gateway.config import keyring as keys, oauth2 as oauth, security
from gateway.config.sections import areas_of, imap_of, teams_of
from gateway.config.settings import Form, Retention, Settings
from gateway.config.values import DOMAIN_RE, Reader, check_address, check_required
from gateway.errors import ConfigError
from gateway.promise import calendar

PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
# Danger is recognised by gateway/mail/urgency.py; [urgent] phrases only adds local words
# that flag a message on their own (none by default).
DEFAULT_URGENT_PHRASES = ""


KNOWN_KEYS = {
    "gateway": {"domain", "surgery_address", "database", "secret", "spool", "reference_prefix",
                "timezone", "response_days", "templates", "log_level", "trusted_authserv_id", "admin_address",
                "log_format", "log_addresses", "secret_file", "secret_grace_days"},
    "smtp": {"listen", "max_message_bytes", "in_flow_delay", "in_flow_backlog", "tls_cert", "tls_key",
             "max_connections", "max_connections_per_client", "idle_timeout_seconds"},
    "relay": {"host", "port", "timeout_seconds", "retry_delays", "retry_deadline_hours", "max_per_second",
              "security", "username", "password_file", "ca_file", "auth"},
    "relay:bulletins": {"host", "port", "timeout_seconds", "max_per_second", "security", "username",
                        "password_file", "ca_file", "auth"},
    "oauth2": {"tenant", "client_id", "client_secret_file", "certificate_file", "certificate_thumbprint",
               "authority", "scope", "ca_file"},
    "trust": {"dns_servers", "dns_timeout_seconds", "authserv_id", "trusted_networks", "trusted_domains",
              "police_domains", "authserv_networks"},
    "dkim": {"domain", "selector", "key_file"},
    "http": {"listen", "base_url", "form", "form_per_client_per_hour", "form_min_seconds", "proxy_networks"},
    "urgent": {"phrases", "remind_after_minutes", "escalate_to", "escalate_after_minutes"},
    "clock": {"timezone", "business_hours", "extra_closed_days", "restart_on_resident_message",
              "remind_before_working_days", "digest_time", "check_seconds"},
    "limits": {"acks_per_sender_per_day", "acks_per_hour", "new_cases_per_sender_per_hour", "spam_header",
               "spam_threshold", "max_attachments", "max_attachment_bytes", "auto_replies_per_address_per_day"},
    "area": {"name", "team", "postcodes", "name_cy"},
    "retention": {"closed_case_months", "quarantine_days", "bounce_days", "ended_subscription_days"},
    "worker": {"lease_seconds", "poll_seconds", "delivery_workers"},
    "imap": {"host", "port", "security", "username", "password", "password_file", "folder", "done_folder",
             "idle", "poll_seconds", "timeout_seconds", "batch_size", "ca_file", "auth"},
    "team": {"name", "mailbox", "address", "officers", "postcodes", "default", "supervisor", "name_cy"},
    "audit": {"anchor_file"},
}


def load(path: str | Path) -> Settings:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    return from_parser(read_parser(path), path)


def read_parser(path: Path) -> configparser.ConfigParser:
    """The INI file parsed, not yet checked; ConfigError if it cannot be read at all."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"]) from exc
    except configparser.MissingSectionHeaderError as exc:   # configparser's own words take three lines
        raise ConfigError([f"{path} line {exc.lineno}: {exc.line.strip()!r} comes before any [section] header: "
                           "every key belongs under one, e.g. [gateway]"]) from exc
    except configparser.Error as exc:
        raise ConfigError([f"{path} is not a valid INI file: "
                           + "; ".join(line.strip() for line in exc.message.splitlines() if line.strip())]) from exc
    return parser


def from_parser(parser: configparser.ConfigParser, path: Path | None) -> Settings:
    """Build Settings from a parsed INI; paths are relative to the config file's folder."""
    problems: list[str] = []
    warnings: list[str] = []
    base = path.resolve().parent if path else Path.cwd()
    _check_sections(parser, problems)

    g = Reader(parser, "gateway", problems)
    domain = g.text("domain", "", lambda v: None if DOMAIN_RE.match(v) else
                    ("is required (the gateway's mail domain)" if not v else f"{v!r} is not a domain name")).lower()
    surgery = g.text("surgery_address", "", check_address).lower()
    if surgery and domain and not surgery.endswith("@" + domain):
        g.fail("surgery_address", f"must be in the gateway's domain {domain}")
    database = _database_url(g.text("database", "sqlite:///var/gateway.db", _check_database_url), base)
    keyring = _keyring(g, database, base, problems)
    spool = base / g.text("spool", "var/outbox", check_required)
    prefix = g.text("reference_prefix", "SRG", lambda v: None if PREFIX_RE.match(v) else
                    f"{v!r} must be 1-10 capital letters or digits, starting with a letter")
    timezone = g.text("timezone", "Europe/London", _check_timezone)
    response_days = int(g.number("response_days", "5", int, 1, 60))
    templates_raw = g.text("templates", "")
    templates = base / templates_raw if templates_raw else None
    if templates and not templates.is_dir():
        g.fail("templates", f"folder {templates} does not exist")
    log_level = g.text("log_level", "info", lambda v: None if v.lower() in
                       ("debug", "info", "warning", "error") else "must be debug, info, warning or error")
    trusted_authserv_id = g.text("trusted_authserv_id", "")
    admin_address = g.text("admin_address", "", lambda v: None if not v else check_address(v)).lower()
    log_format = g.text("log_format", "text", lambda v: None if v.lower() in ("text", "json")
                        else "must be text or json").lower()
    log_addresses = g.text("log_addresses", "hash", lambda v: None if v.lower() in ("full", "hash", "none")
                           else "must be full, hash or none").lower()
    if trusted_authserv_id:
        warnings.append("[gateway] trusted_authserv_id: still read, but renamed: use [trust] authserv_id")

    s = Reader(parser, "smtp", problems)
    listen = _listen(s)
    max_bytes = int(s.number("max_message_bytes", "10485760", int, 1024, 256 * 1024 * 1024))
    in_flow = dict(in_flow_delay=float(s.number("in_flow_delay", "1", float, 0, 60)),
                   in_flow_backlog=int(s.number("in_flow_backlog", "100", int, 1, 1_000_000)))
    smtp_tls = security.listener_tls(s, base)
    door = dict(max_connections=int(s.number("max_connections", "500", int, 1, 100_000)),
                max_connections_per_client=int(s.number("max_connections_per_client", "20", int, 1, 100_000)),
                idle_timeout=float(s.number("idle_timeout_seconds", "60", float, 1, 3600)))

    r = Reader(parser, "relay", problems)
    relay_host = r.text("host", "")
    relay_port = int(r.number("port", "25", int, 1, 65535))
    relay_timeout = float(r.number("timeout_seconds", "30", float, 1, 600))
    retry_delays = _retry_delays(r)
    deadline = float(r.number("retry_deadline_hours", "120", float, 0.01, 720))
    max_per_second = float(r.number("max_per_second", "0", float, 0, 100_000))
    relay_login = oauth.login_of(r, base, relay_host)
    bulletin_relay = oauth.relay_of(Reader(parser, "relay:bulletins", problems), base, host_required=True) \
        if parser.has_section("relay:bulletins") else None
    oauth2 = oauth.oauth2_of(Reader(parser, "oauth2", problems), base) if parser.has_section("oauth2") else None

    h = Reader(parser, "http", problems)
    http_listen = _listen(h, "") if parser.has_section("http") else None
    base_url = h.text("base_url", "").rstrip("/")
    if http_listen and not re.match(r"^https?://[^/\s]+(/\S*)?$", base_url):
        h.fail("base_url", "is required with listen: the address residents' browsers reach, "
                           "e.g. https://alerts.example.org (served through your HTTPS proxy)")
    form = _form(h, http_listen)

    w = Reader(parser, "worker", problems)
    lease = int(w.number("lease_seconds", "300", int, 1, 86_400))
    poll = float(w.number("poll_seconds", "1", float, 0.01, 60))
    delivery_workers = int(w.number("delivery_workers", "4", int, 1, 64))

    teams = teams_of(parser, problems, domain, surgery)
    u = Reader(parser, "urgent", problems)
    escalate_to = u.text("escalate_to", "", lambda v: None if not v else check_address(v)).lower()
    speakers = [a for t in teams for a in t.speakers] + ([escalate_to] if escalate_to else [])
    police_default = tuple(sorted({a.rsplit("@", 1)[1] for a in speakers if "@" in a} | {"police.uk"}))
    trust = security.trust(Reader(parser, "trust", problems), problems, police_default, trusted_authserv_id,
                           smtp_intake=listen is not None)
    dkim = security.dkim(Reader(parser, "dkim", problems), base)
    imap = imap_of(parser, problems, base) if parser.has_section("imap") else None
    areas = areas_of(parser, problems, teams)
    urgent_phrases = tuple(p.lower() for p in u.items("phrases", DEFAULT_URGENT_PHRASES))
    clock = calendar.read(Reader(parser, "clock", problems), u, timezone)
    lim = Reader(parser, "limits", problems)
    limits = dict(acks_per_sender_per_day=int(lim.number("acks_per_sender_per_day", "5", int, 0, 10_000)),
                  acks_per_hour=int(lim.number("acks_per_hour", "500", int, 0, 1_000_000)),
                  new_cases_per_sender_per_hour=int(lim.number("new_cases_per_sender_per_hour", "10", int, 0, 10_000)),
                  auto_replies_per_address_per_day=int(lim.number("auto_replies_per_address_per_day", "3", int, 0,
                                                                  10_000)),
                  spam_header=lim.text("spam_header", "X-Spam-Flag"),
                  spam_threshold=float(lim.number("spam_threshold", "0", float, 0, 1000)),
                  max_attachments=int(lim.number("max_attachments", "20", int, 0, 1000)),
                  max_attachment_bytes=int(lim.number("max_attachment_bytes", str(20 * 1024 * 1024), int, 0, 256 * 1024 * 1024)))
    ret = Reader(parser, "retention", problems)
    retention = Retention(closed_case_months=int(ret.number("closed_case_months", "24", int, 0, 1200)),
                          quarantine_days=int(ret.number("quarantine_days", "30", int, 0, 36_500)),
                          bounce_days=int(ret.number("bounce_days", "90", int, 0, 36_500)),
                          ended_subscription_days=int(ret.number("ended_subscription_days", "30", int, 0, 36_500)))
    anchor_file = _anchor_file(Reader(parser, "audit", problems), database, base)
    oauth.check_uses({"relay": relay_login.auth, "imap": imap.auth if imap else "",
                      "relay:bulletins": bulletin_relay.login.auth if bulletin_relay else "",
                      "bulletins_host": bulletin_relay.host if bulletin_relay else relay_host},
                     oauth2, problems, warnings, bool(areas))
    if problems:
        raise ConfigError(problems)
    return Settings(path=path, domain=domain, surgery_address=surgery, database=database,
                    keyring=keyring, spool=spool, reference_prefix=prefix, timezone=timezone,
                    response_days=response_days, templates=templates, log_level=log_level.lower(),
                    trusted_authserv_id=trusted_authserv_id, admin_address=admin_address,
                    smtp_listen=listen, max_message_bytes=max_bytes, relay_host=relay_host,
                    relay_port=relay_port, relay_timeout=relay_timeout, retry_delays=retry_delays,
                    retry_deadline_hours=deadline, lease_seconds=lease, poll_seconds=poll,
                    delivery_workers=delivery_workers, teams=teams, areas=areas, imap=imap,
                    http_listen=http_listen, base_url=base_url, form=form, max_per_second=max_per_second,
                    urgent_phrases=urgent_phrases, escalate_to=escalate_to, **limits, **in_flow, **door, trust=trust, dkim=dkim,
                    smtp_tls=smtp_tls, relay_login=relay_login, clock=clock, retention=retention,
                    log_format=log_format, log_addresses=log_addresses, warnings=tuple(warnings),
                    anchor_file=anchor_file, oauth2=oauth2, bulletin_relay=bulletin_relay)


def _form(h: Reader, http_listen) -> Form | None:
    """[http] form and its limits: the online surgery form, off by default."""
    if not h.boolean("form", "off"):
        return None
    if not http_listen:
        h.fail("form", "needs [http] listen: the form is served by the gateway's web server")
    return Form(per_client_per_hour=int(h.number("form_per_client_per_hour", "5", int, 0, 100_000)),
                min_seconds=float(h.number("form_min_seconds", "3", float, 0, 600)),
                proxy_networks=tuple(security.networks_of(h, "proxy_networks")))


def _keyring(g: Reader, database: str, base: Path, problems: list[str]) -> keys.Keyring:
    """[gateway] secret_file (read if it is there: only init and run make it), secret_grace_days
    and secret (optional; refused when known or short). The file's default place is beside a
    SQLite database, else beside this config file; $CREDENTIALS_DIRECTORY is looked in first."""
    given = g.text("secret", "", lambda v: v and keys.problem(v) and (
        f"{keys.problem(v)}: remove the line and let `gateway init` make a secret file, or give a long random value"))
    name = g.text("secret_file", "")
    folder = Path(database[len("sqlite:///"):]).parent if database.startswith("sqlite:///") else base
    file = security.secret_file(name, base) if name else security.secret_file(keys.DEFAULT_NAME, folder)
    grace = int(g.number("secret_grace_days", "400", int, 0, 36_500))
    return keys.read(keys.Keyring(file=file, grace_days=grace, given=given), problems)


def _check_sections(parser: configparser.ConfigParser, problems: list[str]) -> None:
    for section in parser.sections():
        kind = section.split(":", 1)[0] if section.startswith(("team:", "area:")) else section
        if kind not in KNOWN_KEYS:
            problems.append(f"[{section}]: unknown section (known: gateway, smtp, relay, relay:bulletins, oauth2, trust, dkim, worker, imap, http, urgent, clock, limits, retention, audit, team:KEY, area:KEY)")
            continue
        for key in parser.options(section):
            if key not in KNOWN_KEYS[kind]:
                near = difflib.get_close_matches(key, sorted(KNOWN_KEYS[kind]), n=1)
                problems.append(f"[{section}] {key}: unknown key" + (f" (did you mean {near[0]}?)" if near else ""))


def _check_database_url(value: str) -> str | None:
    if value == "sqlite:///:memory:":
        return ("sqlite:///:memory: would be a separate, empty database for each process (the daemon runs "
                "its pipeline in a second one) and each command; give a file, e.g. sqlite:///var/gateway.db")
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return None
    if value.startswith(("postgresql://", "postgres://")):
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            password, host = parts.password, parts.hostname
        except ValueError as exc:
            return f"{value!r} is not a PostgreSQL URL ({exc})"
        if password:
            return ("the URL holds a password, and this file must not: put it in a libpq password file "
                    "(host:port:database:user:password, mode 0600) and name it with ?passfile=PATH, or set PGPASSFILE")
        if not host or not parts.path.strip("/"):
            return f"{value!r} must name a host and a database: postgresql://USER@HOST[:PORT]/NAME"
        return None
    return f"{value!r} must be sqlite:///PATH or postgresql://USER@HOST/NAME"


def _database_url(value: str, base: Path) -> str:
    if value.startswith("sqlite:///"):
        file = value[len("sqlite:///"):]
        if file and file != ":memory:" and not file.startswith("/"):
            return "sqlite:///" + str(base / file)
    return value


def _anchor_file(reader: Reader, database: str, base: Path) -> Path:
    """[audit] anchor_file; by default beside the SQLite file, or (PostgreSQL) the config file."""
    raw = reader.text("anchor_file", "")
    if raw:
        return base / raw
    folder = Path(database[len("sqlite:///"):]).parent if database.startswith("sqlite:///") else base
    return folder / "audit-anchors.txt"


def _check_timezone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone (e.g. Europe/London)"
    return None


def _listen(reader: Reader, default: str = "127.0.0.1:8025") -> tuple[str, int] | None:
    raw = reader.text("listen", default)
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        reader.fail("listen", f"{raw!r} must be HOST:PORT, e.g. 127.0.0.1:8025 (empty: do not listen)")
        return None
    return host, int(port)


def _retry_delays(reader: Reader) -> tuple[int, ...]:
    parts = reader.items("retry_delays", "30, 120, 600, 1800, 3600, 7200, 14400")
    if not parts or not all(p.isdigit() and 0 < int(p) <= 86_400 for p in parts):
        reader.fail("retry_delays", "must be a comma-separated list of whole seconds from 1 to 86400")
        return (60,)
    return tuple(int(p) for p in parts)
