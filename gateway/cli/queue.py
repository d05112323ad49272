"""`gateway queue ...`: what needs a person. Parked inbound mail (a stage failed), quarantined
mail (an upstream spam verdict) and failed deliveries, as in:<id> and out:<id>."""

from __future__ import annotations

import json

import click

from gateway import db
from gateway.cli.base import _open_database, _settings, main
from gateway.clock import SystemClock


@main.group("queue")
def queue_group() -> None:
    """Parked and quarantined mail, and failed deliveries."""


@queue_group.command("list")
@click.argument("queue", required=False, type=click.Choice(db.intake.QUEUES))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def queue_list(ctx: click.Context, queue: str | None, as_json: bool) -> None:
    """Items waiting for a person, oldest first (QUEUE: parked, quarantine or failed)."""
    _open_database(_settings(ctx))
    items = db.intake.queue_items(queue)
    for item in items:
        if as_json:
            click.echo(json.dumps(item))
        else:
            click.echo(f"{item['id']}\t{item['queue']}\t{item['at'][:16]}\t{item['who']}\t{item['why']}")
    click.echo(f"{len(items)} item(s)", err=True)


@queue_group.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@click.pass_context
def queue_show(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """One item in full: its envelope, state and reason (in:<id> or out:<id>)."""
    _open_database(_settings(ctx))
    row = _item(ctx, item_id)
    quarantined = isinstance(row, db.intake.Message) and row.state == "done" and row.kind == "quarantine"
    fields = ({"id": item_id, "state": "quarantined" if quarantined else row.state, "kind": row.kind, "received_at": str(row.received_at),
               "mail_from": row.mail_from, "rcpt_tos": row.rcpt_tos.split("\n"), "message_id": row.message_id,
               "size": row.size, "stage": row.stage,
               "why": (row.error or "").strip().splitlines()[-1] if row.error else "", "error": row.error}
              if isinstance(row, db.intake.Message) else
              {"id": item_id, "state": row.state, "purpose": row.purpose, "rcpt_to": row.rcpt_to,
               "message_id": row.message_id, "attempts": row.attempts, "created_at": str(row.created_at),
               "deadline": str(row.deadline), "last_error": row.last_error})
    if as_json:
        click.echo(json.dumps(fields))
    else:
        for key, value in fields.items():
            if key == "error" and (value or "").strip() == fields["why"]:
                continue   # a one-line error is the reason already shown
            click.echo(f"{key:12} {value}")


@queue_group.command("retry")
@click.argument("item_ids", nargs=-1, required=True)
@click.pass_context
def queue_retry(ctx: click.Context, item_ids: tuple[str, ...]) -> None:
    """Put parked messages back in the pipeline, or failed deliveries back in the outbox."""
    settings = _settings(ctx)
    _open_database(settings)
    failed = 0
    for item_id in item_ids:
        done = db.intake.requeue(item_id, SystemClock().now(), settings.retry_deadline_hours)
        click.echo(f"{item_id}: {done}" if done else f"{item_id}: not a parked message or failed delivery",
                   err=not done)
        failed += not done
    ctx.exit(1 if failed else 0)


@queue_group.command("release")
@click.argument("item_ids", nargs=-1, required=True)
@click.pass_context
def queue_release(ctx: click.Context, item_ids: tuple[str, ...]) -> None:
    """Let quarantined messages through the pipeline (no spam check this time)."""
    _open_database(_settings(ctx))
    _each(ctx, item_ids, db.intake.release_quarantined, "released into the inbound queue")


@queue_group.command("purge")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def queue_purge(ctx: click.Context, item_ids: tuple[str, ...], yes: bool) -> None:
    """Delete quarantined messages for good."""
    _open_database(_settings(ctx))
    if not yes and not click.confirm(f"Delete {len(item_ids)} quarantined message(s) for good?", default=False):
        ctx.exit(1)
    _each(ctx, item_ids, db.intake.purge, "deleted")


def _each(ctx: click.Context, item_ids, action, said: str) -> None:
    failed = 0
    for item_id in item_ids:
        if action(item_id):
            click.echo(f"{item_id}: {said}")
        else:
            click.echo(f"{item_id}: not a quarantined message", err=True)
            failed += 1
    ctx.exit(1 if failed else 0)


def _item(ctx: click.Context, item_id: str):
    row = db.intake.queue_item(item_id)
    if row is None:
        click.echo(f"Error: no item {item_id!r} (give in:<id> or out:<id>, as `gateway queue list` shows)", err=True)
        ctx.exit(1)
    return row
