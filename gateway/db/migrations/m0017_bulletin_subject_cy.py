"""A bulletin's Welsh subject (`gateway bulletin send --subject-cy`): Welsh readers get it,
readers whose language is unknown get both, Welsh first. Empty: the one subject for all."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(db: pw.Database) -> None:
    if "subject_cy" not in {c.name for c in db.get_columns("bulletin")}:
        migrate(SchemaMigrator.from_database(db).add_column("bulletin", "subject_cy", pw.TextField(default="")))
