"""INI file -> frozen Settings. Every problem names its section and key.

Relative paths (the SQLite file, the spool, a templates folder) are taken relative to the
folder that holds the config file, so every command finds the same files wherever it is run.
"""

from __future__ import annotations

import configparser
import functools
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gateway import config_security as security
from gateway import promise
from gateway.config_security import loopback, secret_file
from gateway.errors import ConfigError

ADDRESS_RE = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
TEAM_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
POSTCODE_PREFIX_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?(?: [0-9][A-Z]{0,2})?$")
# Danger is recognised by gateway/mail/urgency.py; [urgent] phrases only adds local words
# that flag a message on their own (none by default).
DEFAULT_URGENT_PHRASES = ""
WEAK_SECRETS = {"change-me", "changeme", "secret", "password"}


@dataclass(frozen=True)
class Team:
    key: str
    name: str
    mailbox: str
    address: str
    officers: tuple[str, ...]
    postcodes: tuple[str, ...]
    default: bool
    supervisor: str = ""    # told once when a case of the team passes its due date

    @property
    def speakers(self) -> tuple[str, ...]:
        """The addresses that may speak for the team: its mailbox and its officers."""
        return (self.mailbox, *self.officers)


@dataclass(frozen=True)
class Area:
    """An alert area: residents subscribe to it; its team's officers may send to it."""
    key: str
    name: str
    team: str
    postcodes: tuple[str, ...]


@dataclass(frozen=True)
class Imap:
    """Where to read mail over IMAP, when the gateway cannot have its own MX."""
    host: str
    port: int
    security: str            # tls | starttls | none
    username: str
    password: str = field(repr=False)
    folder: str
    done_folder: str         # "" : mark \Seen instead of moving
    idle: bool
    poll_seconds: float
    timeout_seconds: float
    batch_size: int
    ca_file: Path | None = None   # a CA to trust besides the system's (a force's own CA)


@dataclass(frozen=True)
class Retention:
    """[retention]: how long data is kept (0: for ever); the daemon purges once a day."""
    closed_case_months: int = 24
    quarantine_days: int = 30
    bounce_days: int = 90
    ended_subscription_days: int = 30


@dataclass(frozen=True)
class Settings:
    path: Path | None
    domain: str
    surgery_address: str
    database: str
    secret: str
    spool: Path
    reference_prefix: str
    timezone: str
    response_days: int
    templates: Path | None
    log_level: str
    trusted_authserv_id: str
    smtp_listen: tuple[str, int] | None
    max_message_bytes: int
    relay_host: str
    relay_port: int
    relay_timeout: float
    retry_delays: tuple[int, ...]
    retry_deadline_hours: float
    lease_seconds: int
    poll_seconds: float
    delivery_workers: int
    teams: tuple[Team, ...]
    areas: tuple[Area, ...] = ()
    imap: Imap | None = None
    http_listen: tuple[str, int] | None = None
    base_url: str = ""
    max_per_second: float = 0.0   # 0: no limit
    urgent_phrases: tuple[str, ...] = ()
    acks_per_sender_per_day: int = 5
    new_cases_per_sender_per_hour: int = 10
    spam_header: str = "X-Spam-Flag"
    spam_threshold: float = 0.0     # 0: the header's YES/NO is the verdict; else a score at or above it
    max_attachments: int = 20
    max_attachment_bytes: int = 20 * 1024 * 1024
    in_flow_delay: float = 1.0      # longest pause before a new message while the pipeline is behind; 0: none
    in_flow_backlog: int = 100      # "behind": this many messages wait for the pipeline or delivery
    acks_per_hour: int = 500        # acknowledgements to anyone in an hour; over it they wait. 0: no cap
    admin_address: str = ""         # told when residents' providers refuse our mail because of us
    trust: security.TrustSettings = field(default_factory=security.TrustSettings)
    dkim: security.DkimSigning | None = None       # [dkim]: sign outgoing mail
    smtp_tls: security.ListenerTls | None = None   # [smtp] tls_cert/tls_key: offer STARTTLS
    relay_login: security.RelayLogin = field(default_factory=security.RelayLogin)
    clock: promise.ClockSettings = field(default_factory=promise.ClockSettings)
    retention: Retention = field(default_factory=lambda: Retention())
    log_format: str = "text"        # text | json: one line per event
    log_addresses: str = "full"     # full | hash | none: how addresses appear in the log
    warnings: tuple[str, ...] = ()

    @functools.cached_property
    def calendar(self) -> promise.Calendar:
        """Working days and hours ([clock]) for the promise of response_days (made once: every
        new case asks it for a due date)."""
        return promise.Calendar(self.clock, self.response_days)

    @property
    def police_domains(self) -> tuple[str, ...]:
        """Domains whose addresses never reach a resident ([trust] police_domains)."""
        return self.trust.police_domains

    @property
    def default_team(self) -> Team:
        return next(t for t in self.teams if t.default)

    @property
    def police_addresses(self) -> set[str]:
        """Every team mailbox and officer address: they never reach a resident."""
        return {address for t in self.teams for address in t.speakers}

    def team(self, key: str) -> Team | None:
        return next((t for t in self.teams if t.key == key), None)

    def area(self, key: str) -> Area | None:
        return next((a for a in self.areas if a.key == key), None)

    @property
    def alerts_address(self) -> str:
        return f"alerts@{self.domain}"


