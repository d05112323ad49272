"""Records that say who did what (issue 25, item 7): closes in `case show`, an
administrator's `case assign` credited to the person, a subject access export's time in
plain ISO 8601, the monthly report's labels and charts, a held notice that does not repeat
a forger's chosen name, and `inspect` on a held reply showing its text and why."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re

import pytest

from tests.helpers import resident_mail, signed
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database


def officer_reply(forward, body: str, sender: str = "PC Jones <pc.jones@police.example>", n: int = 1):
    return resident_mail(body=body, sender=sender, to=forward["Reply-To"], message_id=f"<o{n}@police.example>",
                         subject="RE: " + forward["Subject"], In_Reply_To=forward["Message-ID"])


def test_case_show_lists_closes_by_command_and_by_close(harness):
    path = str(harness.settings.path)
    harness.submit(resident_mail())
    forward = harness.outbox("team_new_case")[0]
    harness.submit(signed(officer_reply(forward, "#close\nWe patrolled on Friday.")),
                   rcpt_tos=[forward["Reply-To"]])
    shown = gateway("--config", path, "case", "show", "SRG-2026-0001")
    assert shown.returncode == 0
    assert re.search(r"--- .*  event  \[closed\]\nrelayed from pc.jones@police.example", shown.stdout), shown.stdout
    assert gateway("--config", path, "case", "reopen", "SRG-2026-0001").returncode == 0
    assert gateway("--config", path, "case", "close", "SRG-2026-0001", "--why", "sorted by phone").returncode == 0
    shown = gateway("--config", path, "case", "show", "SRG-2026-0001").stdout
    assert shown.count("[closed]") == 2
    assert f"[closed]\nby {getpass.getuser()} (gateway case): sorted by phone" in shown


def test_an_administrators_assign_is_credited_to_the_person_not_the_old_team(harness):
    path = str(harness.settings.path)
    harness.submit(resident_mail())
    user = f"{getpass.getuser()} (gateway case)"
    assert gateway("--config", path, "case", "assign", "SRG-2026-0001", "rhosddu").returncode == 0
    text = harness.outbox("team_assigned")[-1].get_body(("plain",)).get_content()
    assert text.startswith("Case SRG-2026-0001 has been passed to the Rhosddu Neighbourhood Policing Team "
                           f"from the Hightown Neighbourhood Policing Team by {user}.")
    by = gateway("--config", path, "case", "assign", "SRG-2026-0001", "hightown", "--by", "Sgt Evans")
    assert by.returncode == 0, by.stderr
    text = harness.outbox("team_assigned")[-1].get_body(("plain",)).get_content()
    person = f"Sgt Evans ({getpass.getuser()}, gateway case)"   # one pair of brackets, not two
    assert f"from the Rhosddu Neighbourhood Policing Team by {person}." in text
    shown = gateway("--config", path, "case", "show", "SRG-2026-0001").stdout
    assert f"from rhosddu to hightown by {person}" in shown


def test_a_subject_access_export_says_when_in_plain_iso_8601(harness, tmp_path):
    harness.submit(resident_mail())
    out = tmp_path / "ann"
    made = gateway("--config", str(harness.settings.path), "export", "--resident", "ann@example.net", "--out", str(out))
    assert made.returncode == 0, made.stderr
    stamp = json.loads((out / "data.json").read_text())["exported_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp), stamp
    assert abs(dt.datetime.fromisoformat(stamp) - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)


def test_the_report_labels_today_apart_from_the_month_and_says_in_words_when_none_was_in_time(harness, tmp_path):
    from gateway.clock import FakeClock

    harness.clock = FakeClock(dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.timezone.utc))   # long past its promise
    harness.worker.clock = harness.clock
    harness.submit(resident_mail())
    out = tmp_path / "october.html"
    made = gateway("--config", str(harness.settings.path), "report", "--month", "2026-10", "--out", str(out))
    assert made.returncode == 0, made.stderr
    page = out.read_text()
    assert "<th>Open now</th>" not in page and "<th>Still open today (opened in any month)</th>" in page
    assert "No case opened this month was answered within the promise." in page
    assert "Share answered within the promise" not in "".join(re.findall(r"<svg.*?</svg>", page, re.DOTALL))
    assert "Time to first answer, working hours (the promise: 40 h): no case opened this month has been " \
        "answered yet." in page   # no boxes drawn at 0 hours
    assert "Time to first answer" not in "".join(re.findall(r"<svg.*?</svg>", page, re.DOTALL))
    week_chart = re.search(r'<figure id="per-week">(.*?)</figure>', page, re.DOTALL).group(1)
    y_axis = re.search(r'<g class="axis y[^"]*">(.*?)</g>\s*</g>', week_chart, re.DOTALL).group(1)
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", y_axis)
    assert labels and all(re.fullmatch(r"\d+", label) for label in labels), labels


def test_the_held_notice_for_a_forged_reply_does_not_show_the_forgers_name(harness):
    harness.submit(resident_mail())
    forward = harness.outbox("team_new_case")[0]
    forged = officer_reply(forward, "Send me your address.", sender='"Chief Constable Smith" <pc.jones@police.example>')
    harness.submit(forged, rcpt_tos=[forward["Reply-To"]])   # unsigned: nothing shows it is theirs
    notice = harness.outbox("team_held")[-1]
    text = notice.get_body(("plain",)).get_content()   # (the held message itself is attached, unchanged)
    assert "Chief Constable" not in notice["From"] and "Chief Constable" not in text
    assert notice["From"].addresses[0].display_name == "pc.jones@police.example (unverified) via Hightown Neighbourhood Policing Team"
    assert "From:      pc.jones@police.example (unverified: the name it gave is not shown)" in text


def test_inspect_on_a_held_officer_reply_shows_its_text_and_why(harness, tmp_path):
    harness.submit(resident_mail())
    forward = harness.outbox("team_new_case")[0]
    (tmp_path / "forged.eml").write_bytes(officer_reply(forward, "#close\nWe will patrol on Friday.").as_bytes())
    result = gateway("--config", str(harness.settings.path), "inspect", str(tmp_path / "forged.eml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "forged.eml: held SRG-2026-0001" in out
    assert "  problem: held: not authenticated" in out
    assert "  text:\n    We will patrol on Friday." in out and "#close" not in out
