"""`gateway team list` and `gateway officer check`: bringing teams and officers on board
(README, "Adding a team or an officer"). Both read the config alone; `officer check` asks
DNS as the sender check would (trust.officers)."""

from __future__ import annotations

import json

import click

from gateway import config
from gateway.cli.base import EXIT_NOT_FOUND, _settings, main
from gateway.trust.dns import Resolver
from gateway.trust.officers import EXCHANGE_SELECTORS, Facts, facts


@main.group("team")
def team_group() -> None:
    """The neighbourhood teams of the config ([team:KEY] sections)."""


@team_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, an object per team, for scripts.")
@click.pass_context
def team_list(ctx: click.Context, as_json: bool) -> None:
    """Each team: its addresses, mailbox, officers, areas, supervisor and Welsh name."""
    settings = _settings(ctx)
    teams = [_team(settings, t) for t in settings.teams]
    if as_json:
        click.echo(json.dumps(teams, indent=2, ensure_ascii=False))
        return
    for team in teams:
        click.echo(f"{team['key']}{' (default)' if team['default'] else ''}")
        areas = ", ".join(f"{a['key']} ({a['name']})" for a in team["areas"])
        for label, value in (("name", team["name"]), ("Welsh name", team["name_cy"] or "(none)"),
                             ("addresses", "; ".join(team["addresses"])), ("mailbox", team["mailbox"]),
                             ("officers", ", ".join(team["officers"]) or "(none)"), ("areas", areas or "(none)"),
                             ("supervisor", team["supervisor"] or "(none)"),
                             ("postcodes", ", ".join(team["postcodes"]) or "(none)")):
            click.echo(f"  {label + ':':<12} {value}")


def _team(settings: config.Settings, team: config.Team) -> dict:
    """A team as `team list` shows it."""
    areas = [a for a in settings.areas if a.team == team.key]
    return {"key": team.key, "name": team.name, "name_cy": team.name_cy, "default": team.default,
            "addresses": [team.address] + [f"bulletin+{a.key}@{settings.domain}" for a in areas],
            "mailbox": team.mailbox, "officers": list(team.officers),
            "areas": [{"key": a.key, "name": a.name, "name_cy": a.name_cy} for a in areas],
            "supervisor": team.supervisor, "postcodes": list(team.postcodes)}


@main.group("officer")
def officer_group() -> None:
    """Officers: whether their mail would be taken as theirs."""


@officer_group.command("check")
@click.argument("address")
@click.option("--selector", "selectors", multiple=True, metavar="S",
              help=f"A DKIM selector their mail server signs with (repeat for several); "
                   f"{' and '.join(EXCHANGE_SELECTORS)} (Microsoft 365's) are always tried.")
@click.pass_context
def officer_check(ctx: click.Context, address: str, selectors: tuple[str, ...]) -> None:
    """Which team ADDRESS speaks for, which authentication route would accept its mail today,
    and the DNS facts behind it. Exit 0 when its replies would be relayed, 1 when not."""
    settings = _settings(ctx)
    address = address.strip().lower()
    if not config.ADDRESS_RE.match(address):
        raise click.BadParameter(f"{address!r} is not an email address", param_hint="ADDRESS")
    roles = _roles(settings, address)
    trust = settings.trust
    found = facts(address, trust, Resolver(trust.dns_servers, trust.dns_timeout), selectors)
    click.echo(address)
    for label, value in (("team", "; ".join(roles) or "none: in no team's officers, and no team's mailbox"),
                         *_dns_lines(found)):
        click.echo(f"  {label + ':':<17} {value}")
    verdict, ok = _verdict(address, roles, found)
    if not roles and not _police(settings, found.domain):   # a resident's address: nothing to add anywhere
        verdict = (f"not relayed: {address} is not a police address ({found.domain} is not in, or under, "
                   f"[trust] police_domains: {', '.join(settings.police_domains)})")
    click.echo(verdict)
    if not ok:
        ctx.exit(EXIT_NOT_FOUND)


def _police(settings: config.Settings, domain: str) -> bool:
    """Whether the domain is a police domain, or under one, as the gateway decides it."""
    return any(domain == d or domain.endswith("." + d) for d in settings.police_domains)


def _roles(settings: config.Settings, address: str) -> list[str]:
    """What the address is to each team, in words."""
    roles = [f"officer of {t.key} ({t.name})" for t in settings.teams if address in t.officers]
    roles += [f"mailbox of {t.key} ({t.name})" for t in settings.teams if address == t.mailbox]
    if address == settings.escalate_to:
        roles.append("the 24-hour desk ([urgent] escalate_to), for every team's cases it is sent")
    return roles


def _dns_lines(found: Facts) -> list[tuple[str, str]]:
    """The facts behind the verdict, a line each."""
    dkim = "; ".join(([f"key found at {', '.join(found.dkim_found)}"] if found.dkim_found else [])
                     + ([f"no key at {', '.join(found.dkim_missing)}"] if found.dkim_missing else [])) or "not known"
    policy = found.dmarc
    lines = [("DKIM", dkim), ("SPF", found.spf or f"no SPF record for {found.domain}"),
             ("DMARC", f"p={policy.policy} at _dmarc.{policy.found_at} (adkim={policy.adkim}, aspf={policy.aspf})"
              if policy else f"no DMARC record for {found.domain}"),
             ("trusted network", f"SMTP mail from {', '.join(found.network)} counts ([trust] trusted_domains)"
              if found.network else f"no ([trust] trusted_domains does not hold {found.domain})")]
    if found.authserv_id:
        lines.append(("receiving server", f"on mail {found.authserv_id} hands over, its Authentication-Results "
                                          "decide (they rest on the same DKIM, SPF and DMARC)"))
    if found.unanswered:
        lines.append(("DNS", f"no answer for {', '.join(found.unanswered)}"))
    routes = found.routes
    only_network = routes and all(r.startswith("trusted network") for r in routes)
    lines.append(("route", "trusted network only: mail by IMAP or `gateway inject` would not be authenticated"
                  if only_network else "; ".join(routes) or "none"))
    return lines


def _verdict(address: str, roles: list[str], found: Facts) -> tuple[str, bool]:
    """The one-line answer, and whether the address's replies would be relayed."""
    if not roles:
        return (f"not relayed: {address} is in no team's officers list: add it to `officers` under the team's "
                "[team:KEY] section and reload (see `gateway team list`)"), False
    if found.routes:
        return f"relayed: mail from {address} would be authenticated today by {found.routes[0]}", True
    if found.unanswered:
        return (f"not relayed now: DNS gave no answer for {', '.join(found.unanswered)}; police mail waits and is "
                "checked again, and is held if DNS still cannot tell"), False
    return (f"not relayed: nothing would authenticate {found.domain} today: no DKIM key at the selectors tried "
            "(--selector S tries another), no SPF record that lets a server pass, and no [trust] trusted network"), False
