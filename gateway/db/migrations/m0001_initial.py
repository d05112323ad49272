"""The first schema: cases, the inbound store, message references, the outbox, events.

Frozen: these are the tables as they were at version 1, declared here, not taken from the
live models (which have grown since: later migrations add their columns)."""

from __future__ import annotations

import peewee as pw


class _Table(pw.Model):
    class Meta:
        legacy_table_names = False


class ReferenceCounter(_Table):
    year = pw.IntegerField(primary_key=True)
    last = pw.IntegerField()


class Case(_Table):
    reference = pw.CharField(unique=True)
    team = pw.CharField(index=True)
    status = pw.CharField(default="open", index=True)
    resident_address = pw.CharField(index=True)
    resident_name = pw.CharField(default="")
    subject = pw.TextField(default="")
    language = pw.CharField(default="en")
    opened_at = pw.DateTimeField()
    due_date = pw.DateField()
    updated_at = pw.DateTimeField()


class Inbound(_Table):
    received_at = pw.DateTimeField()
    source = pw.CharField()
    mail_from = pw.TextField()
    rcpt_tos = pw.TextField()
    raw = pw.BlobField()
    size = pw.IntegerField()
    sha256 = pw.CharField(index=True)
    message_id = pw.TextField(null=True, index=True)
    state = pw.CharField(default="queued", index=True)
    lease_owner = pw.CharField(null=True)
    lease_until = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)
    kind = pw.CharField(null=True)
    case = pw.ForeignKeyField(Case, null=True, on_delete="SET NULL")
    stage = pw.CharField(null=True)
    error = pw.TextField(null=True)
    processed_at = pw.DateTimeField(null=True)


class MessageRef(_Table):
    message_id = pw.TextField(unique=True)
    case = pw.ForeignKeyField(Case, on_delete="CASCADE")
    direction = pw.CharField()


class Outbound(_Table):
    created_at = pw.DateTimeField()
    case = pw.ForeignKeyField(Case, null=True, on_delete="SET NULL")
    inbound = pw.ForeignKeyField(Inbound, null=True, on_delete="SET NULL")
    purpose = pw.CharField()
    mail_from = pw.TextField()
    rcpt_to = pw.TextField()
    message_id = pw.TextField()
    raw = pw.BlobField()
    priority = pw.IntegerField(default=5)
    state = pw.CharField(default="queued")
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField()
    deadline = pw.DateTimeField()
    lease_owner = pw.CharField(null=True)
    lease_until = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("state", "priority", "next_attempt_at"), False),)


class CaseEvent(_Table):
    case = pw.ForeignKeyField(Case, on_delete="CASCADE")
    at = pw.DateTimeField()
    kind = pw.CharField()
    inbound = pw.ForeignKeyField(Inbound, null=True, on_delete="SET NULL")
    detail = pw.TextField(default="")


TABLES = (ReferenceCounter, Case, Inbound, MessageRef, Outbound, CaseEvent)


def apply(db: pw.Database) -> None:
    with db.bind_ctx(TABLES):
        db.create_tables(TABLES, safe=True)
