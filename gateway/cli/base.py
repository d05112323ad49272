"""What every `gateway` command shares: the command group, the config, the database."""

from __future__ import annotations

import datetime as dt
import re

import click

from gateway import config, db
from gateway.errors import ConfigError

EXIT_CONFIG = 2


def _settings(ctx: click.Context) -> config.Settings:
    """Load the config named by --config or GATEWAY_CONFIG, or exit 2 naming every problem.
    (Reading it makes no file: the secret file is made by `init` and `run` alone.)"""
    path = ctx.obj["config"]
    if not path:
        click.echo("Error: no config file: give --config PATH or set GATEWAY_CONFIG", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        settings = config.load(path)
    except ConfigError as exc:
        click.echo(f"{path}: configuration problems:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        ctx.exit(EXIT_CONFIG)
    return settings


def need_secret(settings: config.Settings) -> None:
    """Exit 2 when there is no secret file: saying to run `gateway init` for a new
    installation, or to restore the file from a backup when the database already has data."""
    if not settings.keyring.ready:
        if secret_lost(settings):
            click.echo(f"Error: {lost_secret_advice(settings)}", err=True)
        else:
            click.echo(f"Error: there is no secret file at {settings.keyring.file} yet ([gateway] secret_file): "
                       "run `gateway init`, which makes it (the daemon's `run` does so too)", err=True)
        click.get_current_context().exit(EXIT_CONFIG)


def secret_lost(settings: config.Settings) -> bool:
    """Whether the secret file is missing for a database that already has an audit trail
    (written with the key in that file): a new file would not fit it."""
    if settings.keyring.ready or settings.keyring.file.exists():
        return False
    try:
        if not db.database_exists(settings.database):
            return False
    except db.Unreachable:
        return False   # said where the database is needed
    db.connect(settings.database)
    return db.audit.written()


def lost_secret_advice(settings: config.Settings) -> str:
    return (f"there is no secret file at {settings.keyring.file} ([gateway] secret_file), but the database "
            f"{shown_url(settings.database)} already has an audit trail written with the key in it: restore the "
            "secret file from your backup (`gateway init` makes one only for a new installation)")


EXIT_NOT_FOUND = 1   # what a command was asked about does not exist, or some of the items failed


def _open_database(settings: config.Settings) -> None:
    """Open the configured database, which must exist and be current: only `init` and `run`
    create or migrate one (a typing slip in --config must not make an empty database)."""
    ctx = click.get_current_context()
    if not database_reachable(settings.database):
        ctx.exit(EXIT_CONFIG)
    if not db.database_exists(settings.database):
        click.echo(f"Error: there is no database at {settings.database}: create it with `gateway init` "
                   "(the daemon's `run` does so too), or check [gateway] database", err=True)
        ctx.exit(EXIT_CONFIG)
    need_secret(settings)
    db.connect(settings.database, audit_key=settings.audit_key)
    if not db.schema_is_current():
        click.echo(f"Error: the database {settings.database} needs migrating: run `gateway init`", err=True)
        ctx.exit(EXIT_CONFIG)


def shown_url(url: str) -> str:
    """A database URL as it may be printed: a password given in it is masked."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:****@", url)


def database_reachable(url: str, what: str = "[gateway] database") -> bool:
    """Whether the database server answers; if not, say why in one line (the caller exits 2).
    A SQLite file is always "reachable": whether it exists is asked separately."""
    try:
        db.database_exists(url)
    except db.Unreachable as exc:
        click.echo(f"Error: cannot reach the database at {shown_url(url)} ({what}): {exc}", err=True)
        return False
    return True


def team_named(settings: config.Settings, key: str, param_hint: str) -> config.Team:
    """The team a command line names (KEY as in [team:KEY]), or a usage error listing them."""
    team = settings.team(key)
    if team is None:
        raise click.BadParameter(f"no team {key!r}; teams: {', '.join(t.key for t in settings.teams)}",
                                 param_hint=param_hint)
    return team


def date_given(value: str, param_hint: str) -> dt.date:
    """A date from the command line (YYYY-MM-DD), or a usage error saying so."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=param_hint)


class ItemId(click.ParamType):
    """An id as the CLI prints it: 42, or in:42 for inbound mail (out:42 where a command
    takes deliveries too)."""

    name = "ID"

    def __init__(self, kinds: tuple[str, ...] = ("in",)):
        self.kinds = kinds

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        kind, _, number = text.rpartition(":")
        kind = kind or self.kinds[0]
        if kind not in self.kinds or not number.isdigit() or not 0 < int(number) < 2 ** 63:
            shown = " or ".join(f"{k}:<number>" for k in self.kinds)
            self.fail(f"{value!r} is not an id (give a number, or {shown}, as the list shows)", param, ctx)
        return f"{kind}:{int(number)}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="GATEWAY_CONFIG", type=click.Path(dir_okay=False),
              help="Config file (default: $GATEWAY_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.version_option(package_name="surgery-gateway")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Surgery Gateway: residents' email in, cases to neighbourhood teams, answers out."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path
    ctx.obj["verbose"] = verbose
