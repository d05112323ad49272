"""IMAP intake remembers, per account and folder, the UIDVALIDITY and the last UID taken in."""

from __future__ import annotations

import peewee as pw

from gateway.db import models


def apply(db: pw.Database) -> None:
    db.create_tables([models.ImapState])
