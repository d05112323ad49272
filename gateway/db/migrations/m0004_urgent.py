"""Cases whose messages use emergency wording are marked urgent."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(db: pw.Database) -> None:
    if "urgent" not in {c.name for c in db.get_columns("case")}:
        migrate(SchemaMigrator.from_database(db).add_column("case", "urgent", pw.BooleanField(default=False)))
