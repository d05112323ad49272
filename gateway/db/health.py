"""What /healthz and /metrics read from the database: one cheap query per figure. The
figures are the cluster's (every daemon on one database reports the same)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.db import cases
from gateway.db.connection import as_datetime, first_line, utc
from gateway.db.models import db

# Each queue: how to find its items, and the moment each one started waiting.
QUEUES = {
    "inbound": ("inbound", "state = 'queued'", "received_at"),
    "outbound": ("outbound", "state = 'queued' AND bulletin IS NULL", "created_at"),
    "bulletin_copies": ("outbound", "state = 'queued' AND bulletin IS NOT NULL", "created_at"),
    "parked": ("inbound", "state = 'parked'", "received_at"),
    "quarantine": ("inbound", "state = 'done' AND kind = 'quarantine'", "received_at"),
}


@dataclass
class Figures:
    queues: dict[str, tuple[int, float]] = field(default_factory=dict)   # depth, age of the oldest (s)
    messages_in: dict[str, int] = field(default_factory=dict)            # by what the pipeline made of them
    messages_out: dict[tuple[str, str], int] = field(default_factory=dict)   # (purpose, state)
    bounces: dict[str, int] = field(default_factory=dict)               # by reason
    cases: dict[str, int] = field(default_factory=dict)                 # by status
    due_soon: int = 0
    overdue: int = 0
    acks_waiting: int = 0
    urgent_open: int = 0                   # open cases flagged urgent
    urgent_unseen_seconds: float = 0.0     # how long the oldest urgent case nobody has seen has waited


def ping() -> str | None:
    """None when the database answers; else what is wrong, in one line."""
    try:
        db.execute_sql("SELECT 1").fetchall()
    except Exception as exc:
        return first_line(exc)
    return None


def figures(now: dt.datetime, today: dt.date, soon: dt.date) -> Figures:
    """Everything /metrics shows from the database. `soon`: the last day that counts as due soon."""
    now, out = utc(now), Figures()
    for name, (table, where, since) in QUEUES.items():
        count, oldest = db.execute_sql(f"SELECT count(*), min({since}) FROM {table} WHERE {where}").fetchone()
        out.queues[name] = (count, max(0.0, (now - as_datetime(oldest)).total_seconds()) if oldest else 0.0)
    out.messages_in = dict(db.execute_sql("SELECT coalesce(kind, 'unknown'), count(*) FROM inbound "
                                          "WHERE state <> 'queued' GROUP BY 1").fetchall())
    out.messages_out = {(purpose, state): n for purpose, state, n in db.execute_sql(
        "SELECT purpose, state, count(*) FROM outbound WHERE state <> 'queued' GROUP BY 1, 2").fetchall()}
    for (why, n) in db.execute_sql("SELECT error, count(*) FROM inbound WHERE kind = 'bounce' GROUP BY 1").fetchall():
        reason = (why or "unknown").split(":", 1)[0].strip() or "unknown"
        out.bounces[reason] = out.bounces.get(reason, 0) + n
    out.cases = dict(db.execute_sql('SELECT status, count(*) FROM "case" GROUP BY 1').fetchall())
    p = db.param
    out.overdue = db.execute_sql(f"SELECT count(*) FROM \"case\" WHERE status = 'open' AND due_date < {p}",
                                 (today,)).fetchone()[0]
    out.due_soon = db.execute_sql(f"SELECT count(*) FROM \"case\" WHERE status = 'open' AND due_date >= {p} "
                                  f"AND due_date <= {p}", (today, soon)).fetchone()[0]
    out.acks_waiting = db.execute_sql("SELECT count(*) FROM outbound WHERE purpose = 'resident_ack' AND "
                                      "state = 'queued' AND substr(last_error, 1, 8) = 'waiting:'").fetchone()[0]
    out.urgent_open = db.execute_sql(f"SELECT count(*) FROM \"case\" WHERE status = 'open' AND urgent = {p}",
                                     (True,)).fetchone()[0]
    unseen = cases.urgent_unseen()
    out.urgent_unseen_seconds = max(((now - utc(at)).total_seconds() for _, at, _ in unseen), default=0.0)
    return out
