"""The audit trail: one row per action on a case or a resident's data, each carrying the
hash of the row before it, so that an edited, removed or inserted row breaks the chain.
Rows are never updated or deleted: triggers refuse it on both backends."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    postgres = isinstance(db, pw.PostgresqlDatabase)
    key = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS audit (id {key}, at TIMESTAMP NOT NULL, actor TEXT NOT NULL, "
                   "action TEXT NOT NULL, case_ref TEXT, resident TEXT, summary TEXT NOT NULL DEFAULT '', "
                   "detail_sha256 TEXT NOT NULL DEFAULT '', prev TEXT NOT NULL, hash TEXT NOT NULL)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_case_ref ON audit (case_ref)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_resident ON audit (resident)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_at ON audit (at)")
    if postgres:
        db.execute_sql("CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$")
        db.execute_sql("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        db.execute_sql("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
                       "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            db.execute_sql(f"CREATE TRIGGER IF NOT EXISTS audit_no_{event.lower()} BEFORE {event} ON audit "
                           "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
