"""`gateway secret rotate`: a new signing secret in the secret file; the old ones verify for
[gateway] secret_grace_days more."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from gateway.cli.base import EXIT_CONFIG, _settings, main, need_secret
from gateway.config import keyring


@main.group("secret")
def secret() -> None:
    """The secret file ([gateway] secret_file): signing secrets and the audit key."""


@secret.command("rotate")
@click.pass_context
def rotate(ctx: click.Context) -> None:
    """Make a new signing secret: everything new is signed with it; addresses and Message-IDs
    signed before still verify for [gateway] secret_grace_days. The audit key is kept.

    A running daemon signs with the new secret after a reload (systemctl reload, SIGHUP) or
    a restart; with several daemons, copy the file to each first, then reload them all."""
    settings = _settings(ctx)
    need_secret(settings)
    ring = settings.keyring
    if ring.given:
        click.echo("Error: [gateway] secret is set in the config, and it signs everything, so a rotation would "
                   f"change nothing: remove that line (`gateway init` has copied it into {ring.file}), then rotate",
                   err=True)
        ctx.exit(EXIT_CONFIG)
    today = dt.datetime.now(dt.timezone.utc).date()
    try:
        fresh, dropped = keyring.rotate(ring, today)
    except OSError as exc:
        click.echo(f"Error: [gateway] secret_file: cannot write {ring.file}: {getattr(exc, 'strerror', None) or exc}",
                   err=True)
        ctx.exit(EXIT_CONFIG)
    until = today + dt.timedelta(days=ring.grace_days)
    click.echo(f"New signing secret written to {ring.file}. The previous one still verifies until {until} "
               f"([gateway] secret_grace_days = {ring.grace_days}); {len(fresh.signing)} secret(s) in the file"
               + (f", {dropped} past their grace removed." if dropped else "."))
    click.echo("A running daemon signs with it after `systemctl reload surgery-gateway` (SIGHUP) or a restart; "
               "every daemon sharing the database needs this same file.")


@main.command("systemd-unit")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the unit to this new file (default: standard output).")
@click.option("--credentials", "folder", default="/etc/surgery-gateway/credentials", show_default=True,
              help="The folder root keeps the secret files in.")
@click.pass_context
def systemd_unit(ctx: click.Context, out: Path | None, folder: str) -> None:
    """The systemd unit for this installation: this gateway command on this config, and a
    LoadCredential= line for each secret file the config names by a bare name."""
    from gateway.runtime import unit

    settings = _settings(ctx)   # a config with problems is said so here, not at `systemctl start`
    names = unit.credential_names(settings.path)
    gateway = str(Path(sys.argv[0]).resolve()) if Path(sys.argv[0]).name == "gateway" else \
        str(Path(sys.executable).parent / "gateway")
    text = unit.unit_text(gateway, str(settings.path.resolve()), names, folder.rstrip("/"),
                          unit.writable_folders(settings), unit.readme())
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        click.echo(f"Error: --out: cannot write {out}: {exc.strerror or exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    click.echo(f"wrote {out}" + (f"; put {', '.join(names)} in {folder}/ (mode 0600, owned by root)" if names else ""))
