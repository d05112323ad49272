"""Who sent a message, as the SMTP door saw it (the connecting address and the HELO name,
for SPF and trusted networks), how often its sender check was put off for a DNS failure,
and an index for the hourly cap on acknowledgements ([limits] acks_per_hour)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    # Databases made before migration 0001 was frozen (when it built its tables from the
    # live models) have these columns already.
    have = {c.name for c in db.get_columns("inbound")}
    for column, kind in (("peer", "TEXT"), ("helo", "TEXT"), ("deferrals", "INTEGER NOT NULL DEFAULT 0")):
        if column not in have:
            db.execute_sql(f"ALTER TABLE inbound ADD COLUMN {column} {kind}")
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbound_purpose_sent ON outbound (purpose, sent_at)")
