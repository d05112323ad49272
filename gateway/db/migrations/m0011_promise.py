"""The five-working-day promise: when a case's clock started (its first message, or the
resident's message that restarted it) and when it was first answered; and the notices the
daemon sent about cases (reminders, breaches, digests), each at most once, by key."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    have = {c.name for c in db.get_columns("case")}
    for column in ("clock_from", "answered_at"):
        if column not in have:
            db.execute_sql(f'ALTER TABLE "case" ADD COLUMN {column} TIMESTAMP')
    db.execute_sql('UPDATE "case" SET clock_from = opened_at WHERE clock_from IS NULL')
    db.execute_sql("CREATE TABLE IF NOT EXISTS notice (key TEXT PRIMARY KEY, case_id INTEGER, at TIMESTAMP NOT NULL)")
    db.execute_sql('CREATE INDEX IF NOT EXISTS case_status_due ON "case" (status, due_date)')
