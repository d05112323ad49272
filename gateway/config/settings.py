"""The settings as frozen sections: Settings and the sections it holds (Team, Area, Imap,
Retention), and what a reload may change. Reading and checking the file: gateway.config.reading.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import security
from gateway.config.keyring import Keyring
from gateway.config.oauth2 import OAuth2, Relay
from gateway.promise.calendar import Calendar, ClockSettings


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
    name_cy: str = ""       # its Welsh name, for Welsh-language residents; "": the name above

    def name_in(self, language: str) -> str:
        """The team's name in `language`: the Welsh one where there is one, else `name`."""
        return self.name_cy if language == "cy" and self.name_cy else self.name

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
    name_cy: str = ""       # its Welsh name; "": the name above

    def name_in(self, language: str) -> str:
        """The area's name in `language`: the Welsh one where there is one, else `name`."""
        return self.name_cy if language == "cy" and self.name_cy else self.name


@dataclass(frozen=True)
class Form:
    """[http] form = on: the online surgery form (gateway/web/form.py) and its limits."""
    per_client_per_hour: int = 5     # [http] form_per_client_per_hour: submissions from one client address
    min_seconds: float = 3.0         # [http] form_min_seconds: quicker than this after the page was given is a robot
    proxy_networks: tuple = ()       # [http] proxy_networks: whose X-Forwarded-For is believed


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
    auth: str = "password"        # password | oauth2 (XOAUTH2 with a token from [oauth2])


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
    form: Form | None = None        # [http] form = on: the online form; None: off
    max_per_second: float = 0.0   # 0: no limit
    urgent_phrases: tuple[str, ...] = ()
    escalate_to: str = ""           # [urgent] escalate_to: the 24-hour desk told of urgent cases; "": nobody
    acks_per_sender_per_day: int = 5
    new_cases_per_sender_per_hour: int = 10
    auto_replies_per_address_per_day: int = 3   # automatic replies of every kind to one address; 0: no cap
    spam_header: str = "X-Spam-Flag"
    spam_threshold: float = 0.0     # 0: the header's YES/NO is the verdict; else a score at or above it
    max_attachments: int = 20
    max_attachment_bytes: int = 20 * 1024 * 1024
    in_flow_delay: float = 1.0      # longest pause before a new message while the pipeline is behind; 0: none
    in_flow_backlog: int = 100      # "behind": this many messages wait for the pipeline or delivery
    max_connections: int = 500              # [smtp]: SMTP sessions at once; over it, 421
    max_connections_per_client: int = 20    # [smtp]: from one address (an IPv6 /64); over it, 421
    idle_timeout: float = 60.0              # [smtp] idle_timeout_seconds: a silent session is closed
    acks_per_hour: int = 500        # acknowledgements to anyone in an hour; over it they wait. 0: no cap
    admin_address: str = ""         # told when residents' providers refuse our mail because of us
    trust: security.TrustSettings = field(default_factory=security.TrustSettings)
    dkim: security.DkimSigning | None = None       # [dkim]: sign outgoing mail
    smtp_tls: security.ListenerTls | None = None   # [smtp] tls_cert/tls_key: offer STARTTLS
    relay_login: security.RelayLogin = field(default_factory=security.RelayLogin)
    clock: ClockSettings = field(default_factory=ClockSettings)
    retention: Retention = field(default_factory=lambda: Retention())
    log_format: str = "text"        # text | json: one line per event
    log_addresses: str = "hash"     # full | hash | none: how addresses appear in the log
    anchor_file: Path | None = None   # [audit] anchor_file: the audit trail's head, appended hourly
    keyring: Keyring | None = None   # [gateway] secret_file (and secret): see config/keyring.py
    warnings: tuple[str, ...] = ()
    oauth2: OAuth2 | None = None     # [oauth2]: app-only tokens for XOAUTH2 (Microsoft 365)
    bulletin_relay: Relay | None = None   # [relay:bulletins]; None: bulletins leave by [relay]

    @property
    def relay(self) -> Relay:
        """[relay] as one section: where case mail (and, without [relay:bulletins], bulletins) leaves."""
        return Relay(section="relay", host=self.relay_host, port=self.relay_port, timeout=self.relay_timeout,
                     max_per_second=self.max_per_second, login=self.relay_login)

    @property
    def relays(self) -> tuple[Relay, ...]:
        """[relay], then [relay:bulletins] when there is one."""
        return (self.relay,) + ((self.bulletin_relay,) if self.bulletin_relay is not None else ())

    @property
    def secret(self) -> str:
        """The secret that signs reply addresses, token addresses and Message-IDs now."""
        return self.keyring.current()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret that verifies today: the current one and those still in their grace."""
        return self.keyring.verifying(dt.datetime.now(dt.timezone.utc).date())

    @property
    def audit_key(self) -> bytes:
        """The key of the audit trail's hashes and residents' pseudonyms; it never rotates."""
        self.keyring.current()   # says to run `gateway init` when there is no file yet
        return self.keyring.audit_key

    @functools.cached_property
    def calendar(self) -> Calendar:
        """Working days and hours ([clock]) for the promise of response_days (made once: every
        new case asks it for a due date)."""
        return Calendar(self.clock, self.response_days)

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
        return {address for t in self.teams for address in t.speakers} | ({self.escalate_to} if self.escalate_to else set())

    def may_speak_for(self, team: Team, address: str) -> bool:
        """Whether `address` may act on the team's cases: its mailbox, its officers, and the
        24-hour desk ([urgent] escalate_to), which answers or marks #seen what it is sent."""
        return address in team.speakers or (bool(self.escalate_to) and address == self.escalate_to)

    def team(self, key: str) -> Team | None:
        return next((t for t in self.teams if t.key == key), None)

    def area(self, key: str) -> Area | None:
        return next((a for a in self.areas if a.key == key), None)

    @property
    def alerts_address(self) -> str:
        return f"alerts@{self.domain}"


# What SIGHUP (systemctl reload) changes in a running daemon: templates, teams, areas,
# [limits], trust (police domains follow the teams' officers), urgent phrases, retention and
# the admin address, and the signing secrets (`gateway secret rotate`: the secret file is read
# again; the audit key never changes). The rest (listeners and [smtp] sizes, the database, the
# relay, workers, [clock]) needs a restart.
RELOADABLE = ("templates", "teams", "areas", "urgent_phrases", "escalate_to", "acks_per_sender_per_day", "acks_per_hour",
              "new_cases_per_sender_per_hour", "auto_replies_per_address_per_day",
              "spam_header", "spam_threshold", "max_attachments",
              "max_attachment_bytes", "trust", "retention", "admin_address", "keyring")


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