# What SIGHUP (systemctl reload) changes in a running daemon: templates, teams, areas,
# [limits], trust (police domains follow the teams' officers), urgent phrases, retention and
# the admin address. The rest (listeners and [smtp] sizes, the database, the relay, the
# secret, workers, [clock]) needs a restart.
RELOADABLE = ("templates", "teams", "areas", "urgent_phrases", "acks_per_sender_per_day", "acks_per_hour",
              "new_cases_per_sender_per_hour", "spam_header", "spam_threshold", "max_attachments",
              "max_attachment_bytes", "trust", "retention", "admin_address")
NOT_COMPARED = ("path", "warnings", "calendar")


def reload_changes(old: Settings, new: Settings) -> tuple[list[str], list[str]]:
    """(what a reload changes, what changed but needs a restart), as Settings field names."""
    names = [f for f in old.__dataclass_fields__ if f not in NOT_COMPARED]
    changed = [f for f in names if getattr(old, f) != getattr(new, f)]
    return [f for f in changed if f in RELOADABLE], [f for f in changed if f not in RELOADABLE]


def apply_reload(old: Settings, new: Settings) -> list[str]:
    """Change, in place, what a reload may change (everything holding `old` sees it at once);
    returns the fields changed. Each field is swapped whole, so a message being handled
    meanwhile sees each setting either as it was or as it is now."""
    changed, _ = reload_changes(old, new)
    for name in changed:
        object.__setattr__(old, name, getattr(new, name))
    return changed


