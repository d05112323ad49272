"""The acknowledgement limit counts an address's recent acknowledgements: index the outbox by
recipient (after a bulletin it holds hundreds of thousands of rows)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbound_rcpt_to_purpose ON outbound (rcpt_to, purpose, created_at)")
