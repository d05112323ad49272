"""The online form against an attacker's findings, over HTTP to the real daemon: sending at
once to beat the per-client limit, ordinary input that used to give a bare 500, a page's
token used twice, the confirmation's "call 999 now", a name that carries an address, the
browser's q=0 and a police address typed into the form."""

from __future__ import annotations

import re
import threading
from email.utils import getaddresses

import pytest

from tests.helpers import db_rows, wait_for
from tests.integration.web.form_client import FormClient, start_with_form, visible_text

pytestmark = pytest.mark.database
REFERENCE = r"Your reference is (SRG-\d{4}-\d{4})"


def test_fifteen_posts_at_once_from_one_client_store_five_and_the_rest_are_told_when(
        tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browsers = [FormClient(base) for _ in range(15)]
    for browser in browsers:
        browser.get("/surgery")
    pages = []
    presses = [threading.Thread(target=lambda b=b, n=n: pages.append(
        b.send(open_page=False, message=f"Litter {n}", email=f"r{n}@example.net"))) for n, b in enumerate(browsers)]
    for press in presses:
        press.start()
    for press in presses:
        press.join()
    assert sorted(p.status for p in pages) == [200] * 5 + [429] * 10
    assert all(re.search(r"Please try again after \d\d:\d\d\.", visible_text(p.text)) for p in pages if p.status == 429)
    assert db_rows(tmp_path, "SELECT count(*) FROM inbound") == [(5,)]
    assert daemon.stop() == 0


def test_an_address_with_accented_letters_is_refused_plainly(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    accented = FormClient(base).send(message="Litter in the park", email="ännä@example.com")
    assert accented.status == 400
    assert "Use an address with only English letters, or leave it out" in visible_text(accented.text)
    assert 'value="ännä@example.com"' in accented.text and "Litter in the park" in accented.text
    assert db_rows(tmp_path, "SELECT count(*) FROM inbound") == [(0,)]
    assert daemon.stop() == 0


def test_a_name_typed_as_an_encoded_line_break_is_plain_text(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    encoded = FormClient(base).send(message="Bins not collected", email="bins@example.net",
                                    name="Ann =?utf-8?q?=0D?= Jones")
    assert encoded.status == 200 and "Message sent" in visible_text(encoded.text)
    team = wait_for(lambda: relay.messages("hightown.npt@police.example"), 20, what="the team's copy")[0]
    assert "\r" not in str(team["From"]) and "Ann" in str(team["From"])
    assert "Name: Ann =?utf-8?q?=0D?= Jones" in team.get_body(("plain",)).get_content()   # as typed, in the text
    assert daemon.stop() == 0


def test_a_saved_web_page_uploaded_as_multipart_related_reaches_the_team(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    page = ("page.mhtml", "multipart/related", b"MIME-Version: 1.0\r\n\r\n<html>the council's page</html>")
    saved = FormClient(base).send(message="The page I saw", email="page@example.net", files=[page])
    assert saved.status == 200 and "Message sent" in visible_text(saved.text)
    team = wait_for(lambda: relay.messages("hightown.npt@police.example"), 20, what="the team's copy")[0]
    parts = [p for p in team.walk() if p.get_filename() == "page.mhtml"]
    if parts:   # attached as it came, opaque
        assert parts[0].get_content_type() == "application/octet-stream"
        assert b"the council's page" in parts[0].get_payload(decode=True)
    assert db_rows(tmp_path, "SELECT mail_from FROM inbound") == [("page@example.net",)]
    assert daemon.stop() == 0


def test_a_page_that_breaks_after_storing_still_says_the_message_is_taken(tmp_path, gateway_process, relay):
    broken = tmp_path / "templates" / "web"
    broken.mkdir(parents=True)
    (broken / "confirmation.html.j2").write_text("{{ no_such_value }}")   # an administrator's mistakes
    (broken / "try_later.html.j2").write_text("{{ no_such_value }}")
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port, http={"form_per_client_per_hour": "1"},
                                         gateway={"templates": str(tmp_path / "templates")})
    done = FormClient(base).send(message="Litter in the park", email="ann@example.net")
    shown = visible_text(done.text)
    assert done.status == 200 and "We have your message" in shown and "Internal Server Error" not in shown
    refused = FormClient(base).send(message="Bins not collected", email="bob@example.net")   # breaks before storing
    assert "Sorry, we could not take your message: please try again, or email surgery@surgery.example.org" in \
        visible_text(refused.text) and "Internal Server Error" not in refused.text
    assert db_rows(tmp_path, "SELECT mail_from FROM inbound") == [("ann@example.net",)]
    assert daemon.stop() == 0


def test_a_page_sent_again_with_other_text_is_not_dropped_and_shows_no_reference(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base)
    first = browser.send(message="Bins not collected on Elm Street", email="first@example.net")
    reference = re.search(REFERENCE, visible_text(first.text)).group(1)
    old_token = browser.token   # the confirmation has none: a refresh sends the same page's token again
    again = browser.send(open_page=False, message="Graffiti on the bus shelter", email="third@example.net")
    shown = visible_text(again.text)
    assert "This page had already been sent: press the button again to send this message" in shown
    assert reference not in shown and "Your reference is" not in shown
    assert "Graffiti on the bus shelter" in again.text and 'value="third@example.net"' in again.text
    assert browser.token != old_token
    sent = browser.send(open_page=False, message="Graffiti on the bus shelter", email="third@example.net")
    assert re.search(REFERENCE, visible_text(sent.text)).group(1) != reference
    assert db_rows(tmp_path, "SELECT mail_from FROM inbound ORDER BY id") == [
        ("first@example.net",), ("third@example.net",)]
    assert daemon.stop() == 0


def test_the_same_page_sent_twice_gives_its_own_reference_to_its_own_browser(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port, http={"proxy_networks": "127.0.0.1/32"})
    browser = FormClient(base, headers={"X-Forwarded-For": "203.0.113.5"})
    first = browser.send(message="Bins not collected", email="first@example.net")
    reference = re.search(REFERENCE, visible_text(first.text)).group(1)
    # the confirmation has no token: the browser still holds the page's, as a refresh would send it
    twice = browser.send(open_page=False, message="Bins not collected", email="first@example.net")
    assert re.search(REFERENCE, visible_text(twice.text)).group(1) == reference
    browser.headers["X-Forwarded-For"] = "198.51.100.7"   # the same page and words from another client
    elsewhere = browser.send(open_page=False, message="Bins not collected", email="first@example.net")
    assert "This page had already been sent" in visible_text(elsewhere.text) and reference not in elsewhere.text
    assert db_rows(tmp_path, "SELECT count(*) FROM inbound") == [(1,)]
    assert daemon.stop() == 0


def test_call_999_now_is_the_pipelines_decision_for_this_message(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port,
                                         limits={"new_cases_per_sender_per_hour": "1"})
    browser = FormClient(base)
    danger = browser.send(message="A man with a knife is outside my house now, I am scared", email="ann@example.net")
    assert "call 999 now" in visible_text(danger.text)
    litter = browser.send(message="Litter in the park", email="ann@example.net")   # grouped onto the first case
    assert litter.status == 200 and "call 999 now" not in visible_text(litter.text)
    assert daemon.stop() == 0


def test_a_name_is_a_name_in_the_teams_copy(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base)
    browser.send(message="Bins not collected", email="ann@example.net", name="Ann <victim6@evil.test>")
    browser.send(message="Litter in the park", email="bob@example.net", name="=?utf-8?q?=3Cvictim=40evil.test=3E=2C?=")
    copies = wait_for(lambda: [m for m in relay.messages() if "police.example" in m["To"]] if len(
        [m for m in relay.messages() if "police.example" in m["To"]]) >= 2 else None, 20, what="two team copies")
    for copy in copies:   # one address in From, the gateway's; the name has none
        (name, address), = getaddresses([str(copy["From"])])
        assert address == "surgery@surgery.example.org" and not re.search(r"[<>@,]", name), copy["From"]
        assert "evil.test" not in str(copy.get("Reply-To", ""))
    names = dict(db_rows(tmp_path, 'SELECT resident_address, resident_name FROM "case"'))
    assert names["ann@example.net"] == "Ann"
    assert not re.search(r"[<>@,]", names["bob@example.net"])
    assert daemon.stop() == 0


def test_a_browser_that_says_no_welsh_gets_english(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    assert '<html lang="en">' in FormClient(base, headers={"Accept-Language": "cy;q=0"}).get("/surgery").text
    assert '<html lang="en">' in FormClient(base, headers={"Accept-Language": "cy;q=0, fr"}).get("/surgery").text
    assert '<html lang="cy">' in FormClient(base, headers={"Accept-Language": "en;q=0.1, cy;q=0.5"}).get("/surgery").text
    assert daemon.stop() == 0


@pytest.mark.parametrize("typed", ["new.officer@police.example", "pc.jones@police.example"])
def test_a_police_address_typed_on_the_form_is_held_and_not_acknowledged(tmp_path, gateway_process, relay, typed):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    done = FormClient(base).send(message="Please call me back about the bins", email=typed)
    assert done.status == 200 and "Your reference is" not in visible_text(done.text)
    wait_for(lambda: db_rows(tmp_path, "SELECT state FROM inbound") == [("done",)], 20, what="the message handled")
    (kind, why), = db_rows(tmp_path, "SELECT kind, error FROM inbound")
    assert kind == "held" and "a police address typed on the online form" in why
    assert db_rows(tmp_path, 'SELECT count(*) FROM "case"') == [(0,)]
    assert relay.messages(typed) == []
    assert daemon.stop() == 0
