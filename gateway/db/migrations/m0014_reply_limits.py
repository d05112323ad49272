"""Limits on automatic replies: when a subscription's confirmation was last asked for (at
most one request per address and area a day), and an index for counting a case's held
messages since the team's last notice of them."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    if "asked_at" not in {c.name for c in db.get_columns("subscription")}:
        db.execute_sql("ALTER TABLE subscription ADD COLUMN asked_at TIMESTAMP")
    db.execute_sql("CREATE INDEX IF NOT EXISTS case_event_case_kind ON case_event (case_id, kind, id)")
