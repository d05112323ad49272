"""The new-case limit counts a resident's cases opened in the last hour: index cases by
resident and opening time, so the count stops at the limit instead of walking every case
the resident ever opened."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql('CREATE INDEX IF NOT EXISTS case_resident_opened ON "case" (resident_address, opened_at)')
