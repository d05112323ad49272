"""Erasure: a resident's data removed at their request (`gateway erase`), and a record of it
kept in the audit trail."""

from __future__ import annotations

import datetime as dt

from gateway import db
from gateway.privacy.access import sent_by


def erase(address: str, now: dt.datetime, actor: str) -> dict[str, int]:
    return db.privacy.erase(address.strip().lower(), sent_by(address), now, actor)
