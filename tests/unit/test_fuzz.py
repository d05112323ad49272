"""Any bytes at all: parsing, classification, trimming and report reading never raise, and
always give an answer. Property-based (hypothesis), with message-shaped inputs as well as noise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.runtime.inspect import inspect
from gateway.mail import bounces, classify
from gateway.mail.parse import parse
from gateway.mail.trim import reply_text, trim

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_names = st.sampled_from(["From", "To", "Cc", "Subject", "Message-ID", "References", "In-Reply-To",
                                "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted", "Return-Path",
                                "MIME-Version", "Received", "X-Loop", "List-Id", "Date"])
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["multipart/mixed; boundary=x", "multipart/report; report-type=delivery-status; boundary=b",
                     "text/plain; charset=utf-7", "text/html; charset=klingon", "base64", "quoted-printable",
                     "=?utf-8?B?////?=", "=?iso-8859-1?Q?caf=E9?=", "<a@b>", "<<>>", "auto-replied", "\udcff"]))
bodies = st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogateescape")))


@st.composite
def messages(draw) -> bytes:
    head = b"".join(f"{draw(header_names)}: {draw(header_values)}\r\n".encode("utf-8", "surrogateescape")
                    for _ in range(draw(st.integers(0, 12))))
    body = draw(bodies)
    if draw(st.booleans()):  # a multipart skeleton, often broken
        body = b"--x\r\nContent-Type: text/plain\r\n\r\n" + body + (b"\r\n--x--" if draw(st.booleans()) else b"")
    return head + b"\r\n" + body


@FUZZ
@given(st.one_of(st.binary(max_size=3000), messages()))
def test_parse_classify_and_read_reports_never_raise(raw):
    msg = parse(raw)
    assert isinstance(msg.text, str) and isinstance(msg.problems, list)
    classify.automatic(msg, msg.from_address)
    classify.is_bounce(msg, "")
    classify.loop(msg, "surgery.example.org", {"surgery@surgery.example.org"})
    classify.postcodes(msg.text)
    report = bounces.read(raw)
    assert report is None or report.kind in ("bounce", "delay", "complaint", "receipt")
    assert isinstance(reply_text(msg), str)


@FUZZ
@given(st.text(max_size=3000))
def test_trimming_never_raises_and_never_empties_a_message(text):
    trimmed = trim(text)
    assert isinstance(trimmed, str)
    if text.strip():
        assert trimmed.strip()


@FUZZ
@given(st.one_of(st.binary(max_size=3000), messages()))
def test_inspect_always_answers_with_a_known_kind(raw):
    row = inspect("fuzz.eml", raw).as_dict()
    assert row["kind"] in ("resident_new", "resident_follow_up", "officer_reply", "auto_reply", "bounce", "loop",
                           "held", "invalid")
