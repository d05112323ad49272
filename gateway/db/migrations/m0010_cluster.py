"""Several daemons on one database: scheduled work is taken in turn through a lease per job
(`job`), and the database itself refuses a second copy of a message read from IMAP (a unique
index on its bytes' hash, for IMAP rows: SMTP keeps every copy that got a 250)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS job (name TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                   "until TIMESTAMP NOT NULL, last_done TIMESTAMP)")
    # Copies stored by a race before this index existed stay, under another source name.
    db.execute_sql("UPDATE inbound SET source = 'imap-copy' WHERE source = 'imap' AND sha256 <> '' AND id NOT IN "
                   "(SELECT min(id) FROM inbound WHERE source = 'imap' AND sha256 <> '' GROUP BY sha256)")
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS inbound_imap_sha256 ON inbound (sha256) "
                   "WHERE source = 'imap' AND sha256 <> ''")
