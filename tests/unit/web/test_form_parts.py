"""The online form's pure parts: its settings, the page's language, the anti-forgery token,
the client's address behind a proxy, and the message built from the fields."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from gateway import config
from gateway.errors import ConfigError
from gateway.mail import form as form_mail
from gateway.mail.parse import parse
from gateway.web import form_check
from gateway.web.form_words import WORDS, language
from tests.helpers import write_config

PROXY = (ipaddress.ip_network("10.0.0.0/24"),)


def test_the_form_is_off_by_default_and_on_needs_the_web_server(tmp_path):
    assert config.load(write_config(tmp_path)).form is None
    on = config.load(write_config(tmp_path, http={"listen": "127.0.0.1:8080", "base_url": "https://x.example",
                                                  "form": "on"}))
    assert (on.form.per_client_per_hour, on.form.min_seconds, on.form.proxy_networks) == (5, 3.0, ())
    with pytest.raises(ConfigError, match=r"\[http\] form: needs \[http\] listen"):
        config.load(write_config(tmp_path, http={"form": "on"}))
    with pytest.raises(ConfigError, match=r"\[http\] proxy_networks: 'nonsense' is not a network"):
        config.load(write_config(tmp_path, http={"listen": "127.0.0.1:8080", "base_url": "https://x.example",
                                                 "form": "on", "proxy_networks": "nonsense"}))


def test_the_language_is_the_links_then_the_browsers_then_english():
    assert language("cy", "en") == "cy" and language("en", "cy") == "en"
    assert language("", "cy-GB,cy;q=0.9,en;q=0.5") == "cy"
    assert language("", "en-GB,en;q=0.9,cy;q=0.8") == "en"
    assert language("", "fr,cy;q=0.4") == "cy" and language("", "fr") == "en" and language("xx", "") == "en"
    assert set(WORDS["en"]) == set(WORDS["cy"])   # every word has its Welsh


def test_the_token_needs_its_cookie_its_signature_and_a_fresh_page():
    cookie = form_check.new_cookie()
    token = form_check.new_token("s3cret", 1000.0, cookie)
    page, age, problem = form_check.read_token(token, cookie, ["old", "s3cret"], 1004.5)
    assert (age, problem) == (pytest.approx(4.5), "") and len(page) == 24 and page not in cookie
    assert form_check.read_token(token, "0" * 24, ["s3cret"], 1004.0)[2] == "expired"   # made for another cookie
    assert form_check.read_token(token, "", ["s3cret"], 1004.0)[2] == "cookie"         # cookies blocked
    assert form_check.read_token(token, cookie, ["other"], 1004.0)[2] == "expired"      # not signed by us
    assert form_check.read_token(token, cookie, ["s3cret"], 1000.0 + 5 * 3600)[2] == "expired"   # open too long
    issued, _, rest = token.partition(".")
    assert form_check.read_token(f"{int(issued) - 60_000}.{rest}", cookie, ["s3cret"], 1004.0)[2] == "expired"


def test_two_pages_for_one_cookie_are_two_messages_and_their_ids_tell_nothing_of_the_cookie():
    cookie = form_check.new_cookie()
    first, second = (form_check.new_token("s3cret", 1000.0, cookie) for _ in range(2))
    pages = [form_check.read_token(t, cookie, ["s3cret"], 1004.0)[0] for t in (first, second)]
    ids = [form_check.message_id("s3cret", page, "surgery.example.org") for page in pages]
    assert ids[0] != ids[1] and ids[0] == form_check.message_id("s3cret", pages[0], "surgery.example.org")
    assert all(cookie not in i and pages[0] not in i and pages[1] not in i for i in ids)


def test_forwarded_for_is_believed_only_from_the_proxy():
    assert form_check.client_address("203.0.113.5", "198.51.100.1", PROXY) == "203.0.113.5"
    assert form_check.client_address("10.0.0.2", "198.51.100.1, 203.0.113.5", PROXY) == "203.0.113.5"
    assert form_check.client_address("10.0.0.2", "", PROXY) == "10.0.0.2"
    assert form_check.client_address("::ffff:10.0.0.2", "2001:db8:1:2::7", PROXY) == "2001:db8:1:2::/64"
    assert form_check.client_address("10.0.0.2", "garbage", PROXY) == "10.0.0.2"


def test_a_submission_becomes_an_ordinary_message_and_its_facts_read_back():
    now = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc)
    sent = form_mail.Submission(message="Cars on the pavement\r\nevery night", phone="07700 900982", phone_only=True,
                                name="Ann\nBcc: x@example.net", place="LL13 7AB", language="cy",
                                files=(("a.pdf", "application/pdf", b"%PDF-1.4"),))
    msg = parse(form_mail.build(sent, "surgery@surgery.example.org", "203.0.113.5", "<n.form@x>", now))
    assert msg.from_address == "phone-07700900982@no-email.invalid" and msg.subject == "Neges o'r ffurflen ar-lein"
    assert msg.header("bcc") == "" and "Cars on the pavement\nevery night" in msg.text and "Cod post neu ardal: LL13 7AB" in msg.text
    assert [a.name for a in msg.attachments] == ["a.pdf"]
    facts = form_mail.facts(msg.header(form_mail.HEADER))
    assert (facts.client, facts.language, facts.email_given, facts.trap) == ("203.0.113.5", "cy", False, False)
    assert "NO email" in form_mail.describe(facts)


def test_the_fields_are_checked_as_the_page_says():
    assert [e for _, e in form_check.check({"message": "", "email": "a@b"}, set()).errors] == ["err_message", "err_email"]
    assert form_check.check({"message": "x", "email": "", "no_email": "yes", "phone": "01632 960001"}, set()).errors == []
    ours = form_check.check({"message": "x", "email": "Surgery@surgery.example.org"}, set(), "surgery.example.org")
    assert ours.errors == [("email", "err_email_ours")]   # mail "from" our own domain is dropped as a loop
    ticked_with_email = form_check.check({"message": "x", "email": "a@example.net", "no_email": "yes"}, set())
    assert not ticked_with_email.phone_only and ticked_with_email.errors == []
    assert form_check.check({"message": "x", "email": "a@example.net", "area": "elsewhere"}, {"hightown"}).values["area"] == ""


def test_a_language_the_browser_gives_q_0_is_one_it_does_not_want():
    assert language("", "cy;q=0") == "en" and language("", "cy;q=0.0, fr") == "en"
    assert language("", "en;q=0.1, cy;q=0.5") == "cy" and language("", "en;q=0, cy") == "cy"
    assert language("", "cy;level=1;q=0") == "en" and language("", "cy;q=banana") == "en"


def test_a_typed_name_is_a_name_and_an_upload_of_a_mail_or_page_is_opaque():
    assert form_mail.person_name("Ann <victim6@evil.test>") == "Ann"
    assert form_mail.person_name("Siân O'Neill-Jones") == "Siân O'Neill-Jones"
    for typed in ("=?utf-8?q?=3Cvictim=40evil.test=3E=2C?=", "Ann =?utf-8?q?=0D?= Jones", "a\r\nBcc: x\x00"):
        assert not any(c in form_mail.person_name(typed) for c in "<>@,\r\n\x00") and "=?" not in form_mail.person_name(typed)
    for declared in ("multipart/related", "message/rfc822", "Multipart/Mixed; boundary=x", "", "nonsense"):
        part = _built(files=(("page.mhtml", declared, b"--x\r\n\r\n"),)).get_payload()[1]
        assert part.get_content_type() == "application/octet-stream" and part.get_payload(decode=True) == b"--x\r\n\r\n"
    assert _built(files=(("a.jpg", "image/jpeg", b"\xff\xd8"),)).get_payload()[1].get_content_type() == "image/jpeg"


def _built(**fields):
    import email
    from email import policy

    said = form_mail.Submission(message="Hello", email="ann@example.net", **fields)
    raw = form_mail.build(said, "surgery@surgery.example.org", "127.0.0.1", "<a.form@surgery.example.org>",
                          dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc))
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_form_refuses_addresses_a_mail_header_cannot_carry_plainly():
    def errors(address):
        return form_check.check({"message": "Hi", "email": address}, set()).errors

    assert errors("ännä@example.com") == [("email", "err_email_ascii")]
    assert errors("a[b]@example.com") == [("email", "err_email")]
    assert errors("o'neil+x@example.co.uk") == []
