"""The online surgery form over HTTP (issue 27), against the real daemon on loopback: what a
resident sees in reply to the button, the mail that reaches the relay, the case in the
database and the CLI's view of it. The same page in Chromium: test_form_browser.py."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.helpers import db_rows, resident_mail, wait_for
from tests.integration.test_cli import gateway
from tests.integration.web.form_client import FormClient, start_with_form, visible_text

pytestmark = pytest.mark.database

PHOTO = ("bikes.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 2000 + b"\xff\xd9")


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_a_resident_sends_the_form_and_the_case_is_opened_routed_and_answered_like_mail(
        tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base, headers={"X-Forwarded-For": "203.0.113.9"})   # not believed: no proxy_networks
    page = browser.get("/surgery")
    text = visible_text(page.text.split("<body>", 1)[1])
    assert page.status == 200 and text.startswith("! Warning: Not for emergencies: if someone is in danger now, "
                                                  "call 999; for other police matters that need attention soon, call 101.")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert not re.search(r'(src|href|action)="(https?:)?//', page.text)   # nothing from anywhere else
    assert browser.get("/").headers["Location"] == "/surgery"

    done = browser.send(message="Cars park on the pavement on Chester Road every night. <b>Help</b>",
                        email="ann.jones@example.net", name="Ann Jones", place="LL11 2AB", files=[PHOTO])
    shown = visible_text(done.text)
    reference = re.search(r"Your reference is (SRG-\d{4}-\d{4})", shown).group(1)
    assert done.status == 200 and "Message sent" in shown and "We will reply by " in shown
    assert "call 999 now" not in shown

    team, ack = wait_for(lambda: _two(relay), 20, what="the team's copy and the acknowledgement")
    assert team["To"] == "Rhosddu Neighbourhood Policing Team <rhosddu.npt@police.example>"   # by the postcode
    copy = body(team)
    assert "Routed by: postcode LL11 2AB" in copy and "<b>Help</b>" in copy
    assert ("came by the online form, from client address 127.0.0.1; the email address was typed in and is not "
            "verified") in copy
    assert any(part.get_filename() == "bikes.jpg" for part in team.walk()) or "original message is attached" in copy
    assert ack["To"] == "ann.jones@example.net" and reference in ack["Subject"]
    said = body(ack)
    assert "Dear resident," in said and "Ann" not in said and "Chester Road" not in said   # as for an unverified sender
    assert "Chester" not in ack["Subject"]

    assert db_rows(tmp_path, "SELECT source, peer, kind FROM inbound") == [("form", "127.0.0.1", "resident_new")]
    assert db_rows(tmp_path, 'SELECT reference, team, resident_address FROM "case"') == [
        (reference, "rhosddu", "ann.jones@example.net")]
    shown = gateway("--config", str(path), "case", "show", reference).stdout
    assert "ann.jones@example.net (by the online form, from 127.0.0.1)" in shown and "attachment 1: bikes.jpg" in shown
    raw = db_rows(tmp_path, "SELECT raw FROM inbound")[0][0]
    (tmp_path / "stored.eml").write_bytes(bytes(raw))
    inspected = gateway("--config", str(path), "inspect", str(tmp_path / "stored.eml")).stdout
    assert "came by: the online form, from client address 127.0.0.1" in inspected
    assert daemon.stop() == 0


def _two(relay):
    team = [m for m in relay.messages() if "police.example" in m["To"]]
    resident = [m for m in relay.messages() if "police.example" not in m["To"]]
    return (team[0], resident[0]) if team and resident else None


def test_in_welsh_without_email_a_danger_and_an_area_chosen_from_the_list(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base, headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.8"})
    page = browser.get("/surgery")
    assert '<html lang="cy">' in page.text and "Nid ar gyfer argyfyngau" in page.text and "Anfon neges" in page.text
    assert 'href="/surgery?lang=en"' in page.text   # the link to switch, at the top
    assert '<html lang="en">' in FormClient(base).get("/surgery?lang=en", {"Accept-Language": "cy"}).text

    done = browser.send(lang="cy", message="Mae dyn efo cyllell tu allan i'r tŷ rŵan, mae gen i ofn",
                        no_email="yes", phone="07700 900982", area="hightown")
    shown = visible_text(done.text)
    assert done.status == 200 and shown.index("ffoniwch 999 nawr") < shown.index("Neges wedi’i hanfon")
    assert "Byddwn yn eich ffonio ar y rhif a roesoch." in shown

    team = wait_for(lambda: relay.messages("hightown.npt@police.example"), 20, what="the team's copy")[0]
    copy = body(team)
    assert team["Subject"].startswith("[URGENT]") and "Routed by: area chosen on the form (Hightown)" in copy
    assert "the resident has NO email and asks to be phoned" in copy and "Ffôn: 07700 900982" in copy
    assert "Dim e-bost: ffoniwch fi" in copy
    time.sleep(1)   # delivery has had its chance: nothing was addressed to the resident
    assert [m["To"] for m in relay.messages() if "police.example" not in m["To"]] == []
    assert db_rows(tmp_path, "SELECT kind, detail FROM case_event WHERE kind = 'not_acknowledged'") == [
        ("not_acknowledged", "no email: the resident asked to be phoned")]
    assert daemon.stop() == 0


def test_the_team_is_told_to_phone_a_resident_without_email_and_which_area_they_chose(
        tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    done = FormClient(base).send(message="Rubbish is dumped behind the shop every week", no_email="yes",
                                 phone="01978 123456", name="Ann Jones", area="rhosddu")
    assert done.status == 200
    team = wait_for(lambda: relay.messages("rhosddu.npt@police.example"), 20, what="the team's copy")[0]
    copy = body(team)
    assert "Routed by: area chosen on the form (Rhosddu)" in copy
    assert "From:      Ann Jones, who has NO email: phone 01978 123456" in copy
    assert "The resident has no email and asks to be phoned: phone them on 01978 123456." in copy
    assert "A reply to this email reaches no one" in copy
    assert "Reply to this email to answer the resident" not in copy and "no-email.invalid" not in copy
    nameless = FormClient(base).send(message="Broken streetlight on Hill Street", no_email="yes", phone="07700 900982")
    assert nameless.status == 200
    team = wait_for(lambda: [m for m in relay.messages("hightown.npt@police.example") if "Hill Street" in body(m)], 20,
                    what="the second team's copy")[0]
    assert "no-email.invalid" not in team["From"] + body(team) and "phone 07700 900982 via" in team["From"]
    assert "Routed by: default team" in body(team)
    assert daemon.stop() == 0


def test_mistakes_are_named_in_the_error_summary_and_what_was_typed_is_kept(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port, smtp={"max_message_bytes": "300000"})
    browser = FormClient(base)
    wrong = browser.send(message="  ", email="ann.jones@example", name='<script>alert("x")</script>')
    shown = visible_text(wrong.text)
    assert wrong.status == 400 and "<title>Error: Contact your local police team</title>" in wrong.text
    assert "There is a problem Enter your message Enter an email address in the correct format, like " \
           "name@example.com" in shown
    assert 'href="#message"' in wrong.text and 'href="#email"' in wrong.text
    assert 'value="ann.jones@example"' in wrong.text and "<script>" not in wrong.text   # kept, as text
    neither = browser.send(message="Litter everywhere")
    assert "Enter your email address, or tick “I have no email” and give a phone number" in visible_text(neither.text)
    no_phone = browser.send(message="Litter everywhere", no_email="yes", phone="call me")
    assert "Enter a phone number" in visible_text(no_phone.text)
    too_many = browser.send(message="Litter", email="a@example.net", files=[PHOTO, PHOTO, PHOTO, PHOTO])
    assert too_many.status == 400 and "Choose no more than 3 files" in visible_text(too_many.text)
    assert "Up to 3 files" in browser.get("/surgery").text
    huge = browser.send(message="Litter", email="a@example.net", files=[("big.jpg", "image/jpeg", b"\xff" * 400_000)])
    assert huge.status == 413 and "The files are too big" in visible_text(huge.text)
    browser.get("/surgery")
    browser.cookie = ""   # cookies blocked: said so, not "expired"
    blocked = browser.send(open_page=False, message="Litter", email="a@example.net")
    assert blocked.status == 400 and "This page needs a cookie" in visible_text(blocked.text)
    assert db_rows(tmp_path, "SELECT count(*) FROM inbound") == [(0,)]
    assert daemon.stop() == 0


def test_the_button_pressed_twice_at_once_makes_one_case_and_both_pages_give_its_reference(
        tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base)
    browser.send(message="The first, to warm the pipeline up", email="first@example.net")
    browser.get("/surgery")
    pages = []
    presses = [threading.Thread(target=lambda: pages.append(
        browser.send(open_page=False, message="Pressed twice", email="twice@example.net"))) for _ in range(2)]
    for press in presses:
        press.start()
    for press in presses:
        press.join()
    references = {re.search(r"Your reference is (SRG-\d{4}-\d{4})", visible_text(p.text)).group(1) for p in pages}
    assert len(references) == 1
    assert db_rows(tmp_path, "SELECT count(*) FROM \"case\" WHERE resident_address = 'twice@example.net'") == [(1,)]
    assert daemon.stop() == 0


def test_abuse_forged_token_hidden_field_quick_robot_and_the_sixth_in_an_hour(tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port,
                                         http={"form_min_seconds": "1", "proxy_networks": "127.0.0.1/32"})
    robot = FormClient(base, headers={"X-Forwarded-For": "198.51.100.7"})
    quick = robot.send(message="Buy cheap watches", email="victim@example.net")   # pressed at once
    assert quick.status == 400 and "Check your message, then press the button again" in visible_text(quick.text)
    stranger = FormClient(base)
    stranger.token = robot.token   # a page's token without its cookie (another site's forged post)
    assert stranger.send(open_page=False, message="Hello", email="victim@example.net").status == 400
    robot.get("/surgery")
    time.sleep(1.05)
    trapped = robot.send(open_page=False, message="Buy cheap watches", email="victim@example.net",
                         gw_extra="http://spam.example")
    assert trapped.status == 200 and "Your reference is" not in trapped.text
    wait_for(lambda: db_rows(tmp_path, "SELECT state, kind FROM inbound") == [("done", "quarantine")], 20,
             what="the trapped message quarantined")
    assert db_rows(tmp_path, 'SELECT count(*) FROM "case"') == [(0,)]

    resident = FormClient(base, headers={"X-Forwarded-For": "198.51.100.99, 203.0.113.5"})   # the proxy's is last
    for n in range(4):
        resident.get("/surgery")
        time.sleep(1.05)
        assert resident.send(open_page=False, message=f"Message {n}", email=f"r{n}@example.net").status == 200
    again = resident.send(open_page=False, message="Message 3", email="r3@example.net")   # the same page, twice
    assert again.status == 200 and db_rows(tmp_path, "SELECT count(*) FROM inbound WHERE peer = '203.0.113.5'") == [(4,)]
    resident.get("/surgery")
    time.sleep(1.05)
    assert resident.send(open_page=False, message="Five", email="r5@example.net").status == 200
    resident.get("/surgery")
    time.sleep(1.05)
    sixth = resident.send(open_page=False, message="Six", email="r6@example.net")
    assert sixth.status == 429 and re.search(r"Please try again after \d\d:\d\d\.", visible_text(sixth.text))
    other = FormClient(base, headers={"X-Forwarded-For": "203.0.113.6"})
    other.get("/surgery")
    time.sleep(1.05)
    assert other.send(open_page=False, message="Mine", email="o@example.net").status == 200
    assert db_rows(tmp_path, "SELECT peer, count(*) FROM inbound GROUP BY peer ORDER BY peer") == [
        ("198.51.100.7", 1), ("203.0.113.5", 5), ("203.0.113.6", 1)]
    assert daemon.stop() == 0


def test_a_mail_that_writes_the_forms_header_itself_is_not_believed(harness):
    msg = resident_mail(subject="Noise", body="Loud music every night.")
    msg["X-Surgery-Form"] = "client=10.9.9.9; lang=en; email=none; trap=filled"
    harness.submit(msg)
    assert db_rows_here("SELECT kind FROM inbound") == [("resident_new",)]   # neither quarantined nor phone-only
    team, = harness.outbox("team_new_case")
    assert "online form" not in body(team) and len(harness.outbox("resident_ack")) == 1


def db_rows_here(sql: str) -> list[tuple]:
    from gateway import db

    return [tuple(row) for row in db.connection.db.execute_sql(sql).fetchall()]


def test_an_officers_answer_to_a_resident_without_email_is_not_sent_and_the_officer_is_told(harness):
    import datetime as dt

    from gateway import db
    from gateway.mail import form as form_mail
    from tests.unit.pipeline.test_officer import officer_reply

    said = form_mail.Submission(message="Bikes on the pavement", phone="07700 900982", phone_only=True)
    raw = form_mail.build(said, "surgery@surgery.example.org", "127.0.0.1", "<a.form@surgery.example.org>",
                          dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc))
    db.intake.save_inbound(raw, form_mail.no_email_address(said.phone), ["surgery@surgery.example.org"], "form",
                           harness.clock.now(), peer="127.0.0.1")
    while harness.worker.process_one():
        pass
    officer_reply(harness, "We will come round on Tuesday.")
    assert harness.outbox("resident_answer") == [] and harness.outbox("resident_ack") == []
    notice, = harness.outbox("officer_error")
    assert notice["To"] == "pc.jones@police.example" and "This resident has no email" in notice.get_content()
    officer_reply(harness, "#close", message_id="<o2@police.example>")
    assert db_rows_here('SELECT status FROM "case"') == [("closed",)] and harness.outbox("resident_answer") == []


def test_a_second_tab_and_an_older_page_still_send_and_a_mismatched_page_says_it_expired(
        tmp_path, gateway_process, relay):
    daemon, base, path = start_with_form(tmp_path, gateway_process, relay.port)
    browser = FormClient(base)
    browser.get("/surgery")
    first_tab, cookie = browser.token, browser.cookie
    browser.get("/surgery")                                   # a second tab: the browser's cookie is kept
    second_tab = browser.token
    assert browser.cookie == cookie and second_tab != first_tab
    sent = []
    for token, text in ((first_tab, "Litter on Hill Street"), (second_tab, "Graffiti on the bridge")):
        browser.token = token
        answer = browser.send(open_page=False, message=text, email="ann@example.net")
        shown = visible_text(answer.text)
        assert answer.status == 200 and "Message sent" in shown, shown
        sent.append(re.search(r"Your reference is (SRG-\d{4}-\d{4})", shown).group(1))
    assert len(set(sent)) == 2

    other = FormClient(base)
    other.get("/surgery")
    other.token = second_tab                                  # a page made for another browser's cookie
    stale = other.send(open_page=False, message="Dog fouling by the school", email="bob@example.net")
    shown = visible_text(stale.text)
    assert stale.status == 400 and "This page had expired: press the button again" in shown
    assert "cookie" not in shown and ">Dog fouling by the school</textarea>" in stale.text   # what was typed is kept
    assert other.send(open_page=False, message="Dog fouling by the school", email="bob@example.net").status == 200

    ids = [m for m, in db_rows(tmp_path, "SELECT message_id FROM inbound")]
    assert len(ids) == 3 and all(i.endswith(".form@surgery.example.org>") for i in ids)
    assert not any(c in i for i in ids for c in (cookie, other.cookie))   # nothing of the cookie
    assert daemon.stop() == 0
    assert cookie not in daemon.log_text() and other.cookie not in daemon.log_text()
