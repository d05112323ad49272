"""Delivery reports and loops through the daemon over loopback SMTP."""

from __future__ import annotations

import time

from tests.helpers import free_port, resident_mail, signed, wait_for, write_config
from tests.helpers import db_rows, second_installation
from tests.integration.test_daemon import send, start
from tests.unit.mail.test_bounces import dsn
import pytest

pytestmark = pytest.mark.database


def test_a_bounced_answer_reaches_the_team_and_suppresses_the_address(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    forward = relay.wait(2) and relay.messages("hightown.npt@police.example")[0]
    reply = resident_mail(body="We will patrol on Friday.", sender="PC Jones <pc.jones@police.example>",
                          to=forward["Reply-To"], subject="RE: " + forward["Subject"], message_id="<o1@police.example>")
    send(port, signed(reply), sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])
    # The answer and the team's copy of it leave together, by two workers: wait for the answer itself.
    answered = lambda: [r for r in list(relay.received)  # noqa: E731
                        if "ann@example.net" in r[1] and "patrol on Friday" in r[2].as_string()]
    wait_for(answered, 15, what="the answer at the relay")
    (verp, _, answer), = answered()
    assert verp.startswith("bounces+") and verp.endswith("@surgery.example.org")

    send(port, dsn(verp, "ann@example.net"), sender="", rcpts=[verp])   # the resident's server says no
    notice = wait_for(lambda: [m for m in relay.messages("hightown.npt@police.example")
                               if "Undeliverable" in m["Subject"]], 10, what="the team's notice")[0]
    assert "ann@example.net" in notice.get_body(("plain",)).get_content()
    assert db_rows(tmp_path, "select address, reason from suppression") == [("ann@example.net", "bounce")]
    send(port, resident_mail(message_id="<a2@example.net>", subject="Something else"))
    wait_for(lambda: db_rows(tmp_path, 'select count(*) from "case"') == [(2,)], 10, what="the second case")
    time.sleep(1)
    assert len([m for m in relay.messages("ann@example.net") if "Something else" in m["Subject"]]) == 0
    assert gateway.stop() == 0


def test_two_gateways_pointed_at_each_other_stop_after_one_exchange(tmp_path, gateway_process):
    ports = {"a": free_port(), "b": free_port()}
    daemons = {}
    for name, other in (("a", "b"), ("b", "a")):
        folder = tmp_path / name
        folder.mkdir()
        domain = f"{name}.example"
        path = write_config(folder, gateway={"domain": domain, "surgery_address": f"surgery@{domain}",
                                             **(second_installation() if name == "b" else {})},
                            smtp={"listen": f"127.0.0.1:{ports[name]}"},
                            relay={"host": "127.0.0.1", "port": str(ports[other]), "retry_delays": "60"},
                            team__hightown={"address": f"hightown@{domain}"},
                            team__rhosddu={"address": f"rhosddu@{domain}"})
        daemons[name] = gateway_process(path, ports[name])
    # Gateway B's own address writes to gateway A, as a misconfigured forward would.
    send(ports["a"], resident_mail(sender="surgery@b.example", to="surgery@a.example"), sender="surgery@b.example",
         rcpts=["surgery@a.example"])
    wait_for(lambda: db_rows(tmp_path / "b", "select count(*) from inbound") == [(1,)], 15,
             what="A's acknowledgement to reach B")
    time.sleep(3)   # anything further would be the loop
    # B refuses A's forward to the team (not its domain): A records that refusal as a bounce.
    assert db_rows(tmp_path / "a", "select kind from inbound") == [("resident_new",), ("bounce",)]
    assert db_rows(tmp_path / "b", "select kind from inbound") == [("auto_reply",)]
    assert db_rows(tmp_path / "b", "select count(*) from outbound") == [(0,)]
    for daemon in daemons.values():
        assert daemon.stop() == 0
