"""Attachments: programs and scripts never reach a police computer; the rest do."""

from __future__ import annotations

import io
import zipfile

import pytest

from gateway.runtime.inspect import inspect
from gateway.mail.attachments import dangerous
from gateway.db.models import CaseEvent, Inbound
from tests.helpers import resident_mail

pytestmark = pytest.mark.database


def macro_docm() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
        archive.writestr("word/vbaProject.bin", b"\x00")
    return buffer.getvalue()


def test_judged_by_name_and_by_content():
    assert dangerous("setup.exe", b"")
    assert dangerous("photo.JS", b"")
    assert dangerous("invoice.pdf", b"MZ\x90\x00")          # a program dressed as a PDF
    assert dangerous("notes.txt", b"#!/bin/sh\nrm -rf ~")
    assert dangerous("report.docx", macro_docm())            # macros inside, whatever the name says
    assert dangerous("photo.jpg", b"\xff\xd8\xff\xe0JFIF") is None
    assert dangerous("statement.pdf", b"%PDF-1.7") is None


def test_an_executable_is_held_back_and_the_rest_reaches_the_team(harness):
    msg = resident_mail(body="Photos of the damage attached.")
    msg.add_attachment(b"\xff\xd8\xff\xe0JFIF-photo", maintype="image", subtype="jpeg", filename="car.jpg")
    msg.add_attachment(b"MZ\x90\x00program", maintype="application", subtype="pdf", filename="invoice.pdf")
    raw = msg.as_bytes()
    harness.submit(raw)
    forward, = harness.outbox("team_new_case")
    text = forward.get_body(("plain",)).get_content()
    assert "Held back for safety" in text and "invoice.pdf: a Windows program (by its content)" in text
    files = {part.get_filename(): part.get_content() for part in forward.iter_attachments()}
    assert set(files) == {"car.jpg"} and files["car.jpg"] == b"\xff\xd8\xff\xe0JFIF-photo"
    assert b"MZ\x90\x00program" not in forward.as_bytes()
    assert bytes(Inbound.get().raw) == raw                      # the original stays, byte for byte
    assert "invoice.pdf" in CaseEvent.get(CaseEvent.kind == "attachments_held").detail
    assert inspect("m.eml", raw).attachments_held == ["invoice.pdf: a Windows program (by its content)"]


def test_attachment_limits(make_harness):
    harness = make_harness(limits={"max_attachments": "1"})
    msg = resident_mail()
    for n in range(3):
        msg.add_attachment(f"photo {n}".encode(), maintype="image", subtype="jpeg", filename=f"p{n}.jpg")
    harness.submit(msg)
    forward, = harness.outbox("team_new_case")
    assert [p.get_filename() for p in forward.iter_attachments()] == ["p0.jpg"]
    assert forward.get_body(("plain",)).get_content().count("more than 1 attachments") == 2


def test_a_second_team_written_to_gets_no_executable_either(harness):
    msg = resident_mail(to="hightown@surgery.example.org, rhosddu@surgery.example.org")
    msg.add_attachment(b"MZ\x90\x00program", maintype="application", subtype="octet-stream", filename="setup.exe")
    harness.submit(msg, rcpt_tos=["hightown@surgery.example.org", "rhosddu@surgery.example.org"])
    notice, = harness.outbox("team_copy_elsewhere")
    assert b"MZ\x90\x00program" not in notice.as_bytes()
    assert [p.get_filename() for p in notice.iter_attachments()] == []
    assert "setup.exe (a .exe file can run code)" in notice.get_body(("plain",)).get_content()
    assert CaseEvent.select().where(CaseEvent.kind == "attachments_held").count() == 1
