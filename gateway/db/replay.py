"""What police mail has been acted on: each verified DKIM signature and each signed
Message-ID, remembered (as SHA-256 digests) so that the same message sent again is held as
a replay (gateway.pipeline.replay). The table's primary key is what makes it hold across
daemons: two daemons on one PostgreSQL that try to act on one signature at once cannot both
insert it, and the second learns so when the first commits."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Iterable

from gateway.db.connection import _one, utc
from gateway.db.models import db

KINDS = ("signature", "message-id")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def known(marks: Iterable[tuple[str, str]]) -> bool:
    """Whether any (kind, digest) was already acted on."""
    return any(_one("SELECT 1 FROM acted_on WHERE kind = ? AND digest = ?", kind, value) for kind, value in marks)


def first_use(marks: Iterable[tuple[str, str]], now: dt.datetime, inbound_id: int | None) -> bool:
    """Remember each (kind, digest) as acted on, inside the message's transaction; False when
    one of them already was (by this daemon, or by another that committed it meanwhile:
    PostgreSQL makes the insert wait for that transaction and then skips the row)."""
    fresh = True
    for kind, value in marks:
        cursor = db.execute_sql(f"INSERT INTO acted_on (kind, digest, at, inbound_id) VALUES ({db.param}, "
                                f"{db.param}, {db.param}, {db.param}) ON CONFLICT (kind, digest) DO NOTHING",
                                (kind, value, utc(now), inbound_id))
        fresh = fresh and cursor.rowcount == 1
    return fresh
