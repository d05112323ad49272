"""Alert bulletins: subscribers, their areas, suppressed addresses, bulletins, and outbox rows
that point at a bulletin and a subscriber instead of holding a rendered message. Frozen: the
tables as they were at version 3."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate



class _Table(pw.Model):
    class Meta:
        legacy_table_names = False


class Subscriber(_Table):
    address = pw.CharField(unique=True)
    name = pw.CharField(default="")
    language = pw.CharField(default="en")
    created_at = pw.DateTimeField()


class Subscription(_Table):
    subscriber = pw.ForeignKeyField(Subscriber, on_delete="CASCADE")
    area = pw.CharField(index=True)
    state = pw.CharField(default="pending", index=True)
    created_at = pw.DateTimeField()
    confirmed_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("subscriber", "area"), True), (("area", "state", "subscriber"), False))


class Suppression(_Table):
    address = pw.CharField(unique=True)
    reason = pw.CharField()
    at = pw.DateTimeField()


class Bulletin(_Table):
    areas = pw.TextField()
    subject = pw.TextField()
    body = pw.TextField()
    created_by = pw.CharField()
    created_at = pw.DateTimeField()
    state = pw.CharField(default="enqueuing", index=True)
    cursor = pw.IntegerField(default=0)
    recipients = pw.IntegerField(default=0)
    skipped = pw.IntegerField(default=0)
    enqueued_at = pw.DateTimeField(null=True)


TABLES = (Subscriber, Subscription, Suppression, Bulletin)


def apply(db: pw.Database) -> None:
    with db.bind_ctx(TABLES):
        db.create_tables(TABLES, safe=True)
    columns = {c.name for c in db.get_columns("outbound")}
    migrator = SchemaMigrator.from_database(db)
    steps = [migrator.add_column("outbound", name, pw.IntegerField(null=True))
             for name in ("bulletin", "subscriber") if name not in columns]
    if steps:
        migrate(*steps)
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS outbound_bulletin_subscriber "
                   "ON outbound (bulletin, subscriber)")
