"""Issue 25, item 1: a reload (SIGHUP) is live in every part of both processes. A team added
to the INI takes mail at its address at once (the SMTP door's recipients follow the reload),
an alert area added takes alerts@ mail, and [trust] dns_servers changed by a reload is what the
next sender check asks."""

from __future__ import annotations

import signal
import smtplib

import pytest

from tests.helpers import free_port, resident_mail, wait_for, write_config
from tests.integration.test_daemon import send, start
from tests.servers.dns import shared as shared_dns

pytestmark = pytest.mark.database

ACTON = {"name": "Acton Neighbourhood Policing Team", "mailbox": "acton.npt@police.example",
         "address": "acton@surgery.example.org", "officers": "pc.acton@police.example", "postcodes": "LL12 9"}


def reload(gateway, path, **sections) -> None:
    """Write the config anew with `sections` and send SIGHUP; wait until both processes took it."""
    before = gateway.log_text().count("pipeline: configuration reloaded")
    write_config(path.parent, **sections)
    gateway.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: gateway.log_text().count("pipeline: configuration reloaded") > before, 15,
             what=f"the reload\n{gateway.log_text()}")


def test_a_team_added_by_reload_takes_mail_at_its_address_at_once(tmp_path, gateway_process, relay):
    sections = {"relay": {"host": "127.0.0.1", "port": str(relay.port)}}
    gateway, port = start(tmp_path, gateway_process, relay.port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ann@example.net")
        assert smtp.rcpt("acton@surgery.example.org")[0] == 550   # not a team yet

    reload(gateway, gateway.config_path, smtp={"listen": f"127.0.0.1:{port}"}, team__acton=ACTON, **sections)
    assert "configuration reloaded" in gateway.log_text() and "(teams" in gateway.log_text()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ann@example.net")
        code, reply = smtp.rcpt("acton@surgery.example.org")
        assert code == 250, reply
        smtp.data(resident_mail(to="acton@surgery.example.org", message_id="<acton1@example.net>").as_bytes())
    relay.wait(2)
    forward, = relay.messages("acton.npt@police.example")
    assert forward["Subject"] == "[SRG-2026-0001] Bikes on the pavement"
    ack, = relay.messages("ann@example.net")
    assert ack["From"] == "Acton Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert gateway.stop() == 0


def test_an_area_added_by_reload_opens_the_alerts_addresses(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ann@example.net")
        assert smtp.rcpt("alerts@surgery.example.org")[0] == 550   # no areas: no alert service
    reload(gateway, gateway.config_path, smtp={"listen": f"127.0.0.1:{port}"},
           relay={"host": "127.0.0.1", "port": str(relay.port)},
           area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ann@example.net")
        assert smtp.rcpt("alerts@surgery.example.org")[0] == 250
    assert gateway.stop() == 0


def test_dns_servers_changed_by_reload_are_asked_by_the_next_sender_check(tmp_path, gateway_process, relay):
    nowhere = f"127.0.0.1:{free_port()}"   # nothing answers there: no sender can be checked
    trust = {"dns_servers": nowhere, "dns_timeout_seconds": "1"}
    gateway, port = start(tmp_path, gateway_process, relay.port, trust=trust)

    def ack(n: int) -> str:
        send(port, resident_mail(message_id=f"<dns{n}@example.net>"))
        wait_for(lambda: len(relay.messages("ann@example.net")) >= n, 20, what=f"acknowledgement {n}")
        return relay.messages("ann@example.net")[n - 1].get_content()

    assert ack(1).startswith("Dear resident,")   # example.net's SPF could not be looked up
    reload(gateway, gateway.config_path, smtp={"listen": f"127.0.0.1:{port}"},
           relay={"host": "127.0.0.1", "port": str(relay.port)},
           trust={"dns_servers": shared_dns().address, "dns_timeout_seconds": "2"})
    assert ack(2).startswith("Dear Ann Resident,")   # SPF passes from loopback: checked, by name
    assert gateway.stop() == 0