class _Reader:
    """Reads typed values from one section and collects problems instead of stopping."""

    def __init__(self, parser: configparser.ConfigParser, section: str, problems: list[str]):
        self.parser, self.section, self.problems = parser, section, problems

    def _raw(self, key: str, default: str) -> str:
        if self.parser.has_section(self.section):
            return self.parser.get(self.section, key, fallback=default).strip()
        return default

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"[{self.section}] {key}: {message}")

    def text(self, key: str, default: str = "", check: Callable[[str], str | None] | None = None) -> str:
        value = self._raw(key, default)
        message = check(value) if check else None
        if message:
            self.fail(key, message)
        return value

    def number(self, key: str, default: str, kind: type = int, minimum: float = 0,
               maximum: float | None = None) -> float:
        raw = self._raw(key, default)
        try:
            value = kind(raw)
        except ValueError:
            self.fail(key, f"{raw!r} is not a {'whole number' if kind is int else 'number'}")
            return kind(default)
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            span = f"from {_n(minimum)} to {_n(maximum)}" if maximum is not None else f"at least {_n(minimum)}"
            self.fail(key, f"must be {span}, not {raw}")
            return kind(default)
        return value

    def boolean(self, key: str, default: str) -> bool:
        raw = self._raw(key, default).lower()
        if raw in ("yes", "true", "on", "1"):
            return True
        if raw in ("no", "false", "off", "0", ""):
            return False
        self.fail(key, f"{raw!r} is not yes or no")
        return False

    def items(self, key: str, default: str = "") -> tuple[str, ...]:
        return tuple(p.strip() for p in self._raw(key, default).split(",") if p.strip())

    def postcodes(self, key: str = "postcodes") -> tuple[str, ...]:
        """UK postcode prefixes: an outward code (LL13) or a sector (LL13 7)."""
        prefixes = tuple(p.upper() for p in self.items(key))
        for prefix in prefixes:
            if not POSTCODE_PREFIX_RE.match(prefix):
                self.fail(key, f"{prefix!r} is not a UK postcode prefix (e.g. LL13 or LL13 7)")
        return prefixes


