"""`gateway case ...`: look at cases and act on them as an administrator. What an
administrator does is recorded on the case as the OS user who ran the command."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click

from gateway import db, pipeline
from gateway.promise.dates import in_words
from gateway.cli.base import EXIT_NOT_FOUND, _open_database, _settings, date_given, main, team_named
from gateway.clock import SystemClock
from gateway.mail import attachments
from gateway.mail.parse import parse
from gateway.render import Renderer

STATUSES = ["open", "waiting", "answered", "closed"]


@main.group()
def case() -> None:
    """Look at cases, and close, reopen, assign or note them."""


def _by(person: str = "") -> str:
    """Who did it, as the record says: the OS user, or the person --by names and the OS user."""
    if person.strip():
        return f"{person.strip()} ({getpass.getuser()}, gateway case)"
    return f"{getpass.getuser()} (gateway case)"


def _case(ctx: click.Context, reference: str):
    row = db.cases.case_by_reference(reference)
    if row is None:
        click.echo(f"Error: no case {reference.upper()}", err=True)
        ctx.exit(EXIT_NOT_FOUND)
    return row


@case.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only cases in this state.")
@click.option("--team", help="Only this team's cases (KEY as in [team:KEY]).")
@click.option("--overdue", is_flag=True, help="Only open cases past their due date.")
@click.option("--due-before", "due_before", metavar="DATE", help="Only open cases due before DATE (YYYY-MM-DD).")
@click.option("--urgent", is_flag=True, help="Only cases marked urgent.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def case_list(ctx: click.Context, status: str | None, team: str | None, overdue: bool, due_before: str | None,
              urgent: bool, as_json: bool) -> None:
    """List cases, oldest first: reference, status, team, due date, age in working days
    (from the message the clock counts from), urgent, subject."""
    settings = _settings(ctx)
    if team:
        team_named(settings, team, "--team")
    before = date_given(due_before, "--due-before") if due_before else None
    _open_database(settings)
    calendar = settings.calendar
    today = calendar.local(SystemClock().now()).date()
    listed = 0
    for row in db.cases.cases(status, team):
        waiting_on_us = row.status == "open"
        if overdue and not (waiting_on_us and row.due_date < today):
            continue
        if before and not (waiting_on_us and row.due_date < before):
            continue
        if urgent and not row.urgent:
            continue
        listed += 1
        started = calendar.local(db.as_datetime(row.clock_from or row.opened_at)).date()
        age = calendar.working_days_between(started, today)
        if as_json:
            click.echo(json.dumps({"reference": row.reference, "status": row.status, "team": row.team,
                                   "resident": row.resident_address, "subject": row.subject,
                                   "opened_at": str(row.opened_at), "due_date": str(row.due_date),
                                   "age_working_days": age, "overdue": waiting_on_us and row.due_date < today,
                                   "urgent": bool(row.urgent)}))
        else:
            late = "  OVERDUE" if waiting_on_us and row.due_date < today else ""
            click.echo(f"{row.reference}\t{row.status}\t{row.team}\tdue {row.due_date}{late}\tage {age} wd\t"
                       f"{'urgent' if row.urgent else '-'}\t{row.subject}")
    if not listed:   # on standard error: a script reading the list (or --json) sees an empty one
        asked = any((status, team, overdue, due_before, urgent))
        click.echo("no cases" + (" match what was asked" if asked else " yet: the first message a resident "
                                 "sends opens one"), err=True)


@case.command("show")
@click.argument("reference")
@click.pass_context
def case_show(ctx: click.Context, reference: str) -> None:
    """The whole conversation on a case, oldest first, with who said what, and its
    attachments numbered for `gateway case attachment`."""
    from gateway.runtime.conversation import conversation

    settings = _settings(ctx)
    _open_database(settings)
    row = _case(ctx, reference)
    click.echo(f"{row.reference}  {row.status}  team {row.team}  due {row.due_date}")
    click.echo(f"Resident: {row.resident_name} <{row.resident_address}>\nSubject: {row.subject}\n")
    for entry in conversation(row):
        click.echo(f"--- {entry.at:%Y-%m-%d %H:%M}  {entry.who}  [{entry.what}]")
        if entry.text:
            click.echo(entry.text + "\n")
    for number, (message, item) in enumerate(_attachments(settings, row), start=1):
        held = f"  HELD: {item.held}" if item.held else ""
        click.echo(f"attachment {number}: {item.name} ({item.content_type}, {item.size} bytes, "
                   f"message {message}){held}")


def _attachments(settings, row) -> list[tuple[int, attachments.Attachment]]:
    """Every attachment of the resident's messages on a case, in order: (message number, it)."""
    found = []
    inbound, _ = db.cases.case_mail(row)
    for number, message in enumerate(inbound, start=1):
        parsed = parse(bytes(message.raw))
        judged = attachments.judge(parsed.attachments, settings.max_attachments, settings.max_attachment_bytes)
        found.extend((number, item) for item in judged)
    return found


