"""Issue 23: a hold says its true reason first. Police mail that is not authenticated is held
as "not authenticated" (and why), whatever address it claims; mail that is authenticated but
from no officer of the team is held as that. One test per route police mail takes: a
bulletin request, a bulletin's publication, a reply on a case, and mail tied to no case.
The daemon over loopback SMTP; the reason is read where a person reads it (the team's Held
notice, or `gateway queue show`)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import db_rows, resident_mail, signed, wait_for
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send, start

# What is tested is the sender check's verdict and the words of the hold: the database only
# stores them, so these run on one backend (the first of GATEWAY_TEST_BACKENDS).
pytestmark = [pytest.mark.database, pytest.mark.one_backend]

AREAS = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"}}
BULLETIN = "bulletin+hightown@surgery.example.org"
NOT_OURS = "pc.hughes@police.example is not an officer of Hightown Neighbourhood Policing Team, the team for area hightown"


def police(sender: str, to: str, n: int, sign: bool, subject: str = "Sheds broken into", **headers) -> bytes:
    msg = resident_mail(to=to, sender=sender, subject=subject, body="Please lock your sheds.",
                        message_id=f"<p{n}@police.example>", **headers)
    return signed(msg) if sign else msg.as_bytes()


def why_held(tmp_path, n: int) -> str:
    """The reason `gateway queue show` gives for police message n, once it is handled."""
    row = wait_for(lambda: db_rows(tmp_path, "select id, kind from inbound where message_id = ? and state = 'done'",
                                   (f"<p{n}@police.example>",)), 15, what=f"message {n} handled")[0]
    assert row[1] == "held"
    shown = gateway("--config", str(tmp_path / "gateway.ini"), "queue", "show", f"in:{row[0]}", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["why"]


def held_notices(relay) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in relay.messages("hightown.npt@police.example")
            if "Held:" in m["Subject"]]


def test_a_bulletin_request_is_held_for_its_true_reason(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port, **AREAS)
    send(port, police("PC Jones <pc.jones@police.example>", BULLETIN, 1, sign=False),   # forged: an officer's name
         sender="pc.jones@police.example", rcpts=[BULLETIN])
    forged = why_held(tmp_path, 1)
    assert forged.startswith("bulletin for 'hightown' from pc.jones@police.example: not authenticated: ")
    assert "no DKIM signature from police.example" in forged and "not an officer" not in forged
    send(port, police("pc.hughes@police.example", BULLETIN, 2, sign=True),   # genuine, another team's officer
         sender="pc.hughes@police.example", rcpts=[BULLETIN])
    assert why_held(tmp_path, 2) == f"bulletin for 'hightown' from pc.hughes@police.example: {NOT_OURS}"
    assert daemon.stop() == 0


def test_a_bulletins_publication_is_held_for_its_true_reason(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port, **AREAS)
    send(port, police("PC Jones <pc.jones@police.example>", BULLETIN, 1, sign=True),
         sender="pc.jones@police.example", rcpts=[BULLETIN])
    preview = wait_for(lambda: relay.messages("pc.jones@police.example"), 15, what="the preview")[0]
    publish = preview["Reply-To"]
    send(port, police("PC Jones <pc.jones@police.example>", publish, 2, sign=False, subject="Re: preview"),
         sender="pc.jones@police.example", rcpts=[publish])   # forged: the preview's address, leaked
    forged = why_held(tmp_path, 2)
    assert forged.startswith("bulletin for 'hightown' from pc.jones@police.example: not authenticated: ")
    assert "not an officer" not in forged
    send(port, police("pc.hughes@police.example", publish, 3, sign=True, subject="Re: preview"),
         sender="pc.hughes@police.example", rcpts=[publish])
    assert why_held(tmp_path, 3) == f"bulletin for 'hightown' from pc.hughes@police.example: {NOT_OURS}"
    assert db_rows(tmp_path, "select state from bulletin") == [("draft",)]
    assert daemon.stop() == 0


def test_a_reply_on_a_case_is_held_for_its_true_reason(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    forward = wait_for(lambda: relay.messages("hightown.npt@police.example"), 15, what="the team's copy")[0]
    reply = forward["Reply-To"]
    # Another team's officer's address, unsigned: anyone could have written it.
    send(port, police("pc.hughes@police.example", reply, 1, sign=False, subject="RE: " + forward["Subject"]),
         sender="pc.hughes@police.example", rcpts=[reply])
    first = wait_for(lambda: held_notices(relay), 15, what="the first held notice")[0]
    assert "was held: not authenticated: no DKIM signature from police.example" in first
    # On another case: a team hears of holds on one case once an hour.
    send(port, resident_mail(sender="Bob <bob@example.net>", message_id="<b1@example.net>", subject="Vans"),
         sender="bob@example.net")
    forward = wait_for(lambda: [m for m in relay.messages("hightown.npt@police.example") if "Vans" in m["Subject"]],
                       15, what="the team's copy of the second case")[0]
    reply = forward["Reply-To"]
    send(port, police("pc.hughes@police.example", reply, 2, sign=True, subject="RE: " + forward["Subject"]),
         sender="pc.hughes@police.example", rcpts=[reply])
    second = wait_for(lambda: held_notices(relay)[1:], 15, what="the second held notice")[0]
    assert "was held: pc.hughes@police.example is not an officer of the case's team." in second
    assert "not authenticated" not in second and "Sender check: verified (dkim)" in second
    assert relay.messages("ann@example.net")[1:] == []   # nothing but her acknowledgement
    assert daemon.stop() == 0


def test_police_mail_tied_to_no_case_is_held_for_its_true_reason(tmp_path, gateway_process, relay):
    daemon, port = start(tmp_path, gateway_process, relay.port)
    surgery = "surgery@surgery.example.org"
    send(port, police("PC Jones <pc.jones@police.example>", surgery, 1, sign=False),
         sender="pc.jones@police.example", rcpts=[surgery])
    forged = why_held(tmp_path, 1)
    assert forged.startswith("not authenticated: no DKIM signature from police.example")
    assert forged.endswith("; mail from a police address that belongs to no case")
    send(port, police("PC Jones <pc.jones@police.example>", surgery, 2, sign=True),
         sender="pc.jones@police.example", rcpts=[surgery])
    assert why_held(tmp_path, 2) == "mail from a police address that belongs to no case"
    assert daemon.stop() == 0