def _n(value: float) -> str:
    """A bound as people write it: 268435456, 0.01, 720."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _address(value: str) -> str | None:
    if not value:
        return "is required (an email address)"
    return None if ADDRESS_RE.match(value) else f"{value!r} is not an email address"


def _required(value: str) -> str | None:
    return None if value else "is required"


KNOWN_KEYS = {
    "gateway": {"domain", "surgery_address", "database", "secret", "spool", "reference_prefix",
                "timezone", "response_days", "templates", "log_level", "trusted_authserv_id", "admin_address",
                "log_format", "log_addresses"},
    "smtp": {"listen", "max_message_bytes", "in_flow_delay", "in_flow_backlog", "tls_cert", "tls_key"},
    "relay": {"host", "port", "timeout_seconds", "retry_delays", "retry_deadline_hours", "max_per_second",
              "security", "username", "password_file", "ca_file"},
    "trust": {"dns_servers", "dns_timeout_seconds", "authserv_id", "trusted_networks", "trusted_domains",
              "police_domains"},
    "dkim": {"domain", "selector", "key_file"},
    "http": {"listen", "base_url"},
    "urgent": {"phrases", "remind_after_minutes"},
    "clock": {"timezone", "business_hours", "extra_closed_days", "restart_on_resident_message",
              "remind_before_working_days", "digest_time", "check_seconds"},
    "limits": {"acks_per_sender_per_day", "acks_per_hour", "new_cases_per_sender_per_hour", "spam_header",
               "spam_threshold", "max_attachments", "max_attachment_bytes"},
    "area": {"name", "team", "postcodes"},
    "retention": {"closed_case_months", "quarantine_days", "bounce_days", "ended_subscription_days"},
    "worker": {"lease_seconds", "poll_seconds", "delivery_workers"},
    "imap": {"host", "port", "security", "username", "password", "password_file", "folder", "done_folder",
             "idle", "poll_seconds", "timeout_seconds", "batch_size", "ca_file"},
    "team": {"name", "mailbox", "address", "officers", "postcodes", "default", "supervisor"},
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
    except configparser.Error as exc:
        raise ConfigError([f"{path} is not a valid INI file: {exc.message}"]) from exc
    return parser


def from_parser(parser: configparser.ConfigParser, path: Path | None) -> Settings:
    """Build Settings from a parsed INI; paths are relative to the config file's folder."""
    problems: list[str] = []
    warnings: list[str] = []
    base = path.resolve().parent if path else Path.cwd()
    _check_sections(parser, problems)

    g = _Reader(parser, "gateway", problems)
    domain = g.text("domain", "", lambda v: None if DOMAIN_RE.match(v) else
                    ("is required (the gateway's mail domain)" if not v else f"{v!r} is not a domain name")).lower()
    surgery = g.text("surgery_address", "", _address).lower()
    if surgery and domain and not surgery.endswith("@" + domain):
        g.fail("surgery_address", f"must be in the gateway's domain {domain}")
    database = _database_url(g.text("database", "sqlite:///var/gateway.db", _check_database_url), base)
    secret = g.text("secret", "", _required)
    if secret and (secret.lower() in WEAK_SECRETS or len(secret) < 16):
        warnings.append("[gateway] secret: weak or example value; set a long random secret before "
                        "real use (reply addresses are signed with it)")
    spool = base / g.text("spool", "var/outbox", _required)
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
    admin_address = g.text("admin_address", "", lambda v: None if not v else _address(v)).lower()
    log_format = g.text("log_format", "text", lambda v: None if v.lower() in ("text", "json")
                        else "must be text or json").lower()
    log_addresses = g.text("log_addresses", "full", lambda v: None if v.lower() in ("full", "hash", "none")
                           else "must be full, hash or none").lower()
    if trusted_authserv_id:
        warnings.append("[gateway] trusted_authserv_id: still read, but renamed: use [trust] authserv_id")

    s = _Reader(parser, "smtp", problems)
    listen = _listen(s)
    max_bytes = int(s.number("max_message_bytes", "10485760", int, 1024, 256 * 1024 * 1024))
    in_flow = dict(in_flow_delay=float(s.number("in_flow_delay", "1", float, 0, 60)),
                   in_flow_backlog=int(s.number("in_flow_backlog", "100", int, 1, 1_000_000)))
    smtp_tls = security.listener_tls(s, base)

    r = _Reader(parser, "relay", problems)
    relay_host = r.text("host", "")
    relay_port = int(r.number("port", "25", int, 1, 65535))
    relay_timeout = float(r.number("timeout_seconds", "30", float, 1, 600))
    retry_delays = _retry_delays(r)
    deadline = float(r.number("retry_deadline_hours", "120", float, 0.01, 720))
    max_per_second = float(r.number("max_per_second", "0", float, 0, 100_000))
    relay_login = security.relay_login(r, base, relay_host)

    h = _Reader(parser, "http", problems)
    http_listen = _listen(h, "") if parser.has_section("http") else None
    base_url = h.text("base_url", "").rstrip("/")
    if http_listen and not re.match(r"^https?://[^/\s]+(/\S*)?$", base_url):
        h.fail("base_url", "is required with listen: the address residents' browsers reach, "
                           "e.g. https://alerts.example.org (served through your HTTPS proxy)")

    w = _Reader(parser, "worker", problems)
    lease = int(w.number("lease_seconds", "300", int, 1, 86_400))
    poll = float(w.number("poll_seconds", "1", float, 0.01, 60))
    delivery_workers = int(w.number("delivery_workers", "4", int, 1, 64))

    teams = _teams(parser, problems, domain, surgery)
    police_default = tuple(sorted({a.rsplit("@", 1)[1] for t in teams for a in t.speakers if "@" in a} | {"police.uk"}))
    trust = security.trust(_Reader(parser, "trust", problems), problems, police_default, trusted_authserv_id)
    dkim = security.dkim(_Reader(parser, "dkim", problems), base)
    imap = _imap(parser, problems, base) if parser.has_section("imap") else None
    areas = _areas(parser, problems, teams)
    u = _Reader(parser, "urgent", problems)
    urgent_phrases = tuple(p.lower() for p in u.items("phrases", DEFAULT_URGENT_PHRASES))
    clock = promise.read(_Reader(parser, "clock", problems), u, timezone)
    lim = _Reader(parser, "limits", problems)
    limits = dict(acks_per_sender_per_day=int(lim.number("acks_per_sender_per_day", "5", int, 0, 10_000)),
                  acks_per_hour=int(lim.number("acks_per_hour", "500", int, 0, 1_000_000)),
                  new_cases_per_sender_per_hour=int(lim.number("new_cases_per_sender_per_hour", "10", int, 0, 10_000)),
                  spam_header=lim.text("spam_header", "X-Spam-Flag"),
                  spam_threshold=float(lim.number("spam_threshold", "0", float, 0, 1000)),
                  max_attachments=int(lim.number("max_attachments", "20", int, 0, 1000)),
                  max_attachment_bytes=int(lim.number("max_attachment_bytes", str(20 * 1024 * 1024), int, 0, 256 * 1024 * 1024)))
    ret = _Reader(parser, "retention", problems)
    retention = Retention(closed_case_months=int(ret.number("closed_case_months", "24", int, 0, 1200)),
                          quarantine_days=int(ret.number("quarantine_days", "30", int, 0, 36_500)),
                          bounce_days=int(ret.number("bounce_days", "90", int, 0, 36_500)),
                          ended_subscription_days=int(ret.number("ended_subscription_days", "30", int, 0, 36_500)))
    if problems:
        raise ConfigError(problems)
    return Settings(path=path, domain=domain, surgery_address=surgery, database=database,
                    secret=secret, spool=spool, reference_prefix=prefix, timezone=timezone,
                    response_days=response_days, templates=templates, log_level=log_level.lower(),
                    trusted_authserv_id=trusted_authserv_id, admin_address=admin_address,
                    smtp_listen=listen, max_message_bytes=max_bytes, relay_host=relay_host,
                    relay_port=relay_port, relay_timeout=relay_timeout, retry_delays=retry_delays,
                    retry_deadline_hours=deadline, lease_seconds=lease, poll_seconds=poll,
                    delivery_workers=delivery_workers, teams=teams, areas=areas, imap=imap,
                    http_listen=http_listen, base_url=base_url, max_per_second=max_per_second,
                    urgent_phrases=urgent_phrases, **limits, **in_flow, trust=trust, dkim=dkim,
                    smtp_tls=smtp_tls, relay_login=relay_login, clock=clock, retention=retention,
                    log_format=log_format, log_addresses=log_addresses, warnings=tuple(warnings))


