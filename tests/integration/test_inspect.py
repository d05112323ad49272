"""`gateway inspect`: how each message would be read, changing nothing, never crashing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import db_rows, resident_mail, signed
from tests.integration.test_cli import gateway
import pytest

pytestmark = pytest.mark.database

OUTLOOK_REPLY = """We will patrol Hill Street on Friday evening.

Kind regards,
PC 1234 Jones | 01978 123456

________________________________
From: Hightown Neighbourhood Policing Team <surgery@surgery.example.org>
Sent: 28 November 2026 10:00
Subject: [SRG-2026-0001] Bikes on the pavement

They ride on the pavement.
"""


def rows(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_without_a_config_it_classifies_every_file_and_survives_anything(tmp_path):
    files = {
        "resident.eml": resident_mail(body="Thanks.\n\nOn Sat, 28 Nov 2026, Team <t@x.org> wrote:\n> hi").as_bytes(),
        "ooo.eml": resident_mail(subject="Out of office", Auto_Submitted="auto-replied").as_bytes(),
        "bounce.eml": resident_mail(sender="MAILER-DAEMON@mx.example.net", subject="Undelivered",
                                    Auto_Submitted="auto-replied").as_bytes(),
        "garbage.eml": bytes(range(256)) * 40,
        "urgent.eml": resident_mail(body="There is a man with a knife in the park.").as_bytes(),
        "postfix_bounce.eml": (Path(__file__).resolve().parents[1] / "data" / "bounces" / "postfix_01.txt").read_bytes(),
        "empty.eml": b"",
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    result = gateway("inspect", "--json", *(str(tmp_path / n) for n in files), str(tmp_path / "missing.eml"))
    assert result.returncode == 1 and "missing.eml: cannot read" in result.stderr
    by_file = {r["file"].rsplit("/", 1)[1]: r for r in rows(result)}
    assert set(by_file) == set(files)
    assert by_file["resident.eml"]["kind"] == "resident_new"
    assert by_file["resident.eml"]["reply_text"] == "Thanks."
    assert by_file["resident.eml"]["case"] is None and by_file["resident.eml"]["auto_submitted"] is False
    assert (by_file["ooo.eml"]["kind"], by_file["ooo.eml"]["auto_submitted"]) == ("auto_reply", True)
    assert by_file["bounce.eml"]["kind"] == "bounce"
    assert by_file["postfix_bounce.eml"]["bounce"] == {"recipients": ["xxxxx@local.ie"], "permanent": True,
                                                       "type": "bounce", "reason": "user_unknown",
                                                       "suppress": True, "verp": None}
    assert "bounce" not in by_file["resident.eml"] and by_file["resident.eml"]["urgent"] is False
    assert by_file["urgent.eml"]["urgent"] is True
    assert by_file["garbage.eml"]["kind"] == "invalid" and by_file["garbage.eml"]["problems"]
    assert by_file["empty.eml"]["kind"] == "invalid"
    assert "no usable From address" in by_file["empty.eml"]["problems"]


def test_with_a_config_it_threads_against_the_database_and_changes_nothing(harness, tmp_path):
    harness.submit(resident_mail())
    forward = harness.outbox("team_new_case")[0]
    reply = resident_mail(body=OUTLOOK_REPLY, sender="PC Jones <pc.jones@police.example>",
                          subject="RE: [SRG-2026-0001] Bikes on the pavement", to=forward["Reply-To"],
                          message_id="<o1@police.example>")
    stranger = resident_mail(body="Let me in", sender="mallory@example.com", to=forward["Reply-To"],
                             message_id="<m1@example.com>")
    (tmp_path / "reply.eml").write_bytes(signed(reply))
    (tmp_path / "stranger.eml").write_bytes(stranger.as_bytes())
    (tmp_path / "again.eml").write_bytes(resident_mail().as_bytes())
    before = _counts(tmp_path)

    result = gateway("--config", str(tmp_path / "gateway.ini"), "inspect", "--json",
                     str(tmp_path / "reply.eml"), str(tmp_path / "stranger.eml"), str(tmp_path / "again.eml"))
    assert result.returncode == 0, result.stderr
    reply_row, stranger_row, again_row = rows(result)
    assert (reply_row["kind"], reply_row["case"]) == ("officer_reply", "SRG-2026-0001")
    assert reply_row["reply_text"] == "We will patrol Hill Street on Friday evening."
    assert reply_row["sender_check"] == "verified (dkim)" and reply_row["language"] == "en"
    assert stranger_row["sender_check"].startswith("not verified: no DKIM signature from example.com")
    assert (stranger_row["kind"], stranger_row["case"]) == ("held", "SRG-2026-0001")
    assert (again_row["kind"], again_row["case"]) == ("resident_new", "SRG-2026-0001")
    assert any("already taken in as inbound 1" in p for p in again_row["problems"])
    assert _counts(tmp_path) == before

    human = gateway("--config", str(tmp_path / "gateway.ini"), "inspect", str(tmp_path / "reply.eml"))
    assert human.returncode == 0
    assert ("reply.eml: officer_reply SRG-2026-0001 [answered in English]\n  sender check: verified (dkim)\n"
            "  automatic: no\n  urgent: no\n  attachments held: none\n  problems: none\n"
            "  text:\n    We will patrol Hill Street") in human.stdout
    stored = gateway("--config", str(tmp_path / "gateway.ini"), "inspect", str(tmp_path / "again.eml"))
    assert stored.returncode == 0
    assert "  sender check: not checked: already taken in as inbound 1\n" in stored.stdout
    assert "no config" not in stored.stdout   # a config was given


def test_a_message_of_danger_already_taken_in_is_still_shown_urgent(harness, tmp_path):
    danger = resident_mail(subject="Next door", body="He is kicking her door in and she is screaming, "
                                                     "he says he will kill her tonight.", message_id="<k1@example.net>")
    harness.submit(danger)
    (tmp_path / "danger.eml").write_bytes(danger.as_bytes())
    shown = gateway("--config", str(tmp_path / "gateway.ini"), "inspect", "--json", str(tmp_path / "danger.eml"))
    row, = rows(shown)
    assert row["kind"] == "resident_new" and row["case"] == "SRG-2026-0001"
    assert row["urgent"] is True and row["urgent_why"] and "kicking her door in" in row["reply_text"]


def test_inspect_refuses_a_database_that_was_never_initialised(tmp_path):
    from tests.helpers import write_config
    path = write_config(tmp_path)
    (tmp_path / "m.eml").write_bytes(resident_mail().as_bytes())
    result = gateway("--config", str(path), "inspect", str(tmp_path / "m.eml"))
    assert result.returncode == 2 and "run `gateway init` first" in result.stderr


def _counts(folder) -> dict[str, int]:
    return {table: db_rows(folder, f'select count(*) from "{table}"')[0][0] for table in ("case", "inbound", "outbound", "case_event", "message_ref", "reference_counter")}


def test_the_text_view_shows_what_json_shows_and_says_where_it_cuts(tmp_path):
    from tests.unit.mail.test_bounces import dsn

    long_text = "\n".join(f"Line {n} of what happened." for n in range(1, 21))
    (tmp_path / "urgent.eml").write_bytes(resident_mail(body="He has a knife and is outside now.\n\n" + long_text)
                                          .as_bytes())
    (tmp_path / "bounce.eml").write_bytes(dsn("bounces+1-aaaaaaaaaaaaaaaa@surgery.example.org", "gone@example.net"))
    result = gateway("inspect", str(tmp_path / "urgent.eml"), str(tmp_path / "bounce.eml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "urgent: yes (knife" in out
    as_json = gateway("inspect", "--json", str(tmp_path / "urgent.eml"))
    import json as _json

    row = _json.loads(as_json.stdout)
    assert row["urgent"] is True and row["urgent_why"][0] == "knife" and row["language"] == "en"
    (tmp_path / "cy.eml").write_bytes(resident_mail(body="ma car di parcio tu allan i ty ni bob nos, angan help")
                                      .as_bytes())
    assert _json.loads(gateway("inspect", "--json", str(tmp_path / "cy.eml")).stdout)["language"] == "cy"
    assert "    He has a knife and is outside now." in out and "Line 10 of what happened." in out
    assert "Line 20 of what happened." not in out and "more line(s) (--json shows them all)" in out
    assert "bounce: permanent failure (bounce, user_unknown) for gone@example.net; delivery out:1" in out
