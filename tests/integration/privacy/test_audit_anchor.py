"""Issue 23, the audit trail cut: with the triggers dropped (as the database's owner can),
records deleted from the end, or one deleted and the chain recomputed past it, made
`gateway audit verify` say all was well. Now ids must follow one another, and the trail must
reach the anchors (its head's id and hash) the daemon keeps outside the database: hourly,
on stopping, and daily by mail to [gateway] admin_address."""

from __future__ import annotations

import shutil

import pytest

from gateway import config, db
from gateway.privacy import anchor
from gateway.render import Renderer
from tests.helpers import db_rows, resident_mail, wait_for
from tests.integration.privacy.test_privacy import _without_guard
from tests.integration.test_cli import gateway
from tests.integration.test_daemon import send, start

pytestmark = pytest.mark.database


def _trail(harness) -> str:
    """A case with its records (opened, routed, forwarded, acknowledged, noted, closed); the config's path."""
    harness.submit(resident_mail())
    path = str(harness.settings.path)
    assert gateway("--config", path, "case", "note", "SRG-2026-0001", "Rang Ann back").returncode == 0
    assert gateway("--config", path, "case", "close", "SRG-2026-0001").returncode == 0
    return path


def _anchor_now(harness, owner: str = "test") -> anchor.Anchor | None:
    """What a running daemon does each hour."""
    return anchor.anchor_if_due(harness.settings, harness.clock, Renderer(), owner)


def test_records_deleted_from_the_end_show_against_the_anchor_and_against_a_copy(harness, tmp_path):
    path = _trail(harness)
    written = _anchor_now(harness)
    assert written is not None and written.id == 6
    anchors = harness.settings.anchor_file.read_text().splitlines()
    assert anchors == [f"{written.at} id=6 hash={written.hash}"]
    good = gateway("--config", path, "audit", "verify")
    assert good.returncode == 0, good.stderr
    assert "The audit trail holds: 6 record(s)" in good.stdout
    assert f"the newest record 6 of {written.at}" in good.stdout
    copy = tmp_path / "kept-elsewhere.txt"
    shutil.copy(harness.settings.anchor_file, copy)

    folder = harness.settings.path.parent
    _without_guard(folder, "DELETE FROM audit WHERE id > 4")
    cut = gateway("--config", path, "audit", "verify")
    assert cut.returncode == 3
    assert f"the last record is 4 but the anchor of {written.at} says 6" in cut.stderr

    # Whoever cut it removes the anchor file as well: the copy kept elsewhere still shows it.
    harness.settings.anchor_file.unlink()
    unanchored = gateway("--config", path, "audit", "verify")
    assert unanchored.returncode == 0 and "No anchors in " in unanchored.stdout
    against_copy = gateway("--config", path, "audit", "verify", "--anchor", str(copy))
    assert against_copy.returncode == 3
    assert f"the last record is 4 but the anchor of {written.at} says 6" in against_copy.stderr

    # The gateway writes on past the cut: record 6 comes back, with another hash.
    assert gateway("--config", path, "case", "reopen", "SRG-2026-0001").returncode == 0
    assert gateway("--config", path, "case", "note", "SRG-2026-0001", "Spoke to Ann").returncode == 0
    rewritten = gateway("--config", path, "audit", "verify", "--anchor", str(copy))
    assert rewritten.returncode == 3
    assert f"record 6's hash differs from the anchor's of {written.at}" in rewritten.stderr
    missing = gateway("--config", path, "audit", "verify", "--anchor", str(tmp_path / "nowhere.txt"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_record_removed_and_the_chain_recomputed_past_it_shows_as_a_gap(harness):
    path = _trail(harness)
    folder = harness.settings.path.parent
    _without_guard(folder, "DELETE FROM audit WHERE id = 3")
    _recompute_chain(folder)
    cut = gateway("--config", path, "audit", "verify")
    assert cut.returncode == 3
    # The chain itself holds again: only the missing id gives it away.
    assert cut.stderr.splitlines() == ["record 3 is missing",
                                       "The audit trail does NOT hold: 1 problem(s) in 5 record(s)."]
    _without_guard(folder, "DELETE FROM audit WHERE id IN (4, 5)")
    _recompute_chain(folder)
    wider = gateway("--config", path, "audit", "verify")
    assert wider.returncode == 3 and wider.stderr.splitlines()[0] == "records 3-5 are missing"


def _recompute_chain(folder) -> None:
    """What someone who knows the hash does after deleting a record: chain the rest again."""
    prev = db.audit.GENESIS
    for record in db.audit.records():
        digest = db.audit._digest(prev, record.at, record.actor, record.action, record.case_ref, record.resident,
                                  record.summary, record.detail_sha256)
        _without_guard(folder, f"UPDATE audit SET prev = '{prev}', hash = '{digest}' WHERE id = {record.id}")
        prev = digest


def test_one_daemon_anchors_each_hour_and_the_administrator_gets_one_a_day(make_harness):
    harness = make_harness(gateway={"admin_address": "it@police.example"})
    harness.submit(resident_mail())
    first = _anchor_now(harness, "host-a:1")
    assert _anchor_now(harness, "host-b:2") is None   # the same hour: the other daemon leaves it
    harness.clock.advance(3600)
    second = _anchor_now(harness, "host-b:2")
    assert second is not None and _anchor_now(harness, "host-a:1") is None
    lines = harness.settings.anchor_file.read_text().splitlines()
    assert lines == [first.line(), second.line()]
    mails = harness.outbox("admin_audit_anchor")
    assert len(mails) == 1   # the day's mail went with the first anchor
    mail = mails[0]
    assert mail["To"] == "it@police.example" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == f"Audit trail anchor: record {first.id}, {first.at}"
    assert first.line() in mail.get_content() and "gateway audit verify --anchor FILE" in mail.get_content()
    harness.clock.advance(24 * 3600)
    third = _anchor_now(harness, "host-a:1")
    assert [m["Subject"] for m in harness.outbox("admin_audit_anchor")][1] == \
        f"Audit trail anchor: record {third.id}, {third.at}"


def test_the_daemon_anchors_the_trail_when_it_stops(tmp_path, gateway_process):
    daemon, port = start(tmp_path, gateway_process, None)
    send(port, resident_mail())
    spool = tmp_path / "var" / "outbox"
    wait_for(lambda: spool.is_dir() and len(list(spool.glob("*.eml"))) >= 2, 20, what="the forward and the ack")
    assert daemon.stop() == 0
    last_id, last_hash = db_rows(tmp_path, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")[0]
    anchor_file = config.load(tmp_path / "gateway.ini").anchor_file
    line = anchor_file.read_text().splitlines()[-1]
    assert line.endswith(f" id={last_id} hash={last_hash}")
    assert f"audit anchor (stopping): {line}" in daemon.log_text()
    verified = gateway("--config", str(tmp_path / "gateway.ini"), "audit", "verify")
    assert verified.returncode == 0 and f"the newest record {last_id} of" in verified.stdout