def _check_sections(parser: configparser.ConfigParser, problems: list[str]) -> None:
    for section in parser.sections():
        kind = section.split(":", 1)[0] if section.startswith(("team:", "area:")) else section
        if kind not in KNOWN_KEYS:
            problems.append(f"[{section}]: unknown section (known: gateway, smtp, relay, trust, dkim, worker, imap, http, urgent, clock, limits, retention, team:KEY, area:KEY)")
            continue
        for key in parser.options(section):
            if key not in KNOWN_KEYS[kind]:
                problems.append(f"[{section}] {key}: unknown key")


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


def _check_timezone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone (e.g. Europe/London)"
    return None


def _listen(reader: _Reader, default: str = "127.0.0.1:8025") -> tuple[str, int] | None:
    raw = reader.text("listen", default)
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        reader.fail("listen", f"{raw!r} must be HOST:PORT, e.g. 127.0.0.1:8025 (empty: do not listen)")
        return None
    return host, int(port)


def _areas(parser: configparser.ConfigParser, problems: list[str], teams: tuple[Team, ...]) -> tuple[Area, ...]:
    areas = []
    team_keys = {t.key for t in teams}
    for key, a in _keyed_sections(parser, "area", problems):
        team = a.text("team", "", _required)
        if team and teams and team not in team_keys:
            a.fail("team", f"{team!r} is not a team (known: {', '.join(sorted(team_keys))})")
        areas.append(Area(key=key, name=a.text("name", "", _required), team=team, postcodes=a.postcodes()))
    return tuple(areas)


def _keyed_sections(parser: configparser.ConfigParser, kind: str, problems: list[str]):
    """(KEY, reader) for each [kind:KEY] section, in file order, the KEY checked."""
    for section in parser.sections():
        if section.startswith(kind + ":"):
            key = section.split(":", 1)[1]
            if not TEAM_KEY_RE.match(key):
                problems.append(f"[{section}]: {kind} key {key!r} must be lower-case letters, digits, - or _")
            yield key, _Reader(parser, section, problems)