def _act(ctx: click.Context, reference: str):
    """The settings, a pipeline context on the case, and now: for the commands that change one."""
    settings = _settings(ctx)
    _open_database(settings)
    row = _case(ctx, reference)
    clock = SystemClock()
    team = settings.team(row.team) or settings.default_team
    context = pipeline.without_message(settings, clock, Renderer(settings.templates), row, team)
    return settings, context, clock.now()


@case.command("close")
@click.argument("reference")
@click.option("--why", default="", help="A word for the record.")
@click.pass_context
def case_close(ctx: click.Context, reference: str, why: str) -> None:
    """Close a case (no mail to the resident: an officer's #close says goodbye)."""
    _, context, now = _act(ctx, reference)
    row = context.case
    if row.status == "closed":   # nothing to do: no second record
        click.echo(f"{row.reference} already closed")
        return
    with db.atomic():
        row.status, row.updated_at = "closed", db.utc(now)
        db.cases.save(row)
        db.cases.add_event(row, "closed", now, f"by {_by()}" + (f": {why}" if why else ""), actor=_by())
    click.echo(f"{row.reference} closed")


@case.command("reopen")
@click.argument("reference")
@click.pass_context
def case_reopen(ctx: click.Context, reference: str) -> None:
    """Open a case again; its reply is due five working days from now, and it is reminded
    of like any other."""
    settings, context, now = _act(ctx, reference)
    row = context.case
    with db.atomic():
        row.status, row.updated_at = "open", db.utc(now)
        row.due_date, row.clock_from = settings.calendar.due(now), db.utc(now)
        db.cases.save(row)
        db.cases.add_event(row, "reopened", now, f"by {_by()}; reply due {row.due_date}", actor=_by())
    click.echo(f"{row.reference} reopened; reply due {in_words(row.due_date)}")


@case.command("assign")
@click.argument("reference")
@click.argument("team")
@click.option("--note", default="", help="Words for the new team, sent with the case.")
@click.option("--by", "by", default="", help="Who is passing it on, as the record and the new team see it "
              "(default: the OS user who runs the command).")
@click.pass_context
def case_assign(ctx: click.Context, reference: str, team: str, note: str, by: str) -> None:
    """Give a case to another team (KEY as in [team:KEY]); it gets the history and the first message."""
    from gateway.pipeline.officer import assign

    settings, context, _ = _act(ctx, reference)
    new = team_named(settings, team.lower(), "TEAM")
    with db.atomic():   # credited to the person who passed it on, never to the team it leaves
        assign(context, new, _by(by), note)
    click.echo(f"{context.case.reference} assigned to {new.key}; {new.mailbox} has been sent the case")


@case.command("note")
@click.argument("reference")
@click.argument("text")
@click.pass_context
def case_note(ctx: click.Context, reference: str, text: str) -> None:
    """Add a note to a case's record (nobody is sent anything)."""
    _, context, now = _act(ctx, reference)
    db.cases.add_event(context.case, "note", now, f"{_by()}: {text}", actor=_by())
    click.echo(f"{context.case.reference}: note added")


@case.command("raw")
@click.argument("reference")
@click.argument("number", type=click.IntRange(min=1), default=1)
@click.pass_context
def case_raw(ctx: click.Context, reference: str, number: int) -> None:
    """The Nth message that came in on a case (1: the first), exactly as it arrived, byte for byte."""
    settings = _settings(ctx)
    _open_database(settings)
    row = _case(ctx, reference)
    inbound, _ = db.cases.case_mail(row)
    if number > len(inbound):
        click.echo(f"Error: {row.reference} has {len(inbound)} message(s) in", err=True)
        ctx.exit(EXIT_NOT_FOUND)
    sys.stdout.buffer.write(bytes(inbound[number - 1].raw))
    sys.stdout.buffer.flush()


@case.command("attachment")
@click.argument("reference")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (never over an existing one).")
@click.pass_context
def case_attachment(ctx: click.Context, reference: str, number: int, out: Path) -> None:
    """Write attachment N of a case (numbered as `gateway case show` lists them) to a file,
    held ones included: a held attachment may run code, and you are warned."""
    settings = _settings(ctx)
    _open_database(settings)
    row = _case(ctx, reference)
    found = _attachments(settings, row)
    if number > len(found):
        click.echo(f"Error: {row.reference} has {len(found)} attachment(s)", err=True)
        ctx.exit(EXIT_NOT_FOUND)
    if out.exists():
        raise click.BadParameter(f"{out} exists; give a new file", param_hint="--out")
    _, item = found[number - 1]
    out.write_bytes(item.data)
    out.chmod(0o600)
    if item.held:
        click.echo(f"Warning: this attachment was held back from the team: {item.held}. Open it only on a "
                   "machine meant for that.", err=True)
        db.cases.add_event(row, "attachment_taken", SystemClock().now(), f"held attachment {item.name!r} written "
                           f"out by {_by()}", actor=_by())
    click.echo(f"{item.name}: {item.size} bytes written to {out}")
