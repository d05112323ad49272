"""Issue 17, data protection: retention purges exactly what [retention] says, on a
FakeClock; a subject access export of a resident holds only their data, even in a case
another resident wrote into; an erased resident's address is nowhere in the database
afterwards; the audit trail records who did what and shows an edited or removed row."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import zipfile
from pathlib import Path

import pytest

from gateway import db
from gateway.privacy import retention
from tests.helpers import database_of, db_rows, resident_mail
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database
ANN, BOB = "ann@example.net", "bob@example.com"


def close(reference: str, now: dt.datetime) -> None:
    case = db.cases.case_by_reference(reference)
    case.status, case.updated_at = "closed", db.utc(now)
    with db.atomic():
        db.cases.save(case)
        db.cases.add_event(case, "closed", now, "by test", actor="test")


def two_residents(harness) -> None:
    """Ann's case SRG-2026-0001, into which Bob replies (held: he is not its resident), and
    Bob's own case SRG-2026-0002."""
    harness.submit(resident_mail())
    ack = harness.outbox("resident_ack")[0]
    harness.submit(resident_mail(subject="Re: " + ack["Subject"], sender=f"Bob <{BOB}>", body="I saw them too.",
                                 message_id="<b1@example.com>", In_Reply_To=ack["Message-ID"]))
    harness.submit(resident_mail(subject="Loud music", sender=f"Bob <{BOB}>", body="Every night at two.",
                                 message_id="<b2@example.com>"))


def test_purge_deletes_exactly_what_the_retention_keys_say(harness):
    clock = harness.clock
    start = clock.now()
    harness.submit(resident_mail())                                                   # SRG-2026-0001: closed, old
    harness.submit(resident_mail(subject="Graffiti", sender="Carol <carol@example.org>",
                                 message_id="<c1@example.org>"))                      # SRG-2026-0002: stays open
    harness.submit(resident_mail(subject="Cheap pills", sender="spam@example.biz", message_id="<s1@example.biz>",
                                 X_Spam_Flag="YES"))                                   # quarantined, old
    harness.submit(resident_mail(subject="Out of office", sender="dave@example.com", message_id="<o1@example.com>",
                                 Auto_Submitted="auto-replied"))                       # an auto-reply, old
    close("SRG-2026-0001", start)
    db.people.add_many([("erin@example.com", "Erin", ("hightown",))], start)
    db.people.unsubscribe(db.people.subscriber(address="erin@example.com").id, start)
    clock.advance(dt.timedelta(days=732).total_seconds())                             # 24 months and a day on
    harness.submit(resident_mail(subject="Speeding", sender="fay@example.com", message_id="<f1@example.com>"))
    close("SRG-2028-0001", clock.now())                                              # closed today: kept
    harness.submit(resident_mail(subject="Casino", sender="spam@example.biz", message_id="<s2@example.biz>",
                                 X_Spam_Flag="YES"))                                   # quarantined today: kept
    counted = lambda: db_rows(harness.settings.path.parent, 'SELECT count(*) FROM inbound')[0][0]  # noqa: E731
    before = counted()

    would = retention.purge(harness.settings, clock.now(), "test", dry_run=True)
    assert would.cases == ["SRG-2026-0001"] and would.set_aside == 1 and would.bounces == 1
    assert would.subscriptions == 1 and would.subscribers == 1
    assert counted() == before and db.cases.case_by_reference("SRG-2026-0001") is not None

    done = retention.purge(harness.settings, clock.now(), "test")
    assert (done.cases, done.set_aside, done.bounces, done.subscriptions) == (["SRG-2026-0001"], 1, 1, 1)
    folder = harness.settings.path.parent
    assert db_rows(folder, 'SELECT reference, status FROM "case" ORDER BY id') == [
        ("SRG-2026-0002", "open"), ("SRG-2028-0001", "closed")]
    left = db_rows(folder, "SELECT kind, message_id FROM inbound ORDER BY id")
    assert left == [("resident_new", "<c1@example.org>"), ("resident_new", "<f1@example.com>"),
                    ("quarantine", "<s2@example.biz>")]
    assert not db_rows(folder, "SELECT 1 FROM outbound WHERE case_id IS NULL OR case_id NOT IN "
                               '(SELECT id FROM "case")')
    assert not db_rows(folder, "SELECT 1 FROM case_event WHERE case_id NOT IN (SELECT id FROM \"case\")")
    assert db_rows(folder, "SELECT count(*) FROM subscriber")[0][0] == 0
    # Erin asked to hear no more: only a hash of her address is kept, and a list does not bring her back.
    kept = db_rows(folder, "SELECT address, reason FROM suppression")
    assert kept == [(db.audit.pseudonym("erin@example.com"), "unsubscribed")]
    started, left_alone = db.people.add_many([("erin@example.com", "Erin", ("hightown",))], clock.now())
    assert started == 0 and left_alone == [("erin@example.com", "hightown")]
    assert not db.people.suppressed_among(["erin@example.com"])   # an unsubscribe never stops case mail
    purged = [r for r in db.audit.records() if r.action == "purged"]
    assert [r.case_ref for r in purged] == ["SRG-2026-0001", None]
    assert "1 closed case(s)" in purged[-1].summary and db.audit.verify().problems == []


