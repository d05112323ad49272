"""Through the running daemon: an officer's answer that names police addresses in several
disguises reaches the resident with each of them removed and the rest of it as written."""

from __future__ import annotations

import pytest

from tests.helpers import resident_mail, signed
from tests.integration.test_daemon import send, start

# Scrubbing is done on the text of the answer: the database only stores it, so the test runs
# on one backend (the first of GATEWAY_TEST_BACKENDS).
pytestmark = [pytest.mark.database, pytest.mark.one_backend]

ANSWER = ("Thank you for reporting this. We will patrol Hill Street this week.\n"
          "If it happens again, email {0}. Thanks for telling us.\n"
          "You can also write to {1}, {2},\n"
          "{3}, {4} or {5}.\n"
          "Our public line is 101; the caf\u00e9 on Hill Street\u00a0(ann@example.net) helps too.")
DISGUISED = ("pc.jones@police.example", "sgt.evans at police dot example", "police.example!pc.evans@relay.example",
             "dc.smith@north-wales.police\u3002uk", "pc.owen@poli\u00adce.example", '"pc evans"@[police.example]')


def test_an_answer_with_disguised_police_addresses_reaches_the_resident_without_them(
        tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port)
    send(port, resident_mail())
    forward = relay.wait(2) and relay.messages("hightown.npt@police.example")[0]
    reply = resident_mail(body=ANSWER.format(*DISGUISED), sender="PC Jones <pc.jones@police.example>",
                          to=forward["Reply-To"], subject="RE: " + forward["Subject"],
                          message_id="<scrub-1@police.example>", In_Reply_To=forward["Message-ID"])
    send(port, signed(reply), sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])
    relay.wait(4)   # the acknowledgement, the forward, the answer and the team's copy of it
    answer = relay.messages("ann@example.net")[-1]
    assert answer["Subject"].startswith("Re: Bikes on the pavement")
    text = answer.get_content().replace("\r\n", "\n")
    assert ANSWER.format(*["[address removed]"] * len(DISGUISED)) in text
    assert "police" not in answer.as_string().lower().replace("policing team", "")
    assert gateway.stop() == 0
