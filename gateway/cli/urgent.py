"""`gateway urgent corrections`: where officers said the gateway's urgent flag was wrong
(#urgent, #noturgent), each as a labelled example for the next round of tuning."""

from __future__ import annotations

import json

import click

from gateway import db
from gateway.cli.base import _open_database, _settings, main
from gateway.mail.parse import parse

RESIDENT_KINDS = ("resident_new", "resident_follow_up")


@main.group()
def urgent() -> None:
    """Urgent cases: the officers' corrections of the danger check."""


@urgent.command("corrections")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per correction (label, text, case, by, at).")
@click.pass_context
def corrections(ctx: click.Context, as_json: bool) -> None:
    """Each #urgent or #noturgent an officer wrote, with the resident's words it was about
    (their latest message before it). These hold residents' words: keep what you copy safe."""
    _open_database(_settings(ctx))
    rows = [_example(case, event) for case, event in db.cases.events_of_kind("urgency_corrected")]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("No corrections yet: officers write #urgent or #noturgent on a case to make one.")
    for row in rows:
        click.echo(f"{row['at']}  {row['case']}  {row['label']:<10}  by {row['by']}")
        click.echo("    " + row["text"][:300].replace("\n", "\n    "))


def _example(case, event) -> dict:
    """The label an officer gave, and the text of the resident's message it was about."""
    label, _, by = event.detail.partition(", by ")
    by, _, why = by.partition(": ")   # the officer's own lines under the command, if any
    msg = _corrected(case, event)
    text = f"{msg.subject}\n{msg.text}".strip() if msg else ""
    return {"label": "urgent" if label == "urgent" else "not_urgent", "text": text, "case": case.reference,
            "by": by, "at": db.as_datetime(event.at).isoformat(timespec="seconds") + "Z", "language": case.language,
            "officer_said": why}


def _corrected(case, event):
    """The resident's message the officer's reply answered (its In-Reply-To, else References:
    the team's copy of it): anyone can write in a resident's name, so a message that arrived
    just before the correction is not taken for it. Without such a tie, the resident's
    latest message before the correction."""
    inbound, _ = db.cases.case_mail(case)
    officer = next((m for m in inbound if m.id == event.inbound_id and m.raw), None)
    if officer is not None:
        reply = parse(bytes(officer.raw))
        answered = db.cases.answered_message(case, reply.in_reply_to + reply.references[::-1])
        if answered is not None and answered.kind in RESIDENT_KINDS and answered.raw:
            return parse(bytes(answered.raw))
    theirs = [m for m in inbound if m.kind in RESIDENT_KINDS and db.as_datetime(m.received_at) <= db.as_datetime(event.at)]
    return parse(bytes(theirs[-1].raw)) if theirs and theirs[-1].raw else None
