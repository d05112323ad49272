"""Keyed hashes for the audit trail: each row says how it is hashed (`scheme`): rows written
before this migration keep 'sha256' (plain SHA-256, checked so by `gateway audit verify`),
new rows are 'hmac-sha256', under the audit key from the secret file. `audit_key` holds a
fingerprint of that key (not the key), so a daemon started with another secret file is
refused instead of writing a trail nobody can verify, and the id of the last row written
before keyed hashes began (`legacy_until`): an unkeyed row after it is a forgery."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("ALTER TABLE audit ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256'")
    db.execute_sql("CREATE TABLE IF NOT EXISTS audit_key (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, "
                   "legacy_until BIGINT NOT NULL DEFAULT 0, at TIMESTAMP NOT NULL)")