def test_the_daily_purge_runs_once_a_day_in_one_daemon_of_several(harness):
    clock = harness.clock
    harness.submit(resident_mail())
    close("SRG-2026-0001", clock.now())
    clock.advance(dt.timedelta(days=800).total_seconds())
    first = retention.purge_if_due(harness.settings, clock.now(), "host-a:1")
    assert first is not None and first.cases == ["SRG-2026-0001"]
    assert retention.purge_if_due(harness.settings, clock.now(), "host-b:2") is None   # done today, by host-a
    clock.advance(3600)
    assert retention.purge_if_due(harness.settings, clock.now(), "host-a:1") is None   # not a day yet
    assert retention.purge_if_due(harness.settings, clock.now(), "host-b:2") is None
    clock.advance(dt.timedelta(days=1).total_seconds())
    assert retention.purge_if_due(harness.settings, clock.now(), "host-b:2") is not None   # a day on: whoever asks
    assert retention.purge_if_due(harness.settings, clock.now(), "host-a:1") is None
    assert [r.actor for r in db.audit.records() if r.action == "purged"][0] == "gateway (retention)"


def test_subscriber_edits_from_the_command_line_are_in_the_audit_trail(harness):
    path = str(harness.settings.path)
    harness_areas = write_areas(harness.settings.path)
    assert gateway("--config", harness_areas, "subscribers", "add", "Erin@example.com", "--area", "hightown"
                   ).returncode == 0
    assert gateway("--config", harness_areas, "subscribers", "remove", "erin@example.com").returncode == 0
    records = list(db.audit.records(resident="erin@example.com"))
    assert [r.action for r in records] == ["subscribed", "unsubscribed"]
    assert all(r.actor == f"{getpass.getuser()} (gateway subscribers)" for r in records)
    assert "erin" not in gateway("--config", path, "audit").stdout


def write_areas(path: Path) -> str:
    with_areas = path.with_name("areas.ini")
    with_areas.write_text(path.read_text() + "\n[area:hightown]\nname = Hightown\nteam = hightown\n"
                          "postcodes = LL13 7\n")
    return str(with_areas)


