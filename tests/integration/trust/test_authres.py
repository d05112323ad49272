"""Issue 23: Authentication-Results bearing our receiving server's authserv-id are believed
only on mail that server handed over ([trust] authserv_networks), and a config that would
trust the world is refused. The daemon over loopback SMTP; the client picks its loopback
address (127.0.0.1 or 127.0.0.2) so that one is in authserv_networks and the other not."""

from __future__ import annotations

import smtplib

import pytest

from tests.helpers import resident_mail, signed, wait_for, write_config
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send, start

pytestmark = pytest.mark.database

A_R = "mx.police.example"
VOUCHED = {"Authentication_Results": f"{A_R}; dmarc=pass header.from=police.example"}
IGNORED = f"Authentication-Results from {A_R} ignored: the message did not come from [trust] authserv_networks"


def send_from(source: str, port: int, msg, sender: str, rcpts: list[str]) -> None:
    """Over SMTP from the loopback address `source`, as a client on that address would."""
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(source, 0)) as smtp:
        smtp.sendmail(sender, rcpts, raw)


def open_case(port: int, relay):
    send(port, resident_mail())
    return wait_for(lambda: relay.messages("hightown.npt@police.example"), 15, what="the team's copy")[0]


def officer_mail(forward, body: str, n: int, **headers):
    return resident_mail(body=body, sender="PC Jones <pc.jones@police.example>", to=forward["Reply-To"],
                         subject="RE: " + forward["Subject"], message_id=f"<o{n}@police.example>", **headers)


def answers(relay) -> list[str]:
    """The first line of each answer Ann got (her acknowledgement comes first)."""
    return [m.get_content().splitlines()[0] for m in relay.messages("ann@example.net")[1:]]


def test_a_forged_pass_from_outside_authserv_networks_is_not_believed(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port,
                         trust={"authserv_id": A_R, "authserv_networks": "127.0.0.1/32"})
    forward = open_case(port, relay)
    forged = officer_mail(forward, "PC Jones here. Send me your address.", 1, **VOUCHED)
    send_from("127.0.0.2", port, forged, "pc.jones@police.example", [forward["Reply-To"]])
    held = wait_for(lambda: [m for m in relay.messages("hightown.npt@police.example") if "Held:" in m["Subject"]],
                    15, what="the team's held notice")[0]
    text = held.get_body(("plain",)).get_content()
    assert f"was held: not authenticated: {IGNORED} (it came from 127.0.0.2)" in text
    assert "no DKIM signature from police.example" in text and "SPF fail" in text
    # The same words signed as the police sign their mail, from the same untrusted address:
    # the header is still not read, and the gateway's own check believes the signature.
    genuine = signed(officer_mail(forward, "We will patrol on Friday.", 2, **VOUCHED))
    send_from("127.0.0.2", port, genuine, "pc.jones@police.example", [forward["Reply-To"]])
    wait_for(lambda: answers(relay), 15, what="the genuine answer")
    assert answers(relay) == ["We will patrol on Friday."]
    assert "Send me your address" not in "".join(m.as_string() for m in relay.messages("ann@example.net"))
    assert daemon.stop() == 0

    # `gateway inspect` says so too: a file shows no connection, so nothing vouches for it.
    eml = tmp_path / "forged.eml"
    eml.write_bytes(officer_mail(forward, "PC Jones here. Send me your address.", 3, **VOUCHED).as_bytes())
    inspected = gateway("--config", str(tmp_path / "gateway.ini"), "inspect", str(eml))
    assert inspected.returncode == 0, inspected.stderr
    assert f"{IGNORED} or the [imap] mailbox" in inspected.stdout and ": held" in inspected.stdout


def test_the_receiving_servers_pass_from_authserv_networks_is_still_believed(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port,
                         trust={"authserv_id": A_R, "authserv_networks": "127.0.0.0/8"})
    forward = open_case(port, relay)
    unsigned = officer_mail(forward, "We will patrol on Friday.", 1, **VOUCHED)   # the server checked it
    send_from("127.0.0.1", port, unsigned, "pc.jones@police.example", [forward["Reply-To"]])
    wait_for(lambda: answers(relay), 15, what="the answer")
    assert answers(relay) == ["We will patrol on Friday."]
    assert [m for m in relay.messages("hightown.npt@police.example") if "Held:" in m["Subject"]] == []
    assert daemon.stop() == 0


def test_the_receiving_servers_pass_counts_on_mail_from_the_imap_mailbox(tmp_path, gateway_process, dovecot, relay):
    """The mailbox the receiving server delivers to: what is in it, that server handed over."""
    path = write_config(tmp_path, imap=dovecot.config(), smtp={"listen": ""}, trust={"authserv_id": A_R},
                        relay={"host": "127.0.0.1", "port": str(relay.port)})
    daemon = gateway_process(path, None)
    dovecot.append(resident_mail().as_bytes())
    forward = wait_for(lambda: relay.messages("hightown.npt@police.example"), 30, what="the team's copy")[0]
    dovecot.append(officer_mail(forward, "We will patrol on Friday.", 1, **VOUCHED).as_bytes())   # unsigned
    wait_for(lambda: answers(relay), 30, what="the answer")
    assert answers(relay) == ["We will patrol on Friday."]
    assert daemon.stop() == 0


def test_check_config_and_run_refuse_authserv_id_on_an_open_smtp_port_without_its_networks(tmp_path):
    path = str(write_config(tmp_path, smtp={"listen": "127.0.0.1:8025"}, trust={"authserv_id": A_R}))
    checked = gateway("--config", path, "check-config")
    assert checked.returncode == 2
    assert "[trust] authserv_networks: is required with authserv_id while [smtp] listen is set" in checked.stdout
    ran = gateway("--config", path, "run")
    assert ran.returncode == 2 and "[trust] authserv_networks:" in ran.stderr
    imap_only = write_config(tmp_path, smtp={"listen": ""}, trust={"authserv_id": A_R})   # nobody can connect
    assert gateway("--config", str(imap_only), "check-config").returncode == 0


def test_check_config_and_run_refuse_a_trusted_range_holding_the_whole_internet(tmp_path):
    path = str(write_config(tmp_path, trust={"trusted_networks": "0.0.0.0/0, ::/0", "trusted_domains": "police.example"}))
    checked = gateway("--config", path, "check-config")
    assert checked.returncode == 2 and "OK" not in checked.stdout
    assert "[trust] trusted_networks: '0.0.0.0/0' is every IPv4 address: it would trust anyone on the Internet" \
        in checked.stdout
    assert "[trust] trusted_networks: '::/0' is every IPv6 address" in checked.stdout
    ran = gateway("--config", path, "run")
    assert ran.returncode == 2 and "'0.0.0.0/0' is every IPv4 address" in ran.stderr
    private = write_config(tmp_path, trust={"trusted_networks": "10.0.0.0/8, fd00::/8, 203.0.113.0/24",
                                            "trusted_domains": "police.example"})
    assert gateway("--config", str(private), "check-config").returncode == 0
