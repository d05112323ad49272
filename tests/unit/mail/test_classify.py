from gateway.mail import classify
from gateway.mail.parse import parse
from tests.helpers import resident_mail


def test_ordinary_mail_is_not_automatic():
    msg = parse(resident_mail(body="I am out of office today but wanted to report this.").as_bytes())
    assert classify.automatic(msg, "ann@example.net") is None


def test_robot_signs():
    cases = [
        (resident_mail(Auto_Submitted="auto-replied"), "ann@example.net", "Auto-Submitted: auto-replied"),
        (resident_mail(Precedence="bulk"), "ann@example.net", "Precedence: bulk"),
        (resident_mail(Precedence="list"), "ann@example.net", "Precedence: list"),
        (resident_mail(), "", "null envelope sender"),
        (resident_mail(sender="MAILER-DAEMON@mx.example.net"), "x@mx.example.net", "sent by mailer-daemon"),
    ]
    for message, envelope_from, reason in cases:
        assert classify.automatic(parse(message.as_bytes()), envelope_from) == reason
    assert classify.automatic(parse(resident_mail(Auto_Submitted="no").as_bytes()), "a@b.example") is None


def test_our_own_mail_coming_back_is_a_loop():
    ours = parse(resident_mail(X_Loop="surgery.example.org").as_bytes())
    assert classify.loop(ours, "surgery.example.org", set()) == "X-Loop surgery.example.org"
    from_us = parse(resident_mail(sender="surgery@surgery.example.org").as_bytes())
    assert classify.loop(from_us, "surgery.example.org", {"surgery@surgery.example.org"})
    assert classify.loop(parse(resident_mail().as_bytes()), "surgery.example.org", set()) is None


def test_subject_references_and_postcodes():
    assert classify.subject_references("Re: noise [srg-2026-0042]", "SRG") == ["SRG-2026-0042"]
    assert classify.subject_references("SRG-26-42", "SRG") == []
    assert classify.postcodes("I live at 3 High St, ll137ab, and work in LL11 2EF.") == ["LL13 7AB", "LL11 2EF"]
    assert classify.postcode_matches("LL13 7AB", "LL13 7")
    assert classify.postcode_matches("LL13 7AB", "LL13")
    assert not classify.postcode_matches("LL13 7AB", "LL1")
    assert not classify.postcode_matches("LL13 8AB", "LL13 7")


def test_parse_survives_any_bytes():
    for raw in (b"", b"\x00\xff\xfe garbage", b"Subject: =?koi8-r?B?\xff?=\n\n\xff\xfe",
                b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain; charset=bogus\n\nhi\n"):
        msg = parse(raw)
        assert isinstance(msg.text, str)
        assert msg.problems


def test_html_only_mail_becomes_readable_text():
    raw = (b"From: a@example.net\nMessage-ID: <h@x>\nContent-Type: text/html\n\n"
           b"<html><head><style>p{}</style></head><body><p>Hello&nbsp;there</p><p>Line two</p></body></html>")
    assert parse(raw).text == "Hello there\n\nLine two"


def test_deep_nesting_is_cut_off_with_a_problem_noted():
    raw = b"From: a@example.net\n"
    for depth in range(60):
        raw += f"Content-Type: multipart/mixed; boundary=b{depth}\n\n--b{depth}\n".encode()
    raw += b"Content-Type: text/plain\n\ndeep\n"
    msg = parse(raw)
    assert any("nested deeper" in p for p in msg.problems)


def test_headers_are_read_the_same_whether_plain_encoded_or_rfc2231():
    raw = (b"From: =?utf-8?q?Si=C3=A2n?= Jones <sian@example.net>\r\n"
           b"To: Surgery <surgery@surgery.example.org>,\r\n  Other <other@example.net>\r\n"
           b"Subject: Parcio\r\n  ar y palmant\r\n"
           b"Message-ID: <x1@example.net>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
           b"--b1\r\nContent-Type: text/plain; charset*=utf-8''utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\nCeir ar y palmant \xe2\x80\x94 eto.\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n"
           b"Content-Disposition: attachment; filename*=utf-8''caf%C3%A9.txt\r\n\r\nhello\r\n--b1--\r\n")
    msg = parse(raw)
    assert (msg.from_name, msg.from_address) == ("Siân Jones", "sian@example.net")
    assert msg.to == ["surgery@surgery.example.org", "other@example.net"]
    assert msg.subject == "Parcio ar y palmant"
    assert msg.message_id == "<x1@example.net>"
    assert msg.text.strip() == "Ceir ar y palmant — eto."
    assert [a.name for a in msg.attachments] == ["café.txt"]
    assert msg.problems == []
