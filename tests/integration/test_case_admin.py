"""Issue 16: the administrator's case commands, through the CLI on a real database: close,
reopen, assign (the new team is sent the case), note, each recorded as the OS user; the
stored original byte for byte; an attachment written out, a held one with a warning."""

from __future__ import annotations

import getpass

import pytest

from gateway import db
from gateway.clock import FakeClock
from gateway.render import Renderer
from gateway.runtime.worker import InboundWorker
from tests.helpers import ready_settings, db_rows, resident_mail, write_config
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database


def one_case(tmp_path) -> tuple[str, bytes]:
    path = write_config(tmp_path)
    settings = ready_settings(path)
    db.connect(settings.database, audit_key=settings.audit_key)
    clock = FakeClock()
    db.migrate(clock.now())
    msg = resident_mail()
    msg.add_attachment(b"\x89PNG\r\n\x1a\nphoto", maintype="image", subtype="png", filename="bike.png")
    msg.add_attachment(b"MZ\x90\x00program", maintype="application", subtype="octet-stream", filename="setup.exe")
    raw = msg.as_bytes()
    db.intake.save_inbound(raw, "ann@example.net", ["surgery@surgery.example.org"], "smtp", clock.now(), peer="127.0.0.1")
    while InboundWorker(settings, clock, Renderer(), "test").process_one():
        pass
    db.close()
    return str(path), raw


def test_close_reopen_assign_and_note_are_recorded_as_the_user_who_ran_them(tmp_path):
    path, _ = one_case(tmp_path)
    user = getpass.getuser()
    assert gateway("--config", path, "case", "note", "SRG-2026-0001", "Called the resident.").returncode == 0
    closed = gateway("--config", path, "case", "close", "srg-2026-0001", "--why", "resolved by phone")
    assert closed.returncode == 0 and "SRG-2026-0001 closed" in closed.stdout
    assert db_rows(tmp_path, 'select status from "case"') == [("closed",)]
    reopened = gateway("--config", path, "case", "reopen", "SRG-2026-0001")
    assert reopened.returncode == 0 and "reply due" in reopened.stdout
    assigned = gateway("--config", path, "case", "assign", "SRG-2026-0001", "rhosddu", "--note", "Their patch.")
    assert assigned.returncode == 0, assigned.stderr
    assert db_rows(tmp_path, 'select team, status from "case"') == [("rhosddu", "open")]
    sent = db_rows(tmp_path, "select rcpt_to from outbound where purpose = 'team_assigned'")
    assert sent == [("rhosddu.npt@police.example",)]
    events = db_rows(tmp_path, "select kind, detail from case_event where kind in "
                               "('note', 'closed', 'reopened', 'assigned') order by id")
    assert [k for k, _ in events] == ["note", "closed", "reopened", "assigned"]
    assert all(f"{user} (gateway case)" in detail for _, detail in events)
    assert "Their patch." in events[-1][1]
    wrong = gateway("--config", path, "case", "assign", "SRG-2026-0001", "nowhere")
    assert wrong.returncode == 2 and "no team 'nowhere'" in wrong.stderr
    missing = gateway("--config", path, "case", "close", "SRG-2026-0099")
    assert missing.returncode == 1 and "no case SRG-2026-0099" in missing.stderr


def test_raw_gives_the_original_byte_for_byte_and_attachments_come_out_held_ones_with_a_warning(tmp_path):
    path, raw = one_case(tmp_path)
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "gateway", "--config", path, "case", "raw", "SRG-2026-0001"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == raw
    assert gateway("--config", path, "case", "raw", "SRG-2026-0001", "2").returncode == 1
    shown = gateway("--config", path, "case", "show", "SRG-2026-0001").stdout
    assert "attachment 1: bike.png" in shown and "attachment 2: setup.exe" in shown and "HELD:" in shown
    photo = tmp_path / "bike.png"
    first = gateway("--config", path, "case", "attachment", "SRG-2026-0001", "1", "--out", str(photo))
    assert first.returncode == 0 and photo.read_bytes() == b"\x89PNG\r\n\x1a\nphoto" and "Warning" not in first.stderr
    program = tmp_path / "setup.exe"
    held = gateway("--config", path, "case", "attachment", "SRG-2026-0001", "2", "--out", str(program))
    assert held.returncode == 0 and program.read_bytes() == b"MZ\x90\x00program"
    assert "Warning: this attachment was held back" in held.stderr
    again = gateway("--config", path, "case", "attachment", "SRG-2026-0001", "2", "--out", str(program))
    assert again.returncode == 2 and "exists" in again.stderr
    assert db_rows(tmp_path, "select count(*) from case_event where kind = 'attachment_taken'") == [(1,)]


def test_closing_a_closed_case_changes_nothing_and_no_line_says_who_twice(tmp_path):
    import email
    from email import policy

    path, _ = one_case(tmp_path)
    user = getpass.getuser()
    assert gateway("--config", path, "case", "close", "SRG-2026-0001").returncode == 0
    again = gateway("--config", path, "case", "close", "SRG-2026-0001")
    assert again.returncode == 0 and again.stdout == "SRG-2026-0001 already closed\n"
    assert db_rows(tmp_path, "select count(*) from case_event where kind = 'closed'") == [(1,)]
    trail = gateway("--config", path, "audit", "--case", "SRG-2026-0001")
    closed = [line for line in trail.stdout.splitlines() if " closed " in line]
    assert len(closed) == 1 and closed[0].endswith(f"closed           SRG-2026-0001 by {user} (gateway case)"), trail.stdout
    assert f"(gateway case): by {user}" not in trail.stdout
    assert gateway("--config", path, "case", "assign", "SRG-2026-0001", "rhosddu", "--by", "Sgt Admin").returncode == 0
    raw = db_rows(tmp_path, "select raw from outbound where purpose = 'team_assigned'")[0][0]
    notice = email.message_from_bytes(bytes(raw), policy=policy.default).get_body(("plain",)).get_content()
    assert f"by Sgt Admin ({user}, gateway case)." in notice and "((" not in notice
    assert "opened: routed to hightown (" in notice and "by written to" not in notice
    trail = gateway("--config", path, "audit", "--case", "SRG-2026-0001").stdout
    assert f"by Sgt Admin ({user}, gateway case): from hightown to rhosddu\n" in trail, trail