def _imap(parser: configparser.ConfigParser, problems: list[str], base: Path) -> Imap:
    r = _Reader(parser, "imap", problems)
    host = r.text("host", "", lambda v: None if v else "is required (the IMAP server's name)")
    security = r.text("security", "tls").lower()
    if security not in ("tls", "starttls", "none"):
        r.fail("security", f"{security!r} must be tls, starttls or none")
    elif security == "none" and host and not loopback(host):
        r.fail("security", f"none sends the password in clear: only allowed for loopback, not {host}")
    port = int(r.number("port", "993" if security == "tls" else "143", int, 1, 65535))
    username = r.text("username", "", _required)
    password = r.text("password", "")
    password_file = r.text("password_file", "")
    if password and password_file:
        r.fail("password_file", "give password or password_file, not both")
    elif password_file:
        path = secret_file(password_file, base)
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            r.fail("password_file", f"cannot read {path}: {exc.strerror or exc}")
    elif not password:
        r.fail("password_file", "is required (or password)")
    folder = r.text("folder", "INBOX", _required)
    done_folder = r.text("done_folder", "Processed")
    if done_folder and done_folder == folder:
        r.fail("done_folder", "must differ from folder (empty: mark messages \\Seen instead)")
    ca_raw = r.text("ca_file", "")
    ca_file = base / ca_raw if ca_raw else None
    if ca_file is not None and not ca_file.is_file():
        r.fail("ca_file", f"{ca_file} is not a file")
    return Imap(host=host, port=port, security=security, username=username, password=password, ca_file=ca_file,
                folder=folder, done_folder=done_folder, idle=r.boolean("idle", "yes"),
                poll_seconds=float(r.number("poll_seconds", "60", float, 1, 3600)),
                timeout_seconds=float(r.number("timeout_seconds", "60", float, 1, 600)),
                batch_size=int(r.number("batch_size", "50", int, 1, 10_000)))


def _retry_delays(reader: _Reader) -> tuple[int, ...]:
    parts = reader.items("retry_delays", "30, 120, 600, 1800, 3600, 7200, 14400")
    if not parts or not all(p.isdigit() and 0 < int(p) <= 86_400 for p in parts):
        reader.fail("retry_delays", "must be a comma-separated list of whole seconds from 1 to 86400")
        return (60,)
    return tuple(int(p) for p in parts)


def _teams(parser: configparser.ConfigParser, problems: list[str], domain: str,
           surgery: str) -> tuple[Team, ...]:
    teams: list[Team] = []
    seen_addresses: dict[str, str] = {surgery: "[gateway] surgery_address"} if surgery else {}
    for key, t in _keyed_sections(parser, "team", problems):
        address = t.text("address", "", _address).lower()
        if address and domain and not address.endswith("@" + domain):
            t.fail("address", f"must be in the gateway's domain {domain}")
        if address in seen_addresses:
            t.fail("address", f"{address} is already used by {seen_addresses[address]}")
        seen_addresses[address] = f"[{t.section}] address"
        officers = tuple(o.lower() for o in t.items("officers"))
        for officer in officers:
            if not ADDRESS_RE.match(officer):
                t.fail("officers", f"{officer!r} is not an email address")
        teams.append(Team(key=key, name=t.text("name", "", _required),
                          mailbox=t.text("mailbox", "", _address).lower(), address=address,
                          officers=officers, postcodes=t.postcodes(), default=t.boolean("default", "no"),
                          supervisor=t.text("supervisor", "", lambda v: None if not v else _address(v)).lower()))
    defaults = [t.key for t in teams if t.default]
    if not teams:
        problems.append("[team:KEY]: at least one team section is required, e.g. [team:hightown]")
    elif len(defaults) != 1:
        where = ", ".join(f"[team:{k}]" for k in defaults) or "no team"
        problems.append(f"[team:*] default: exactly one team must have default = yes ({where} has it)")
    return tuple(teams)
