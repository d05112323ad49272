"""`gateway subscribers ...` and `gateway bulletin ...`: the alert service from the command line."""

from __future__ import annotations

import getpass
import json
import sys
import time

import click

from gateway import db
from gateway.alerts import bulletins
from gateway.alerts import subscribers
from gateway.cli.base import EXIT_NOT_FOUND, _open_database, _settings, main
from gateway.clock import SystemClock


def _areas_option(ctx: click.Context, settings, areas: tuple[str, ...]) -> None:
    known = {a.key for a in settings.areas}
    for area in areas:
        if area not in known:
            raise click.BadParameter(f"{area!r} is not an area (known: {', '.join(sorted(known)) or 'none; add [area:KEY] sections'})",
                                     param_hint="--area")


def _audited(action: str, now, summary: str, address: str | None = None) -> None:
    with db.atomic():
        db.audit.append(action, f"{getpass.getuser()} (gateway subscribers)", now, resident=address, summary=summary)


@main.group("subscribers")
def subscribers_group() -> None:
    """Residents signed up for alert bulletins."""


@subscribers_group.command("list")
@click.option("--area", help="Only this area (KEY as in [area:KEY]).")
@click.option("--state", type=click.Choice(["pending", "active", "ended"]), help="Only subscriptions in this state.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def subscribers_list(ctx: click.Context, area: str | None, state: str | None, as_json: bool) -> None:
    """Subscribers and the state of each of their areas."""
    settings = _settings(ctx)
    if area:
        _areas_option(ctx, settings, (area,))
    _open_database(settings)
    count = 0
    for row in subscribers.rows(area, state):
        count += 1
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            areas = " ".join(f"{a}:{s}" for a, s in row["areas"].items())
            click.echo(f"{row['address']}\t{row['name']}\t{areas}")
    click.echo(f"{count} subscriber(s)", err=True)


@subscribers_group.command("add")
@click.argument("address")
@click.option("--area", "areas", multiple=True, required=True, help="Area KEY; repeat for several.")
@click.option("--name", default="", help="The resident's name, for the greeting.")
@click.option("--resubscribe", is_flag=True, help="Also restart areas the resident ended: only when they "
              "have asked again (their new consent).")
@click.pass_context
def subscribers_add(ctx: click.Context, address: str, areas: tuple[str, ...], name: str, resubscribe: bool) -> None:
    """Subscribe ADDRESS at once (you vouch for it: no confirmation is asked)."""
    settings = _settings(ctx)
    _areas_option(ctx, settings, areas)
    if not subscribers.ADDRESS_RE.match(address.strip()):
        raise click.BadParameter(f"{address!r} is not an email address", param_hint="ADDRESS")
    if subscribers.own_address(address, settings):
        raise click.BadParameter(f"{address} is one of the gateway's own addresses (domain {settings.domain}); "
                                 "it cannot receive bulletins", param_hint="ADDRESS")
    _open_database(settings)
    now = SystemClock().now()
    started, left = subscribers.add(address, areas, name, now, resubscribe)
    if started:
        _audited("subscribed", now, f"{started} subscription(s) started by an administrator: {', '.join(areas)}"
                 + (" (resubscribed with their new consent)" if resubscribe else ""), address)
    for why in left:
        click.echo(f"skipped {why}", err=True)
    if not started:   # nobody subscribed: a script must not read that as done
        click.echo(f"Error: {address.lower()}: nothing started" + (" (see above)" if left else
                   f" (already receives alerts for {', '.join(areas)})"), err=True)
        ctx.exit(EXIT_NOT_FOUND)
    click.echo(f"{address.lower()}: {started} subscription(s) started")


@subscribers_group.command("remove")
@click.argument("address")
@click.pass_context
def subscribers_remove(ctx: click.Context, address: str) -> None:
    """End every subscription of ADDRESS at once."""
    settings = _settings(ctx)
    _open_database(settings)
    now = SystemClock().now()
    ended = subscribers.remove(address, now)
    if ended is None:
        click.echo(f"Error: {address} is not a subscriber", err=True)
        ctx.exit(1)
    if ended:
        _audited("unsubscribed", now, f"{ended} subscription(s) ended by an administrator", address)
    click.echo(f"{address.lower()}: {ended} subscription(s) ended")


@subscribers_group.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig", errors="surrogateescape"))
@click.option("--area", "areas", multiple=True, help="Area for rows without a third column; repeatable.")
@click.option("--resubscribe", is_flag=True, help="Also restart areas residents ended: only with their new "
              "consent (they asked again).")
@click.pass_context
def subscribers_import(ctx: click.Context, csv_file, areas: tuple[str, ...], resubscribe: bool) -> None:
    """Subscribe everyone in CSV_FILE (address[,name[,areas]]) at once; '-' reads standard input.
    Bad lines are listed and skipped; exit 1 if there were any. Residents who unsubscribed
    are left alone and listed (see --resubscribe)."""
    settings = _settings(ctx)
    _areas_option(ctx, settings, areas)
    _open_database(settings)
    now = SystemClock().now()
    result = subscribers.import_csv(csv_file, settings, areas, now, resubscribe)
    if result.added:
        _audited("subscribers_imported", now, f"{result.added} subscription(s) started from "
                 f"{getattr(csv_file, 'name', 'a list')}" + (" (resubscribing)" if resubscribe else ""))
    for label, lines in (("bad", result.problems), ("skipped", result.skipped)):
        for line in lines[:50]:
            click.echo(f"  {label}: {line}", err=True)
        if len(lines) > 50:
            click.echo(f"  ... and {len(lines) - 50} more {label}", err=True)
    click.echo(f"{result.added} subscription(s) started; {len(result.problems)} bad line(s) skipped; "
               f"{len(result.skipped)} unsubscribed area(s) left alone")
    ctx.exit(1 if result.problems else 0)


@subscribers_group.command("export")
@click.argument("csv_file", type=click.File("w", encoding="utf-8"))
@click.option("--area", help="Only this area.")
@click.pass_context
def subscribers_export(ctx: click.Context, csv_file, area: str | None) -> None:
    """Write every subscriber to CSV_FILE ('-' for standard output)."""
    settings = _settings(ctx)
    _open_database(settings)
    count = subscribers.export_csv(csv_file, area)
    click.echo(f"{count} subscriber(s) written", err=True)


@main.group("bulletin")
def bulletin_group() -> None:
    """Alert bulletins to the residents of one or more areas."""


@bulletin_group.command("send")
@click.option("--area", "areas", multiple=True, required=True, help="Area KEY; repeat for several.")
@click.option("--subject", required=True, help="The bulletin's subject line.")
@click.option("--subject-cy", "subject_cy", default="",
              help="Its subject in Welsh: Welsh readers get it, readers whose language is unknown get both, "
                   "Welsh first (\"Dwyn o siediau / Shed thefts\").")
@click.option("--body", "body_file", required=True, type=click.File("r", encoding="utf-8"),
              help="A file holding the bulletin's text ('-': standard input).")
@click.option("--body-cy", "body_cy_file", type=click.File("r", encoding="utf-8"),
              help="The same bulletin in Welsh: Welsh readers get it, readers whose language is unknown "
                   "get both, Welsh first. (Or write both in --body, parted by a ---- Cymraeg ---- line.)")
@click.option("--dry-run", is_flag=True, help="Show who would receive it; send nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def bulletin_send(ctx: click.Context, areas: tuple[str, ...], subject: str, body_file, body_cy_file,
                  dry_run: bool, yes: bool, subject_cy: str) -> None:
    """Queue a bulletin for every current subscriber of the areas; the daemon delivers it."""
    settings = _settings(ctx)
    _areas_option(ctx, settings, areas)
    body = body_file.read().strip()
    if not body:
        raise click.BadParameter("the body file is empty", param_hint="--body")
    if body_cy_file is not None:
        welsh = body_cy_file.read().strip()
        if not welsh:
            raise click.BadParameter("the Welsh body file is empty", param_hint="--body-cy")
        body = f"{body}\n---- Cymraeg ----\n{welsh}"
    _open_database(settings)
    recipients, suppressed = bulletins.audience(list(areas))
    names = ", ".join(settings.area(a).name for a in areas)
    click.echo(f"Bulletin \"{subject}\" for {names}: {recipients} recipient(s)"
               + (f", {suppressed} suppressed address(es) skipped" if suppressed else ""))
    if dry_run:
        click.echo("Dry run: nothing queued.")
        return
    if recipients == 0:
        click.echo("Error: nobody to send it to", err=True)
        ctx.exit(1)
    if not yes and not click.confirm("Send it?", default=False):
        click.echo("Not sent.")
        ctx.exit(1)
    clock = SystemClock()
    bulletin = bulletins.create(areas, subject, body, "cli", clock.now(), subject_cy=subject_cy.strip())
    started = time.monotonic()
    with click.progressbar(length=recipients, label=f"Queueing bulletin {bulletin.id}",
                           file=sys.stderr) as bar:
        done = [0]

        def progress(queued: int, skipped: int) -> None:
            bar.update(queued + skipped - done[0])
            done[0] = queued + skipped

        bulletin = bulletins.fan_out(bulletin.id, clock, settings.retry_deadline_hours,
                                     settings.surgery_address, progress)
    click.echo(f"Bulletin {bulletin.id}: {bulletin.recipients} queued, {bulletin.skipped} suppressed "
               f"skipped, in {time.monotonic() - started:.1f} s. The running gateway delivers it; follow it "
               f"with: gateway bulletin status {bulletin.id}")


@bulletin_group.command("list")
@click.pass_context
def bulletin_list(ctx: click.Context) -> None:
    """Every bulletin, newest first, with its progress."""
    settings = _settings(ctx)
    _open_database(settings)
    bulletins.mark_finished()
    for row in db.bulletins.newest_first():
        counts = bulletins.progress_counts(row.id)
        click.echo(f"{row.id}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.state}\t{row.areas}\t"
                   f"sent {counts['sent']}/{row.recipients}, failed {counts['failed']}, "
                   f"skipped {counts['skipped'] + row.skipped}\t{row.subject}")


@bulletin_group.command("status")
@click.argument("bulletin_id", type=int)
@click.option("--watch/--no-watch", default=None, help="Follow delivery with a progress bar "
              "(the default on a terminal).")
@click.pass_context
def bulletin_status(ctx: click.Context, bulletin_id: int, watch: bool | None) -> None:
    """Queued, sent, failed and skipped counts for one bulletin."""
    settings = _settings(ctx)
    _open_database(settings)
    bulletins.mark_finished()
    row = db.bulletins.get(bulletin_id)
    if row is None:
        click.echo(f"Error: no bulletin {bulletin_id}", err=True)
        ctx.exit(EXIT_NOT_FOUND)
    if watch is None:
        watch = sys.stdout.isatty()
    counts = bulletins.progress_counts(bulletin_id)
    if watch and counts["queued"]:
        with click.progressbar(length=row.recipients, label=f"Bulletin {bulletin_id}") as bar:
            finished = 0
            while True:
                counts = bulletins.progress_counts(bulletin_id)
                now_finished = counts["sent"] + counts["failed"] + counts["skipped"]
                bar.update(now_finished - finished)
                finished = now_finished
                if not counts["queued"] and db.bulletins.get(bulletin_id).state != "enqueuing":
                    break
                time.sleep(1)
    row = db.bulletins.get(bulletin_id)
    click.echo(f"Bulletin {row.id} ({row.state}): \"{row.subject}\" to {row.areas}")
    click.echo(f"  recipients {row.recipients}  queued {counts['queued']}  sent {counts['sent']}  "
               f"failed {counts['failed']}  skipped {counts['skipped'] + row.skipped} "
               f"({row.skipped} suppressed at fan-out, {counts['skipped']} unsubscribed since)")
