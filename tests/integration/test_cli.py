"""The `gateway` command as an administrator uses it: output and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import database_made, resident_mail, signed, write_config
import pytest

pytestmark = pytest.mark.database


def gateway(*args: str, env: dict | None = None, cwd: Path | None = None,
            input_text: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=60, input=input_text)


def test_check_config_says_ok_and_exits_0(tmp_path):
    result = gateway("--config", str(write_config(tmp_path)), "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK. Domain surgery.example.org; teams: hightown (default), rhosddu" in result.stdout


def test_check_config_and_run_name_section_and_key_and_exit_2(tmp_path):
    path = write_config(tmp_path, smtp={"listen": "nowhere"}, team__hightown={"mailbox": "not-an-address"})
    checked = gateway("--config", str(path), "check-config")
    assert checked.returncode == 2
    assert "[smtp] listen: 'nowhere' must be HOST:PORT" in checked.stdout
    assert "[team:hightown] mailbox: 'not-an-address' is not an email address" in checked.stdout
    ran = gateway("--config", str(path), "run")
    assert ran.returncode == 2
    assert "[smtp] listen:" in ran.stderr and "[team:hightown] mailbox:" in ran.stderr


def test_check_config_suggests_a_near_key_and_says_in_one_line_what_a_file_without_sections_lacks(tmp_path):
    path = write_config(tmp_path, limits={"acks_per_hours": "100"})
    checked = gateway("--config", str(path), "check-config")
    assert checked.returncode == 2
    assert "[limits] acks_per_hours: unknown key (did you mean acks_per_hour?)\n" in checked.stdout
    bare = tmp_path / "bare.ini"
    bare.write_text("; my gateway\ndomain = surgery.example.org\n")
    checked = gateway("--config", str(bare), "check-config")
    assert checked.returncode == 2
    assert checked.stdout == (f"{bare} line 2: 'domain = surgery.example.org' comes before any [section] header: "
                              f"every key belongs under one, e.g. [gateway]\n{bare}: 1 problem(s)\n")


def test_gateway_config_environment_variable_names_the_file(tmp_path):
    result = gateway("check-config", env={"GATEWAY_CONFIG": str(write_config(tmp_path))})
    assert result.returncode == 0 and "OK." in result.stdout
    missing = gateway("check-config", env={"GATEWAY_CONFIG": ""})
    assert missing.returncode == 2 and "give --config PATH or set GATEWAY_CONFIG" in missing.stderr


def test_init_creates_then_reports_up_to_date(tmp_path):
    path = str(write_config(tmp_path))
    first = gateway("--config", path, "init")
    assert first.returncode == 0 and "applied 0001_initial" in first.stdout
    assert database_made(tmp_path)
    second = gateway("--config", path, "init")
    assert second.returncode == 0 and "up to date" in second.stdout


def test_inject_status_and_parked_commands(tmp_path):
    path = str(write_config(tmp_path))
    eml = tmp_path / "m.eml"
    eml.write_bytes(resident_mail().as_bytes())
    refused = gateway("--config", path, "inject", str(eml))   # no database yet: it is not made behind your back
    assert refused.returncode == 2 and "there is no database" in refused.stderr and "gateway init" in refused.stderr
    assert not database_made(tmp_path)
    assert gateway("--config", path, "init").returncode == 0
    injected = gateway("--config", path, "inject", str(eml))
    assert injected.returncode == 0 and "stored as inbound 1" in injected.stdout
    status = gateway("--config", path, "status")
    assert "inbound queued     1" in status.stdout
    listed = gateway("--config", path, "parked", "list")
    assert listed.returncode == 0 and "0 parked" in listed.stderr
    no_ids = gateway("--config", path, "parked", "retry")
    assert no_ids.returncode == 2 and "give the ids of parked messages" in no_ids.stderr
    not_parked = gateway("--config", path, "parked", "retry", "1")
    assert not_parked.returncode == 1 and "not parked" in not_parked.stderr
    bad = gateway("--config", path, "parked", "retry", "one")
    assert bad.returncode == 2 and "'one' is not an id" in bad.stderr


def test_run_says_when_its_port_is_taken_and_exits_2(tmp_path):   # a config problem ([smtp] listen)
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = gateway("--config", str(write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"})), "run")
    assert result.returncode == 2
    assert f"[smtp] listen: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_case_list_and_show_tell_the_whole_conversation(tmp_path):
    from tests.unit.pipeline.test_officer import OUTLOOK_REPLY

    from tests.conftest import Harness  # the pipeline in-process, on the database the CLI reads

    path = str(write_config(tmp_path))
    harness = Harness(tmp_path)
    harness.submit(resident_mail(body="Bikes every evening near the school."))
    forward = harness.outbox("team_new_case")[0]
    reply = resident_mail(body=OUTLOOK_REPLY.replace("#CMD\n", ""), sender="pc.jones@police.example",
                          to=forward["Reply-To"], message_id="<o@police.example>")
    harness.submit(signed(reply), rcpt_tos=[forward["Reply-To"]])

    listed = gateway("--config", path, "case", "list", "--json")
    assert listed.returncode == 0
    assert '"reference": "SRG-2026-0001", "status": "answered", "team": "hightown"' in listed.stdout
    bad_team = gateway("--config", path, "case", "list", "--team", "nowhere")
    assert bad_team.returncode == 2 and "no team 'nowhere'" in bad_team.stderr
    shown = gateway("--config", path, "case", "show", "srg-2026-0001")
    assert shown.returncode == 0
    out = shown.stdout
    assert out.index("ann@example.net  [resident_new]") < out.index("pc.jones@police.example  [officer_reply]") \
        < out.index("gateway -> ann@example.net  [resident_answer (queued)]")
    assert "Bikes every evening near the school." in out
    missing = gateway("--config", path, "case", "show", "SRG-2026-9999")
    assert missing.returncode == 1 and "no case SRG-2026-9999" in missing.stderr


def test_queue_commands_list_show_retry_release_and_purge(harness, tmp_path):
    import json

    from gateway import db
    from gateway.db.models import Outbound

    path = str(tmp_path / "gateway.ini")
    spam = harness.submit(resident_mail(message_id="<spam1@x>", X_Spam_Flag="YES"))
    spam2 = harness.submit(resident_mail(message_id="<spam2@x>", X_Spam_Flag="YES"))
    harness.submit(resident_mail(message_id="<ok@x>"))
    ack = Outbound.get(Outbound.purpose == "resident_ack")
    db.outbox.mark_failed(ack.id, "relay answered 550 5.1.1 no such user")
    broken = db.intake.save_inbound(b"x", "a@b.c", ["surgery@surgery.example.org"], "inject", harness.clock.now())
    db.intake.park_inbound(broken, "notify", "Traceback...\nKeyError: 'x'", harness.clock.now())

    listed = gateway("--config", path, "queue", "list", "--json")
    assert listed.returncode == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {(r["id"], r["queue"]) for r in rows} == {(f"in:{spam}", "quarantine"), (f"in:{spam2}", "quarantine"),
                                                   (f"in:{broken}", "parked"), (f"out:{ack.id}", "failed")}
    assert "4 item(s)" in listed.stderr
    shown = gateway("--config", path, "queue", "show", f"out:{ack.id}")
    assert "550 5.1.1 no such user" in shown.stdout and "ann@example.net" in shown.stdout
    missing = gateway("--config", path, "queue", "show", "in:999")
    assert missing.returncode == 1 and "no item 'in:999'" in missing.stderr

    retried = gateway("--config", path, "queue", "retry", f"out:{ack.id}", f"in:{broken}")
    assert retried.returncode == 0 and "back in the outbox" in retried.stdout and "back in the inbound queue" in retried.stdout
    released = gateway("--config", path, "queue", "release", f"in:{spam}")
    assert released.returncode == 0 and "released" in released.stdout
    refused = gateway("--config", path, "queue", "purge", f"out:{ack.id}", "--yes")
    assert refused.returncode == 1 and "not a quarantined message" in refused.stderr
    purged = gateway("--config", path, "queue", "purge", f"in:{spam2}", "--yes")
    assert purged.returncode == 0 and "deleted" in purged.stdout
    left = gateway("--config", path, "queue", "list")
    assert "0 item(s)" in left.stderr


def test_ids_are_taken_as_the_cli_prints_them_and_not_found_is_exit_1(tmp_path):
    path = str(write_config(tmp_path))
    assert gateway("--config", path, "init").returncode == 0
    huge = gateway("--config", path, "parked", "retry", "999999999999999999999")
    assert huge.returncode == 2 and "is not an id" in huge.stderr and "Traceback" not in huge.stderr
    prefixed = gateway("--config", path, "parked", "retry", "in:5")
    assert prefixed.returncode == 1 and "not parked" in prefixed.stderr
    for args in (("case", "show", "SRG-2026-9999"), ("bulletin", "status", "42"), ("queue", "show", "in:7")):
        result = gateway("--config", path, *args)
        assert result.returncode == 1 and result.stderr.startswith("Error: no "), (args, result.stderr)


def test_read_only_commands_make_no_database_and_a_config_that_is_not_utf8_is_exit_2(tmp_path):
    path = write_config(tmp_path)
    for args in (("status",), ("case", "list"), ("subscribers", "list"), ("queue", "list")):
        result = gateway("--config", str(path), *args)
        assert result.returncode == 2 and "there is no database" in result.stderr, args
    assert not database_made(tmp_path)
    path.write_bytes(path.read_bytes() + "; caf\xe9\n".encode("latin-1"))
    for command in ("check-config", "status"):
        result = gateway("--config", str(path), command)
        assert result.returncode == 2 and "is not UTF-8" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_a_purged_messages_id_is_never_handed_out_again(harness, tmp_path):
    from gateway import db
    from gateway.db.models import Inbound

    path = str(tmp_path / "gateway.ini")
    spam = harness.submit(resident_mail(message_id="<spam-last@x>", X_Spam_Flag="YES"))   # the highest id
    purged = gateway("--config", path, "queue", "purge", f"in:{spam}", "--yes")
    assert purged.returncode == 0
    row = Inbound.get_by_id(spam)
    assert (row.state, bytes(row.raw), row.mail_from, row.message_id) == ("purged", b"", "", None)
    after = db.intake.save_inbound(b"Subject: next\r\n\r\nx", "a@example.net", ["surgery@surgery.example.org"], "inject",
                               harness.clock.now())
    assert after > spam


def test_quarantined_mail_shows_why(harness, tmp_path):
    path = str(tmp_path / "gateway.ini")
    spam = harness.submit(resident_mail(message_id="<spam-why@x>", X_Spam_Flag="YES"))
    listed = gateway("--config", path, "queue", "list", "quarantine")
    assert "upstream spam verdict: X-Spam-Flag: YES" in listed.stdout, listed.stdout
    shown = gateway("--config", path, "queue", "show", f"in:{spam}")
    assert "why          upstream spam verdict: X-Spam-Flag: YES" in shown.stdout, shown.stdout
    assert "state        quarantined\n" in shown.stdout and "state        done" not in shown.stdout
    assert shown.stdout.count("upstream spam verdict: X-Spam-Flag: YES") == 1, shown.stdout   # the reason once
