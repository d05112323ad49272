"""`gateway db copy`: a force that began on SQLite moves to PostgreSQL and keeps its cases,
subscribers and bulletins; the counts are checked, a non-empty target is refused."""

from __future__ import annotations

from gateway import db
from gateway.clock import FakeClock
from gateway.render import Renderer
from gateway.runtime.worker import InboundWorker
from tests.helpers import ready_settings, db_rows, resident_mail, write_config
from tests.integration.test_cli import gateway
from tests.servers import postgres


def test_an_installation_moves_from_sqlite_to_postgresql(tmp_path):
    path = write_config(tmp_path, area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    settings = ready_settings(path)
    clock = FakeClock()
    db.connect(settings.database, audit_key=settings.audit_key)
    db.migrate(clock.now())
    worker = InboundWorker(settings, clock, Renderer(), "test")
    for n in range(3):
        db.intake.save_inbound(resident_mail(message_id=f"<c{n}@example.net>", sender=f"r{n}@example.net").as_bytes(),
                               f"r{n}@example.net", ["surgery@surgery.example.org"], "smtp", clock.now(),
                               peer="127.0.0.1")
    while worker.process_one():
        pass
    db.close()
    assert gateway("--config", str(path), "subscribers", "add", "sian@example.net", "--area", "hightown").returncode == 0
    tables = ("case", "inbound", "outbound", "subscriber", "audit", "notice")
    before = {t: db_rows(tmp_path, f'select count(*) from "{t}"')[0][0] for t in tables}
    assert before["audit"] >= 12   # opened, routed, forwarded, acknowledged for each case, and the subscriber

    target = postgres.shared().database()
    copied = gateway("db", "copy", settings.database, target)
    assert copied.returncode == 0, copied.stderr
    assert "every table's count agrees" in copied.stdout and "case\t3" in copied.stdout

    (tmp_path / "pg").mkdir()
    # The secret file goes with the installation (with PostgreSQL it sits beside the config).
    (tmp_path / "pg" / "gateway.secret").write_bytes((tmp_path / "var" / "gateway.secret").read_bytes())
    moved = write_config(tmp_path / "pg", gateway={"database": target},
                         area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    after = {t: db_rows(tmp_path / "pg", f'select count(*) from "{t}"')[0][0] for t in before}
    assert after == before
    listed = gateway("--config", str(moved), "case", "list")
    assert "SRG-2026-0003" in listed.stdout
    assert "sian@example.net" in gateway("--config", str(moved), "subscribers", "list").stdout
    # Work goes on from where it was: the next case is 0004, and new rows get fresh ids.
    eml = tmp_path / "next.eml"
    eml.write_bytes(resident_mail(message_id="<next@example.net>", sender="new@example.net").as_bytes())
    assert gateway("--config", str(moved), "inject", str(eml)).returncode == 0
    settings = ready_settings(moved)
    db.connect(settings.database, audit_key=settings.audit_key)
    worker = InboundWorker(settings, clock, Renderer(), "test")
    while worker.process_one():
        pass
    db.close()
    assert db_rows(tmp_path / "pg", 'select reference from "case" order by id desc limit 1') == [("SRG-2026-0004",)]
    # The audit trail came whole and in order, and the new case's records follow on from it.
    verified = gateway("--config", str(moved), "audit", "verify")
    assert verified.returncode == 0 and f"holds: {before['audit'] + 4} record(s)" in verified.stdout

    again = gateway("db", "copy", f"sqlite:///{tmp_path}/var/gateway.db", target)
    assert again.returncode == 2 and "is not empty" in again.stderr and "copy only into a new database" in again.stderr


def test_db_copy_names_a_bad_url_and_a_missing_source(tmp_path):
    bad = gateway("db", "copy", "gateway.db", "postgresql://gw@127.0.0.1/x")
    assert bad.returncode == 2 and "'gateway.db' is not a database URL" in bad.stderr
    missing = gateway("db", "copy", f"sqlite:///{tmp_path}/none.db", "postgresql://gw@127.0.0.1/x")
    assert missing.returncode == 2 and "there is no database at" in missing.stderr
    assert not (tmp_path / "none.db").exists()