def test_purge_command_dry_run_says_what_would_go_and_deletes_nothing(harness):
    harness.submit(resident_mail())
    path = str(harness.settings.path)
    shown = gateway("--config", path, "purge", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "Would delete:" in shown.stdout and "0 closed case(s) (closed over 24 months ago)" in shown.stdout
    assert "Nothing was deleted (--dry-run)." in shown.stdout
    assert db_rows(harness.settings.path.parent, "SELECT count(*) FROM inbound")[0][0] == 1
    wrong = gateway("--config", str(write_bad_retention(harness.settings.path)), "purge")
    assert wrong.returncode == 2 and "[retention] closed_case_months: must be from 0 to 1200, not -1" in wrong.stderr


def write_bad_retention(path: Path) -> Path:
    bad = path.with_name("bad.ini")
    bad.write_text(path.read_text() + "\n[retention]\nclosed_case_months = -1\n")
    return bad


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_export_of_a_resident_in_a_two_resident_case_holds_only_their_data(harness, tmp_path):
    two_residents(harness)
    path = str(harness.settings.path)
    out = tmp_path / "ann-export"
    result = gateway("--config", path, "export", "--resident", "Ann@Example.net", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "1 case(s), 2 message(s)" in result.stdout
    data = json.loads((out / "data.json").read_text())
    assert [c["reference"] for c in data["cases"]] == ["SRG-2026-0001"]
    case = data["cases"][0]
    assert case["opened_by_you"] and case["subject"] == "Bikes on the pavement"
    assert [m["from"] for m in case["messages_from_you"]] == [ANN]
    assert [m["purpose"] for m in case["mail_to_you"]] == ["resident_ack"]
    original = (out / case["messages_from_you"][0]["eml"]).read_bytes()
    assert original == bytes(db_rows(harness.settings.path.parent, "SELECT raw FROM inbound ORDER BY id")[0][0])
    assert {r["action"] for r in data["audit"]} >= {"opened", "routed", "forwarded", "acknowledged", "held"}
    page = (out / "index.html").read_text()
    assert "SRG-2026-0001" in page and "They ride on the pavement." in page
    everything = _all_bytes(out).lower()
    assert BOB.encode() not in everything and b"i saw them too" not in everything and b"loud music" not in everything

    bob = tmp_path / "bob.zip"
    assert gateway("--config", path, "export", "--resident", BOB, "--out", str(bob)).returncode == 0
    with zipfile.ZipFile(bob) as archive:
        data = json.loads(archive.read("data.json"))
        everything = b"".join(archive.read(name) for name in archive.namelist()).lower()
    shared, own = data["cases"]
    assert shared["reference"] == "SRG-2026-0001" and not shared["opened_by_you"] and shared["subject"] is None
    assert [m["text"].strip() for m in shared["messages_from_you"]] == ["I saw them too."]
    assert shared["mail_to_you"] == [] and own["subject"] == "Loud music"
    assert ANN.encode() not in everything and b"they ride on the pavement" not in everything
    exported = [r for r in db.audit.records(resident=BOB) if r.action == "exported"]
    assert len(exported) == 1 and exported[0].actor == f"{getpass.getuser()} (gateway export)"
    again = gateway("--config", path, "export", "--resident", BOB, "--out", str(bob))
    assert again.returncode == 2 and "exists" in again.stderr
    bad = gateway("--config", path, "export", "--resident", "not an address", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "is not an email address" in bad.stderr
    nobody = gateway("--config", path, "export", "--resident", "nobody@example.net", "--out", str(tmp_path / "x.zip"))
    assert nobody.returncode == 1, nobody.stdout + nobody.stderr   # as erase: what you named does not exist
    assert nobody.stderr == "Nothing is held about nobody@example.net: no export written.\n"
    assert not (tmp_path / "x.zip").exists()


def _address_anywhere(folder: Path, address: str) -> list[str]:
    """Where the address is still held: the SQLite files' bytes, or PostgreSQL's rows."""
    url = database_of(folder)
    if url.startswith("sqlite:///"):
        base = Path(url[len("sqlite:///"):])
        return [str(p) for p in base.parent.glob(base.name + "*") if address.encode() in p.read_bytes().lower()]
    tables = [t for (t,) in db_rows(folder, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    found = [t for t in tables if db_rows(folder, f'SELECT 1 FROM "{t}" t WHERE lower(t::text) LIKE ?',
                                          (f"%{address}%",))]
    for table in ("inbound", "outbound"):
        if db_rows(folder, f"SELECT 1 FROM {table} WHERE position(? in lower(encode(raw, 'escape'))) > 0", (address,)):
            found.append(f"{table}.raw")
    return found


def test_an_erased_resident_is_nowhere_in_the_database_and_the_erasure_is_recorded(harness):
    two_residents(harness)
    db.people.add_many([(ANN, "Ann", ("hightown",))], harness.clock.now())
    db.people.suppress(ANN, "complaint", harness.clock.now())
    folder, path = harness.settings.path.parent, str(harness.settings.path)
    db.close()
    assert _address_anywhere(folder, ANN)
    refused = gateway("--config", path, "erase", "--resident", ANN, input_text="n\n")
    assert refused.returncode == 1 and "Nothing erased." in refused.stdout
    erased = gateway("--config", path, "erase", "--resident", ANN, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "Erased ann@example.net: 1 case(s)" in erased.stdout
    assert _address_anywhere(folder, ANN) == []
    assert b"they ride on the pavement" not in b"".join(
        bytes(raw).lower() for (raw,) in db_rows(folder, "SELECT raw FROM inbound"))
    # Every message on Ann's case goes with it, whoever wrote it: Bob's reply into it too (issue 23).
    assert db_rows(folder, "SELECT case_id FROM inbound WHERE message_id = '<b1@example.com>'") == []
    assert db_rows(folder, 'SELECT reference FROM "case"') == [("SRG-2026-0002",)]
    # Ann complained: she is still never written to, by the hash of her address alone.
    assert db.people.suppressed_among([ANN]) == {ANN}
    records = list(db.audit.records(resident=ANN))
    assert records[-1].action == "erased" and records[-1].actor == f"{getpass.getuser()} (gateway erase)"
    assert db.audit.verify().problems == []
    nothing = gateway("--config", path, "erase", "--resident", ANN, "--yes")
    assert nothing.returncode == 1 and "Nothing is held about ann@example.net" in nothing.stdout


def test_the_audit_trail_names_who_did_what_and_shows_an_edited_or_removed_record(harness):
    harness.submit(resident_mail())
    folder, path = harness.settings.path.parent, str(harness.settings.path)
    assert gateway("--config", path, "case", "note", "SRG-2026-0001", "Rang Ann: 01234 567890").returncode == 0
    assert gateway("--config", path, "case", "close", "SRG-2026-0001").returncode == 0
    shown = gateway("--config", path, "audit", "--case", "srg-2026-0001")
    assert shown.returncode == 0, shown.stderr
    actions = [line.split()[2] for line in shown.stdout.splitlines()]
    assert actions == ["opened", "routed", "forwarded", "acknowledged", "noted", "closed"]
    assert f"by {getpass.getuser()} (gateway case)" in shown.stdout
    assert ANN not in shown.stdout and "01234" not in shown.stdout   # no resident's address, no note's words
    as_json = [json.loads(line) for line in gateway("--config", path, "audit", "--json").stdout.splitlines()]
    assert [r["action"] for r in as_json][:2] == ["opened", "routed"] and all(len(r["hash"]) == 64 for r in as_json)
    assert gateway("--config", path, "audit", "--since", "2999-01-01").stdout.strip() == "No audit records match."
    good = gateway("--config", path, "audit", "verify")
    assert good.returncode == 0 and "The audit trail holds: 6 record(s)" in good.stdout

    with pytest.raises(Exception, match="append-only"):
        db_rows(folder, "UPDATE audit SET actor = 'nobody' WHERE id = 5")
    _without_guard(folder, "UPDATE audit SET actor = 'nobody' WHERE id = 5")
    edited = gateway("--config", path, "audit", "verify")
    assert edited.returncode == 3 and "record 5: its contents do not match its hash (it was edited)" in edited.stderr
    _without_guard(folder, f"UPDATE audit SET actor = '{getpass.getuser()} (gateway case)' WHERE id = 5")
    assert gateway("--config", path, "audit", "verify").returncode == 0
    _without_guard(folder, "DELETE FROM audit WHERE id = 3")
    removed = gateway("--config", path, "audit", "verify")
    assert removed.returncode == 3 and "record 4: does not follow the record before it" in removed.stderr


def _without_guard(folder: Path, sql: str) -> None:
    """What someone with the database's own client and the owner's rights could do."""
    if database_of(folder).startswith("sqlite:///"):
        db_rows(folder, "DROP TRIGGER IF EXISTS audit_no_update")
        db_rows(folder, "DROP TRIGGER IF EXISTS audit_no_delete")
        db_rows(folder, sql)
    else:
        db_rows(folder, "ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        db_rows(folder, sql)
        db_rows(folder, "ALTER TABLE audit ENABLE TRIGGER audit_append_only")
