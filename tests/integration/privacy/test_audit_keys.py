"""The audit trail's hashes and residents' pseudonyms are keyed with the audit key from the
secret file (issue 23): whoever can write the database can no longer recompute the chain
after an edit, nor confirm a guessed address from a pseudonym. Records written before the
change (plain SHA-256) still verify, as the start of the chain only."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from gateway import db
from tests.conftest import Harness
from tests.helpers import db_rows, resident_mail
from tests.integration.privacy.test_privacy import _without_guard
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database
COLUMNS = "id, at, actor, action, case_ref, resident, summary, detail_sha256, prev, hash"


def _fields(row, prev: str) -> bytes:
    at = row[1] if isinstance(row[1], str) else row[1].isoformat(sep=" ")
    at = at.replace(" ", "T") + ("" if "." in at else ".000000")
    return json.dumps([prev, at, row[2], row[3], row[4] or "", row[5] or "", row[6], row[7]],
                      ensure_ascii=False).encode()


def rechain(folder, first: int, digest, scheme: str | None = None) -> None:
    """Recompute every record's prev and hash from `first` on, as someone with the database's
    own client would after editing record `first`."""
    rows = db_rows(folder, f"SELECT {COLUMNS} FROM audit ORDER BY id")
    prev = rows[first - 2][9] if first > 1 else "0" * 64
    for row in rows[first - 1:]:
        new = digest(_fields(row, prev))
        extra = f", scheme = '{scheme}'" if scheme else ""
        _without_guard(folder, f"UPDATE audit SET prev = '{prev}', hash = '{new}'{extra} WHERE id = {row[0]}")
        prev = new


def plain(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(harness: Harness):
    return gateway("--config", str(harness.settings.path), "audit", "verify")


def test_an_edit_rechained_with_plain_sha256_or_a_wrong_key_fails_verify(harness):
    harness.submit(resident_mail())
    folder = harness.settings.path.parent
    assert verify(harness).returncode == 0
    _without_guard(folder, "UPDATE audit SET actor = 'nobody' WHERE id = 2")
    rechain(folder, 2, plain)   # the chain of hashes made whole again, the old (unkeyed) way
    edited = verify(harness)
    assert edited.returncode == 3 and "record 2: its contents do not match its hash" in edited.stderr
    rechain(folder, 2, lambda data: hmac.new(bytes(32), data, hashlib.sha256).hexdigest())
    assert "record 2: its contents do not match its hash" in verify(harness).stderr
    rechain(folder, 1, plain, scheme="sha256")   # every record passed off as written before the change
    downgraded = verify(harness)
    assert downgraded.returncode == 3
    assert "record 1: hashed without the audit key, but written after keyed hashes began" in downgraded.stderr


def test_a_residents_pseudonym_is_keyed_and_cannot_be_confirmed_by_hashing_a_guess(harness):
    harness.submit(resident_mail())
    names = {row[0] for row in db_rows(harness.settings.path.parent,
                                       "SELECT resident FROM audit WHERE resident IS NOT NULL")}
    unkeyed = "sha256:" + hashlib.sha256(b"surgery-gateway:ann@example.net").hexdigest()
    assert names == {db.audit.pseudonym("ann@example.net")} and unkeyed not in names
    assert all(name.startswith("hmac:") for name in names)
    found = gateway("--config", str(harness.settings.path), "audit", "--resident", "ann@example.net")
    assert "opened" in found.stdout and "ann@example.net" not in found.stdout


def test_records_written_before_keyed_hashes_still_verify_and_are_found(tmp_path):
    harness = Harness(tmp_path)
    folder = harness.settings.path.parent
    db_rows(folder, "DELETE FROM audit_key")   # as a database from before migration 15 looks
    legacy_name = "sha256:" + hashlib.sha256(b"surgery-gateway:ann@example.net").hexdigest()
    prev = "0" * 64
    for n, action in enumerate(("consented", "unsubscribed"), 1):
        row = (n, f"2026-01-0{n} 10:00:00.000000", "resident (by mail)", action, None, legacy_name, "", "")
        digest = plain(_fields(row, prev))
        db_rows(folder, f"INSERT INTO audit ({COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[1:], prev, digest))
        prev = digest
    db.audit.claim_key(harness.clock.now())   # the first init or run after the upgrade
    harness.submit(resident_mail())
    good = verify(harness)
    assert good.returncode == 0, good.stderr
    assert "2 record(s) from before keyed hashes (migration 15) were checked with plain SHA-256" in good.stdout
    trail = gateway("--config", str(harness.settings.path), "audit", "--resident", "ann@example.net").stdout
    assert "consented" in trail and "unsubscribed" in trail and "opened" in trail
