"""Issue 25, item 3: onboarding by command. `gateway team list [--json]` shows each team as
configured; `gateway officer check ADDRESS` says which team the address speaks for, which
route would authenticate its mail today and the DNS facts behind it (asked of the test
world's real DNS server, tests/servers/dns.py), exit 0 only when its replies would be
relayed, 1 with a one-line reason otherwise. Asserted on the command's output and exit code."""

from __future__ import annotations

import json

import pytest

from tests.helpers import write_config
from tests.integration.test_cli import gateway
from tests.servers.dns import shared as shared_dns

TEAMS = {
    "team__hightown": {"name_cy": "Tîm Plismona Cymdogaeth Hightown", "supervisor": "inspector.hughes@police.example"},
    "team__quiet": {"name": "Quiet Neighbourhood Policing Team", "mailbox": "quiet.npt@quiet.example",
                    "address": "quiet@surgery.example.org", "officers": "pc.quiet@quiet.example",
                    "postcodes": "LL14 1"},
    "team__down": {"name": "Down Team", "mailbox": "down.npt@servfail.example", "address": "down@surgery.example.org",
                   "officers": "pc.down@servfail.example", "postcodes": "LL14 2"},
    "area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
}


def check(tmp_path, address: str, *options: str, **sections):
    shared_dns().zone.replace("quiet.example", "v=spf1 -all")   # a domain whose record lets no server pass
    path = write_config(tmp_path, **TEAMS, **sections)
    result = gateway("--config", str(path), "officer", "check", address, *options)
    lines = result.stdout.splitlines()
    return result.returncode, result.stdout, (lines[-1] if lines else result.stderr)


def test_team_list_shows_each_team_for_people_and_for_scripts(tmp_path):
    path = write_config(tmp_path, **TEAMS)
    shown = gateway("--config", str(path), "team", "list")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("hightown (default)\n  name:        Hightown Neighbourhood Policing Team\n"
                                   "  Welsh name:  Tîm Plismona Cymdogaeth Hightown\n")
    for line in ("  addresses:   hightown@surgery.example.org; bulletin+hightown@surgery.example.org",
                 "  mailbox:     hightown.npt@police.example",
                 "  officers:    pc.jones@police.example, sgt.evans@police.example",
                 "  areas:       hightown (Hightown)", "  supervisor:  inspector.hughes@police.example",
                 "rhosddu\n  name:        Rhosddu Neighbourhood Policing Team\n  Welsh name:  (none)"):
        assert line in shown.stdout
    teams = json.loads(gateway("--config", str(path), "team", "list", "--json").stdout)
    assert [t["key"] for t in teams] == ["hightown", "rhosddu", "quiet", "down"]
    assert teams[0]["officers"] == ["pc.jones@police.example", "sgt.evans@police.example"]
    assert teams[0]["areas"] == [{"key": "hightown", "name": "Hightown", "name_cy": ""}]
    assert teams[1]["name_cy"] == "" and teams[1]["supervisor"] == "" and teams[0]["default"] is True


def test_an_officer_whose_domain_signs_with_dkim_would_be_relayed(tmp_path):
    code, out, verdict = check(tmp_path, "PC.Jones@police.example", "--selector", "sel")
    assert code == 0, out
    assert out.startswith("pc.jones@police.example\n  team:             officer of hightown "
                          "(Hightown Neighbourhood Policing Team)\n")
    assert ("  DKIM:             key found at sel._domainkey.police.example; no key at "
            "selector1._domainkey.police.example, selector2._domainkey.police.example\n") in out
    assert "  SPF:              v=spf1 ip4:192.0.2.0/24 -all\n" in out
    assert "  DMARC:            p=reject at _dmarc.police.example (adkim=r, aspf=r)\n" in out
    assert "  trusted network:  no ([trust] trusted_domains does not hold police.example)\n" in out
    assert verdict == ("relayed: mail from pc.jones@police.example would be authenticated today by "
                       "DKIM (key at sel._domainkey.police.example)")


def test_an_officer_in_no_team_is_told_what_to_add(tmp_path):
    code, out, verdict = check(tmp_path, "new.officer@police.example", "--selector", "sel")
    assert code == 1
    assert "  team:             none: in no team's officers, and no team's mailbox\n" in out
    assert "key found at sel._domainkey.police.example" in out   # their mail would be theirs: only the list is missing
    assert verdict == ("not relayed: new.officer@police.example is in no team's officers list: add it to "
                       "`officers` under the team's [team:KEY] section and reload (see `gateway team list`)")


