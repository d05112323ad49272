"""`gateway db copy`: move an installation to another database."""

from __future__ import annotations

import click

from gateway import db
from gateway.cli.base import EXIT_CONFIG, database_reachable, main, shown_url
from gateway.clock import SystemClock
from gateway.db.transfer import CopyRefused, copy


@main.group("db")
def database() -> None:
    """The database itself."""


def _url(value: str, what: str) -> str:
    if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise click.BadParameter(f"{value!r} is not a database URL (sqlite:///PATH or postgresql://USER@HOST/NAME)",
                                 param_hint=what)
    return value


@database.command("copy")
@click.argument("source")
@click.argument("target")
def db_copy(source: str, target: str) -> None:
    """Copy every case, message, subscriber and bulletin from SOURCE to an empty TARGET
    (for instance sqlite:///var/gateway.db to postgresql://gw@db.example/gateway), then
    check the counts. Stop the gateway first; then point [gateway] database at TARGET."""
    from gateway.runtime.service import HEARTBEAT_SECONDS

    source, target = _url(source, "SOURCE"), _url(target, "TARGET")
    if not database_reachable(source, "SOURCE"):
        raise click.exceptions.Exit(EXIT_CONFIG)
    if not db.database_exists(source):
        raise click.BadParameter(f"there is no database at {shown_url(source)}", param_hint="SOURCE")
    if not database_reachable(target, "TARGET"):
        raise click.exceptions.Exit(EXIT_CONFIG)
    try:
        copied = copy(source, target, SystemClock().now(),
                      progress=lambda table, n: click.echo(f"  {table}: {n}", err=True) if n % 10000 == 0 else None,
                      alive_seconds=3 * HEARTBEAT_SECONDS)   # as `gateway status` counts a daemon running
    except CopyRefused as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_CONFIG)
    for table, count in copied.items():
        click.echo(f"{table}\t{count}")
    click.echo(f"Copied {sum(copied.values())} rows; every table's count agrees. "
               "Set [gateway] database to the new URL and start the gateway.")
