"""IMAP intake remembers, per account and folder, the UIDVALIDITY and the last UID taken in.
Frozen: the table as it was at version 2."""

from __future__ import annotations

import peewee as pw


class ImapState(pw.Model):
    mailbox = pw.CharField(unique=True)
    uidvalidity = pw.BigIntegerField()
    last_uid = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField()

    class Meta:
        legacy_table_names = False


def apply(db: pw.Database) -> None:
    with db.bind_ctx([ImapState]):
        db.create_tables([ImapState], safe=True)