def test_a_residents_address_is_said_not_to_be_a_police_address_with_no_advice(tmp_path):
    code, out, verdict = check(tmp_path, "ann@example.net")
    assert code == 1, out
    assert verdict == ("not relayed: ann@example.net is not a police address (example.net is not in, or under, "
                       "[trust] police_domains: police.example, police.uk, quiet.example, servfail.example)")
    assert "add it to" not in out


def test_an_officer_whose_domain_nothing_authenticates_is_not_relayed(tmp_path):
    code, out, verdict = check(tmp_path, "pc.quiet@quiet.example")
    assert code == 1
    assert ("  DKIM:             no key at selector1._domainkey.quiet.example, selector2._domainkey.quiet.example\n"
            "  SPF:              v=spf1 -all\n  DMARC:            no DMARC record for quiet.example\n") in out
    assert "  route:            none\n" in out
    assert verdict.startswith("not relayed: nothing would authenticate quiet.example today: no DKIM key")


def test_a_trusted_network_only_officer_would_be_relayed_by_smtp_alone(tmp_path):
    code, out, verdict = check(tmp_path, "pc.quiet@quiet.example",
                               trust={"trusted_networks": "10.20.0.0/16", "trusted_domains": "quiet.example"})
    assert code == 0, out
    assert "  trusted network:  SMTP mail from 10.20.0.0/16 counts ([trust] trusted_domains)\n" in out
    assert "  route:            trusted network only: mail by IMAP or `gateway inject` would not be authenticated\n" in out
    assert verdict == "relayed: mail from pc.quiet@quiet.example would be authenticated today by trusted network (10.20.0.0/16)"


def test_dns_that_cannot_answer_is_said_and_not_relayed(tmp_path):
    code, out, verdict = check(tmp_path, "pc.down@servfail.example")
    assert code == 1
    assert "  DNS:              no answer for _dmarc.servfail.example" in out
    assert verdict.startswith("not relayed now: DNS gave no answer for _dmarc.servfail.example")


def test_a_command_line_that_is_not_an_address_exits_2(tmp_path):
    code, out, verdict = check(tmp_path, "not-an-address")
    assert code == 2 and "is not an email address" in verdict


@pytest.mark.database
@pytest.mark.one_backend   # the DKIM verdict and the notices' words: the database only stores them
def test_over_smtp_an_unlisted_officer_is_held_and_the_team_and_officer_are_told_the_line(
        tmp_path, gateway_process, relay):
    """The daemon over loopback SMTP: the officer's DKIM-signed reply (police.example's key in
    the test world's DNS) is held as in no team's list; the team's Held notice and the
    officer's own notice that reach the relay both carry the line to add."""
    from tests.helpers import resident_mail, signed, wait_for
    from tests.integration.test_daemon import send, start

    daemon, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    forward = wait_for(lambda: relay.messages("hightown.npt@police.example"), 15, what="the team's copy")[0]
    reply = resident_mail(sender="New Officer <new.officer@police.example>", to=forward["Reply-To"],
                          subject="RE: " + forward["Subject"], body="We will patrol on Friday.",
                          message_id="<n1@police.example>")
    send(port, signed(reply), sender="new.officer@police.example", rcpts=[forward["Reply-To"]])
    told = wait_for(lambda: relay.messages("new.officer@police.example"), 15, what="the officer's notice")[0]
    held = wait_for(lambda: [m for m in relay.messages("hightown.npt@police.example") if "Held:" in m["Subject"]],
                    15, what="the team's held notice")[0]
    line = "officers = pc.jones@police.example, sgt.evans@police.example, new.officer@police.example"
    for message in (told, held):
        assert f"\n[team:hightown]\n{line}\n" in message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert ("was held: new.officer@police.example is authenticated as police.example (dkim) but is in no "
            "team's officers list.") in held.get_body(("plain",)).get_content()
    assert [m["Subject"] for m in relay.messages("ann@example.net")] == ["Re: Bikes on the pavement [SRG-2026-0001]"]
    assert daemon.stop() == 0
