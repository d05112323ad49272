"""A case's whole conversation, for `gateway case show`: who said what, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway import db
from gateway.mail.parse import parse

# Closes (by `gateway case close` or an officer's #close) and pauses are part of the story too.
NOTE_EVENTS = {"note", "assigned", "held", "reopened", "closed", "waiting", "seen", "command_error"}


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    who: str
    what: str
    text: str


def conversation(case: db.cases.Case) -> list[Entry]:
    inbound, outbound = db.cases.case_mail(case)
    entries = []
    for row in inbound:
        msg = parse(bytes(row.raw))
        who = msg.from_address or row.mail_from or "<>"
        if row.source == "form":
            who += f" (by the online form, from {row.peer or 'an unknown client'})"
        entries.append(Entry(db.as_datetime(row.received_at), who, row.kind or row.state, msg.text.strip()))
    for row in outbound:
        msg = parse(bytes(row.raw))
        entries.append(Entry(db.as_datetime(row.created_at), f"gateway -> {row.rcpt_to}",
                             f"{row.purpose} ({row.state})", msg.text.strip()))
    for event in db.cases.case_events(case):
        if event.kind in NOTE_EVENTS:
            entries.append(Entry(db.as_datetime(event.at), "event", event.kind, event.detail))
    return sorted(entries, key=lambda e: e.at)
