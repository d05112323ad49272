"""The keyed sections ([team:KEY], [area:KEY]) and [imap]: each read into its frozen section."""

from __future__ import annotations

import configparser
from pathlib import Path

from gateway.config.oauth2 import auth_of
from gateway.config.security import loopback, secret_file
from gateway.config.settings import Area, Imap, Team
from gateway.config.values import ADDRESS_RE, TEAM_KEY_RE, Reader, check_address, check_required

def areas_of(parser: configparser.ConfigParser, problems: list[str], teams: tuple[Team, ...]) -> tuple[Area, ...]:
    areas = []
    team_keys = {t.key for t in teams}
    for key, a in _keyed_sections(parser, "area", problems):
        team = a.text("team", "", check_required)
        if team and teams and team not in team_keys:
            a.fail("team", f"{team!r} is not a team (known: {', '.join(sorted(team_keys))})")
        areas.append(Area(key=key, name=a.text("name", "", check_required), team=team, postcodes=a.postcodes(),
                          name_cy=a.text("name_cy", "")))
    return tuple(areas)


def _keyed_sections(parser: configparser.ConfigParser, kind: str, problems: list[str]):
    """(KEY, reader) for each [kind:KEY] section, in file order, the KEY checked."""
    for section in parser.sections():
        if section.startswith(kind + ":"):
            key = section.split(":", 1)[1]
            if not TEAM_KEY_RE.match(key):
                problems.append(f"[{section}]: {kind} key {key!r} must be lower-case letters, digits, - or _")
            yield key, Reader(parser, section, problems)


def imap_of(parser: configparser.ConfigParser, problems: list[str], base: Path) -> Imap:
    r = Reader(parser, "imap", problems)
    host = r.text("host", "", lambda v: None if v else "is required (the IMAP server's name)")
    security = r.text("security", "tls").lower()
    if security not in ("tls", "starttls", "none"):
        r.fail("security", f"{security!r} must be tls, starttls or none")
    elif security == "none" and host and not loopback(host):
        r.fail("security", f"none sends the password in clear: only allowed for loopback, not {host}")
    port = int(r.number("port", "993" if security == "tls" else "143", int, 1, 65535))
    username = r.text("username", "", check_required)
    password = r.text("password", "")
    password_file = r.text("password_file", "")
    auth = auth_of(r)
    if auth == "oauth2" and (password or password_file):
        r.fail("password_file" if password_file else "password", "is not used with auth = oauth2 (the token comes "
                                                                  "from [oauth2]): remove it")
    elif auth == "oauth2":
        pass
    elif password and password_file:
        r.fail("password_file", "give password or password_file, not both")
    elif password_file:
        path = secret_file(password_file, base)
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            r.fail("password_file", f"cannot read {path}: {exc.strerror or exc}")
    elif not password:
        r.fail("password_file", "is required (or password)")
    folder = r.text("folder", "INBOX", check_required)
    done_folder = r.text("done_folder", "Processed")
    if done_folder and done_folder == folder:
        r.fail("done_folder", "must differ from folder (empty: mark messages \\Seen instead)")
    ca_raw = r.text("ca_file", "")
    ca_file = base / ca_raw if ca_raw else None
    if ca_file is not None and not ca_file.is_file():
        r.fail("ca_file", f"{ca_file} is not a file")
    return Imap(host=host, port=port, security=security, username=username, password=password, ca_file=ca_file, auth=auth,
                folder=folder, done_folder=done_folder, idle=r.boolean("idle", "yes"),
                poll_seconds=float(r.number("poll_seconds", "60", float, 1, 3600)),
                timeout_seconds=float(r.number("timeout_seconds", "60", float, 1, 600)),
                batch_size=int(r.number("batch_size", "50", int, 1, 10_000)))


def teams_of(parser: configparser.ConfigParser, problems: list[str], domain: str,
           surgery: str) -> tuple[Team, ...]:
    teams: list[Team] = []
    seen_addresses: dict[str, str] = {surgery: "[gateway] surgery_address"} if surgery else {}
    for key, t in _keyed_sections(parser, "team", problems):
        address = t.text("address", "", check_address).lower()
        if address and domain and not address.endswith("@" + domain):
            t.fail("address", f"must be in the gateway's domain {domain}")
        if address in seen_addresses:
            t.fail("address", f"{address} is already used by {seen_addresses[address]}")
        seen_addresses[address] = f"[{t.section}] address"
        officers = tuple(o.lower() for o in t.items("officers"))
        for officer in officers:
            if not ADDRESS_RE.match(officer):
                t.fail("officers", f"{officer!r} is not an email address")
        teams.append(Team(key=key, name=t.text("name", "", check_required),
                          mailbox=t.text("mailbox", "", check_address).lower(), address=address,
                          officers=officers, postcodes=t.postcodes(), default=t.boolean("default", "no"),
                          supervisor=t.text("supervisor", "", lambda v: None if not v else check_address(v)).lower(),
                          name_cy=t.text("name_cy", "")))
    defaults = [t.key for t in teams if t.default]
    if not teams:
        problems.append("[team:KEY]: at least one team section is required, e.g. [team:hightown]")
    elif len(defaults) != 1:
        where = ", ".join(f"[team:{k}]" for k in defaults) or "no team"
        problems.append(f"[team:*] default: exactly one team must have default = yes ({where} has it)")
    return tuple(teams)


def welsh_name_gaps(teams: tuple[Team, ...], areas: tuple[Area, ...]) -> list[str]:
    """A warning for each team and area with no Welsh name (`gateway check-config` prints
    them): Welsh-language residents would read its English name in Welsh mail."""
    return [f"[{kind}:{item.key}] name_cy: no Welsh name: Welsh-language residents read {item.name!r} "
            f"in Welsh mail" for kind, items in (("team", teams), ("area", areas)) for item in items
            if not item.name_cy]
