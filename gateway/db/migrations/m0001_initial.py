"""The first schema: cases, the inbound store, message references, the outbox, events."""

from __future__ import annotations

import peewee as pw

from gateway.db import models


def apply(db: pw.Database) -> None:
    db.create_tables([t for t in models.ALL_TABLES if t is not models.SchemaVersion])
