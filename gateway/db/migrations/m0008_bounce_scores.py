"""Soft bounces (mailbox full, delayed, greylisted) are counted per address: an address is
suppressed only after repeated soft failures over days (after Mailman's bounce score)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS bounce_score (address TEXT PRIMARY KEY, soft INTEGER NOT NULL, "
                   "first_at TIMESTAMP NOT NULL, last_at TIMESTAMP NOT NULL)")
