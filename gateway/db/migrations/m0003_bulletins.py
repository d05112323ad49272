"""Alert bulletins: subscribers, their areas, suppressed addresses, bulletins, and outbox rows
that point at a bulletin and a subscriber instead of holding a rendered message."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from gateway.db import models


def apply(db: pw.Database) -> None:
    db.create_tables([models.Subscriber, models.Subscription, models.Suppression, models.Bulletin])
    columns = {c.name for c in db.get_columns("outbound")}
    migrator = SchemaMigrator.from_database(db)
    steps = [migrator.add_column("outbound", name, pw.IntegerField(null=True))
             for name in ("bulletin", "subscriber") if name not in columns]
    if steps:
        migrate(*steps)
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS outbound_bulletin_subscriber "
                   "ON outbound (bulletin, subscriber)")
