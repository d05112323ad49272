"""The daemon and its mail: check-config, init, run, inject, status, parked, inspect, imap, case."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from email.utils import parseaddr

import click

from gateway import config, db, logs
from gateway.config import keyring as keyring_file
from gateway.config.sections import welsh_name_gaps
from gateway.cli.base import (EXIT_CONFIG, EXIT_NOT_FOUND, ItemId, _open_database, _settings, database_reachable, main,
                              need_secret)
from gateway.cli.base import lost_secret_advice, secret_lost
from gateway.clock import SystemClock
from gateway.mail.bounce_reasons import BECAUSE_OF_US
from gateway.errors import ConfigError, GatewayError


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Check the config file; print every problem. Exit 0 if good, 2 if not."""
    path = ctx.obj["config"]
    if not path:
        click.echo("Error: no config file: give --config PATH or set GATEWAY_CONFIG", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        settings = config.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem)
        click.echo(f"{path}: {len(exc.problems)} problem(s)")
        ctx.exit(EXIT_CONFIG)
    for warning in (*settings.warnings, *welsh_name_gaps(settings.teams, settings.areas)):
        click.echo(f"warning: {warning}")
    if not settings.keyring.ready:
        click.echo(f"warning: [gateway] secret_file: {settings.keyring.file} is not made yet: "
                   "`gateway init` (or the first `gateway run`) makes it")
    teams = ", ".join(t.key + (" (default)" if t.default else "") for t in settings.teams)
    relay = f"relay {settings.relay_host}:{settings.relay_port}" if settings.relay_host else f"spool {settings.spool}"
    relay += f" (bulletins to relay {settings.bulletin_relay.where})" if settings.bulletin_relay else ""
    click.echo(f"{path}: OK. Domain {settings.domain}; teams: {teams}; outgoing mail to {relay}.")


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database, or bring its schema up to date; make the secret file if it is not there."""
    settings = _settings(ctx)
    if not database_reachable(settings.database):
        ctx.exit(EXIT_CONFIG)
    settings, made = _with_secret_file(ctx, settings)
    if made:
        click.echo(made)
    db.connect(settings.database, audit_key=settings.audit_key)
    applied = db.migrate(SystemClock().now())
    if not db.audit.claim_key(SystemClock().now()):
        click.echo(f"Error: {db.audit.key_problems()[0]}", err=True)
        ctx.exit(EXIT_CONFIG)
    click.echo(f"database {settings.database}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


def _with_secret_file(ctx: click.Context, settings: config.Settings) -> tuple[config.Settings, str]:
    """The settings with the secret file read, made first if it is not there (init and run
    only); and what was done to the file, "" for nothing. Exit 2 when the file is missing
    for a database that has data: a new file would not fit it, the backup's would."""
    if secret_lost(settings):
        click.echo(f"Error: {lost_secret_advice(settings)}", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        keyring, done = keyring_file.ensure(settings.keyring, dt.datetime.now(dt.timezone.utc).date())
    except OSError as exc:
        click.echo(f"Error: [gateway] secret_file: cannot write {settings.keyring.file}: "
                   f"{getattr(exc, 'strerror', None) or exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    if done and not settings.database.startswith("sqlite:///"):
        done += ": every daemon sharing this database needs a copy of this same file"
    return dataclasses.replace(settings, keyring=keyring), done


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    from gateway.runtime import service

    settings = _settings(ctx)
    level = logging.DEBUG if ctx.obj["verbose"] else getattr(logging, settings.log_level.upper())
    settings, made = _with_secret_file(ctx, settings)
    logs.configure(level, settings.log_format, settings.log_addresses, key=settings.audit_key,
                   own_domain=settings.domain)
    if made:   # a first start, as it should be: nothing to warn about
        logging.getLogger("gateway").info("%s%s: the gateway's own secrets; keep a copy with your backups",
                                          made[0].upper(), made[1:])
    if not ctx.obj["verbose"]:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    for warning in settings.warnings:
        logging.getLogger("gateway").warning(warning)
    if not database_reachable(settings.database):
        ctx.exit(EXIT_CONFIG)
    try:
        svc = service.build(settings)
    except Exception as exc:   # the database or the config: the README's exit 2
        click.echo(f"Error: cannot start: {type(exc).__name__}: {exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        svc.run_until_signalled()
    except GatewayError as exc:   # a port in use, a secret file gone: the config's to fix
        click.echo(f"Error: {exc}{_in_use_hint(str(exc))}", err=True)
        ctx.exit(EXIT_CONFIG)


def _in_use_hint(error: str) -> str:
    """What to do when a listening port is taken: most often another gateway (the README's
    first daemon and the trial config both listen on 8025)."""
    if "cannot listen" in error and "in use" in error:
        return (" (another program, perhaps a gateway started earlier, is listening there: "
                "stop it first, or give this config another port)")
    return ""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
@click.option("--from", "mail_from", help="Envelope sender (default: the message's From address).")
@click.option("--to", "rcpt_to", multiple=True, help="Envelope recipient (default: the surgery address).")
@click.option("--received", metavar="WHEN", help="When it really arrived, e.g. 2026-11-20T09:30 ([clock] "
              "timezone unless an offset is given): mail moved from another system; the case's clock counts from "
              "then, and the resident is not acknowledged again.")
@click.pass_context
def inject(ctx: click.Context, files, mail_from: str | None, rcpt_to: tuple[str, ...], received: str | None) -> None:
    """Store messages (FILE.eml, or - for standard input) as if they had arrived by SMTP.

    The running daemon processes them at once; if it is not running, on its next start.
    """
    settings = _settings(ctx)
    now = SystemClock().now()
    at = _received(received, settings, now) if received else now
    _open_database(settings)
    recipients = list(rcpt_to) or [settings.surgery_address]
    for handle in files:
        raw = handle.read()
        sender = mail_from if mail_from is not None else _from_header(raw)
        inbound_id = db.intake.save_inbound(raw, sender, recipients, "history" if received else "inject", at)
        click.echo(f"{handle.name}: stored as inbound {inbound_id}")


def _received(value: str, settings: config.Settings, now: dt.datetime) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)", param_hint="--received")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.calendar.zone)
    if moment > now:
        raise click.BadParameter(f"{value} is in the future", param_hint="--received")
    return moment


def _from_header(raw: bytes) -> str:
    from gateway.mail.parse import parse

    return parseaddr(parse(raw).header("from"))[1]


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """How many messages wait in each queue, and how many cases are in each state."""
    settings = _settings(ctx)
    _open_database(settings)
    counts = db.intake.queue_counts()
    for name in ("inbound queued", "inbound done", "inbound parked", "outbound queued",
                 "outbound sent", "outbound failed"):
        click.echo(f"{name:<18} {counts.get(name, 0)}")
    click.echo(f"{'acks waiting':<18} {db.outbox.acks_waiting()}  (over [limits] acks_per_hour = {settings.acks_per_hour})")
    refused = db.intake.bounce_reasons_since(SystemClock().now() - dt.timedelta(hours=24), BECAUSE_OF_US)
    click.echo(f"{'refused for us':<18} " + (", ".join(f"{r} {n}" for r, n in sorted(refused.items())) or "0")
               + "  (last 24 h: residents' providers refusing our mail; see [gateway] admin_address)")
    for state, number in sorted(db.cases.case_counts().items()):
        click.echo(f"cases {state:<12} {number}")
    from gateway.runtime.service import HEARTBEAT_SECONDS

    now = SystemClock().now().astimezone(dt.timezone.utc).replace(tzinfo=None)
    running = db.cluster.daemons()
    for host, pid, started, seen in running:
        age = int((now - seen).total_seconds())
        state = "running" if age <= 3 * HEARTBEAT_SECONDS else "not seen since: stopped without saying, or dead"
        click.echo(f"daemon {host} pid {pid}: started {started:%Y-%m-%d %H:%M} UTC, last seen {age} s ago ({state})")
    if not running:
        click.echo("daemon             none running")
    for job, owner, until, done in db.cluster.turns():
        holder = f"held by {owner}" if until > now else "free (its last holder stopped or died)"
        last = f", last done {done:%Y-%m-%d %H:%M:%S} UTC" if done else ""
        click.echo(f"scheduled {job:<9} {holder}{last}")


@main.group()
def parked() -> None:
    """Messages set aside after an unexpected failure."""


@parked.command("list")
@click.pass_context
def parked_list(ctx: click.Context) -> None:
    """List parked messages with the stage and the reason."""
    settings = _settings(ctx)
    _open_database(settings)
    rows = db.intake.parked_inbound()
    for row in rows:
        reason = (row.error or "").strip().splitlines()[-1:] or [""]
        click.echo(f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.mail_from or '<>'}\t"
                   f"stage {row.stage}\t{reason[0]}")
    click.echo(f"{len(rows)} parked", err=True)


@parked.command("retry")
@click.argument("ids", nargs=-1, type=ItemId())
@click.option("--all", "all_", is_flag=True, help="Retry every parked message.")
@click.pass_context
def parked_retry(ctx: click.Context, ids: tuple[int, ...], all_: bool) -> None:
    """Put parked messages back in the queue (by id, or --all)."""
    if not ids and not all_:
        raise click.UsageError("give the ids of parked messages to retry, or --all")
    settings = _settings(ctx)
    _open_database(settings)
    count = db.intake.retry_parked(None if all_ else [int(i.partition(":")[2]) for i in ids])
    click.echo(f"{count} message(s) queued again")
    if ids and count < len(ids):
        click.echo(f"{len(ids) - count} of the ids given are not parked", err=True)
        ctx.exit(EXIT_NOT_FOUND)


@main.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def inspect_command(ctx: click.Context, files: tuple[str, ...], as_json: bool) -> None:
    """Show how the gateway reads each message FILE, changing nothing.

    With a config (--config or GATEWAY_CONFIG) each message is threaded against the database
    exactly as the daemon would, and nothing is kept; without one it is only classified.
    Exit 1 if a file could not be read at all."""
    import json

    from gateway.runtime.inspect import inspect
    from gateway.render import Renderer

    settings = renderer = clock = None
    if ctx.obj["config"]:
        settings = _settings(ctx)
        if not database_reachable(settings.database):
            ctx.exit(EXIT_CONFIG)
        exists = db.database_exists(settings.database)
        if exists:
            db.connect(settings.database, audit_key=settings.keyring.audit_key)  # read as it is: nothing written
        if not exists or not db.connection.db.table_exists("case"):
            click.echo(f"Error: the database {settings.database} has no gateway tables; "
                       "run `gateway init` first, or inspect without a config", err=True)
            ctx.exit(EXIT_CONFIG)
        need_secret(settings)
        renderer, clock = Renderer(settings.templates), SystemClock()
    unreadable = 0
    for name in files:
        try:
            with open(name, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            unreadable += 1
            click.echo(f"{name}: cannot read: {exc.strerror}", err=True)
            continue
        reading = inspect(name, raw, settings, renderer, clock)
        if as_json:
            click.echo(json.dumps(reading.as_dict(), ensure_ascii=False))
        else:
            click.echo(reading.as_text())
    ctx.exit(1 if unreadable else 0)


@main.group()
def imap() -> None:
    """The IMAP mailbox the gateway reads ([imap] in the config)."""


@imap.command("check")
@click.pass_context
def imap_check(ctx: click.Context) -> None:
    """Obtain a token (auth = oauth2), connect, TLS, log in, count the folder's messages, each
    step said; exit 0 when all pass, or say what is wrong and exit 2."""
    from gateway.cli.connections import imap_steps, say
    from gateway.inbound.imap import FAULTS, folder_count

    settings = _settings(ctx)
    cfg = settings.imap
    if cfg is None:
        click.echo("Error: no [imap] section in the config; nothing to check", err=True)
        ctx.exit(EXIT_CONFIG)
    where = f"{cfg.username}@{cfg.host}:{cfg.port} ({cfg.security})"
    client, problem = imap_steps(cfg, settings.oauth2)
    if client is None:
        click.echo(f"Error: {problem}", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        count, done_exists = folder_count(cfg, client=client)
    except FAULTS as exc:
        say("folder", False, f"{cfg.folder!r}: {type(exc).__name__}: {_imap_text(exc)}")
        click.echo(f"Error: cannot use {where} folder {cfg.folder!r}: {type(exc).__name__}: "
                   f"{_imap_text(exc)}", err=True)
        ctx.exit(EXIT_CONFIG)
    done = ("" if not cfg.done_folder else
            f"; processed mail goes to {cfg.done_folder!r}" + ("" if done_exists else " (created on first run)"))
    say("folder", True, f"{cfg.folder!r} holds {count} message(s)")
    click.echo(f"OK. {where}: folder {cfg.folder!r} holds {count} message(s){done}")


def _imap_text(exc: BaseException) -> str:
    from gateway.inbound.imap import error_text
    return error_text(exc)
