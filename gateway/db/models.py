"""The tables as they are now (what the migrations have built), for queries inside gateway.db.
The database itself is bound at start-up by db.connect()."""

from __future__ import annotations

import peewee as pw

db = pw.DatabaseProxy()


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row per migration applied."""

    version = pw.IntegerField(primary_key=True)
    name = pw.CharField()
    applied_at = pw.DateTimeField()


class ReferenceCounter(BaseModel):
    """The last case number handed out per year; numbers are never reused."""

    year = pw.IntegerField(primary_key=True)
    last = pw.IntegerField()


class Case(BaseModel):
    reference = pw.CharField(unique=True)
    team = pw.CharField(index=True)
    status = pw.CharField(default="open", index=True)  # open | waiting | answered | closed
    resident_address = pw.CharField(index=True)
    resident_name = pw.CharField(default="")
    subject = pw.TextField(default="")
    language = pw.CharField(default="en")
    opened_at = pw.DateTimeField()
    due_date = pw.DateField()
    updated_at = pw.DateTimeField()
    urgent = pw.BooleanField(default=False)  # migration 0004
    clock_from = pw.DateTimeField(null=True)   # migration 0011: the message the due date counts from
    answered_at = pw.DateTimeField(null=True)  # the first answer relayed to the resident


class Inbound(BaseModel):
    """A message exactly as it arrived, with its envelope, and what became of it."""

    received_at = pw.DateTimeField()
    source = pw.CharField()  # smtp | inject | imap
    mail_from = pw.TextField()  # envelope sender; "" for the null sender
    rcpt_tos = pw.TextField()  # envelope recipients, one per line
    raw = pw.BlobField()
    size = pw.IntegerField()
    sha256 = pw.CharField(index=True)
    message_id = pw.TextField(null=True, index=True)
    state = pw.CharField(default="queued", index=True)  # queued | done | parked
    lease_owner = pw.CharField(null=True)
    lease_until = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)
    kind = pw.CharField(null=True)  # resident_new, resident_follow_up, auto_reply, ...
    case = pw.ForeignKeyField(Case, null=True, backref="inbound", on_delete="SET NULL")
    stage = pw.CharField(null=True)  # the stage that parked it
    error = pw.TextField(null=True)
    processed_at = pw.DateTimeField(null=True)
    peer = pw.TextField(null=True)   # the SMTP client's IP address (migration 0007); None for IMAP
    helo = pw.TextField(null=True)   # the name it gave in HELO/EHLO
    deferrals = pw.IntegerField(default=0)   # sender checks put off for a DNS failure


class MessageRef(BaseModel):
    """Message-IDs known to belong to a case: the residents' own and every one we sent."""

    message_id = pw.TextField(unique=True)
    case = pw.ForeignKeyField(Case, backref="message_refs", on_delete="CASCADE")
    direction = pw.CharField()  # in | out


class Outbound(BaseModel):
    """The durable outbox: one row per message per recipient, until sent or failed."""

    created_at = pw.DateTimeField()
    case = pw.ForeignKeyField(Case, null=True, backref="outbound", on_delete="SET NULL")
    inbound = pw.ForeignKeyField(Inbound, null=True, backref="outbound", on_delete="SET NULL")
    purpose = pw.CharField()  # team_new_case | team_follow_up | resident_ack | ...
    mail_from = pw.TextField()
    rcpt_to = pw.TextField()
    message_id = pw.TextField()
    raw = pw.BlobField()
    priority = pw.IntegerField(default=5)  # lower goes first
    state = pw.CharField(default="queued")  # queued | sent | failed
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField()
    deadline = pw.DateTimeField()
    lease_owner = pw.CharField(null=True)
    lease_until = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    sent_at = pw.DateTimeField(null=True)
    # Bulletin rows (migration 0003) carry no raw message: it is rendered when sent, so an
    # unsubscribe between fan-out and delivery is still honoured.
    bulletin = pw.IntegerField(null=True)
    subscriber = pw.IntegerField(null=True)

    class Meta:
        indexes = ((("state", "priority", "next_attempt_at"), False),)


class CaseEvent(BaseModel):
    """What happened to a case, in order. Never holds message bodies."""

    case = pw.ForeignKeyField(Case, backref="events", on_delete="CASCADE")
    at = pw.DateTimeField()
    kind = pw.CharField()
    inbound = pw.ForeignKeyField(Inbound, null=True, on_delete="SET NULL")
    detail = pw.TextField(default="")


class ImapState(BaseModel):
    """Per IMAP account and folder: the UIDVALIDITY seen and the highest UID taken in."""

    mailbox = pw.CharField(unique=True)   # user@host:port/folder
    uidvalidity = pw.BigIntegerField()
    last_uid = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField()


class Subscriber(BaseModel):
    """A resident who asked for alert bulletins. Their subscriptions say which areas."""

    address = pw.CharField(unique=True)
    name = pw.CharField(default="")
    language = pw.CharField(default="en")
    created_at = pw.DateTimeField()


class Subscription(BaseModel):
    """One subscriber, one area: pending until confirmed by reply, ended by unsubscribing."""

    subscriber = pw.ForeignKeyField(Subscriber, backref="subscriptions", on_delete="CASCADE")
    area = pw.CharField(index=True)
    state = pw.CharField(default="pending", index=True)  # pending | active | ended
    created_at = pw.DateTimeField()
    confirmed_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    asked_at = pw.DateTimeField(null=True)   # migration 0014: the last confirmation request

    class Meta:
        indexes = ((("subscriber", "area"), True), (("area", "state", "subscriber"), False))


class Suppression(BaseModel):
    """An address nothing optional is sent to: hard bounces, complaints, unsubscribes."""

    address = pw.CharField(unique=True)
    reason = pw.CharField()  # bounce | complaint | unsubscribed | admin
    at = pw.DateTimeField()


class Bulletin(BaseModel):
    """An alert bulletin and how far its fan-out has gone (the cursor makes it resumable)."""

    areas = pw.TextField()  # area keys, comma-separated
    subject = pw.TextField()
    body = pw.TextField()
    created_by = pw.CharField()
    created_at = pw.DateTimeField()
    # draft (awaiting an officer's confirmation) | enqueuing | queued | sent (nothing left to send) | cancelled
    state = pw.CharField(default="enqueuing", index=True)
    cursor = pw.IntegerField(default=0)  # the last subscriber id given an outbox row
    recipients = pw.IntegerField(default=0)
    skipped = pw.IntegerField(default=0)  # suppressed addresses passed over
    enqueued_at = pw.DateTimeField(null=True)
    subject_cy = pw.TextField(default="")   # migration 0017: the Welsh subject; "": none

