"""Persistence: every query, write and transaction of the gateway. Imports nothing of the
gateway (only peewee and psycopg); every layer above the mail code imports it, and nothing
outside it imports peewee or the models (tests/unit/test_layers.py holds that with
import-linter). Callers get plain values, not rows."""

# Its modules:
# connection   the database (SQLite or PostgreSQL), transactions, locks, migrations
# intake       the inbound queue and the queues a person looks after
# cases        cases, the Message-IDs threaded into them, their events and mail
# outbox       the durable outbox and its leases
# people       subscribers, subscriptions, suppressed addresses, bounce scores
# bulletins    alert bulletins and their fan-out
# cluster      the daemons sharing the database, and work run once per cluster
# audit        the append-only, hash-chained audit trail
# privacy      retention, subject access exports and erasure
# replay       the police mail already acted on (signatures, signed Message-IDs)

from gateway.db import audit, bulletins, cases, cluster, health, intake, outbox, people, privacy
from gateway.db import replay
from gateway.db.connection import (as_datetime, atomic, close, connect, database_exists, migrate,
                                   relaxed_durability_for_this_thread, schema_is_current, transient, utc,
                                   Unreachable)

__all__ = ["as_datetime", "atomic", "audit", "bulletins", "cases", "close", "cluster", "connect", "database_exists", "health", "intake",
           "migrate", "outbox", "people", "privacy", "relaxed_durability_for_this_thread", "replay", "schema_is_current", "transient",
           "Unreachable", "utc"]
