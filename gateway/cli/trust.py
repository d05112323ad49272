"""`gateway dkim-keygen`: a DKIM key pair for our own mail, and the DNS record to publish."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gateway import config
from gateway.cli.base import EXIT_CONFIG, main
from gateway.errors import ConfigError
from gateway.trust.dkim import dns_record, new_key


@main.command("dkim-keygen")
@click.option("--selector", help="DKIM selector (default: [dkim] selector, else gw<year>).")
@click.option("--domain", help="Signing domain (default: [dkim] domain, else [gateway] domain).")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Where to write the private key (default: [dkim] key_file, else dkim.key beside the config).")
@click.option("--bits", type=click.IntRange(1024, 4096), default=2048, show_default=True)
@click.option("--force", is_flag=True, help="Replace a key file that already exists.")
@click.pass_context
def dkim_keygen(ctx: click.Context, selector: str | None, domain: str | None, out: str | None, bits: int,
                force: bool) -> None:
    """Write a new RSA key for signing outgoing mail and print the TXT record to publish.

    Publish the record before setting [dkim] (or before changing the selector): a provider
    that finds a signature without its key treats the mail as forged.
    """
    import datetime as dt

    path_text = ctx.obj["config"]
    base = Path(path_text).resolve().parent if path_text else Path.cwd()
    raw = _raw_dkim(path_text)
    domain = (domain or raw.get("domain") or raw.get("gateway_domain") or "").lower()
    selector = selector or raw.get("selector") or f"gw{dt.date.today().year}"
    if not domain:
        click.echo("Error: no signing domain: give --domain or a config with [gateway] domain", err=True)
        ctx.exit(EXIT_CONFIG)
    target = Path(out) if out else base / (raw.get("key_file") or "dkim.key")
    if target.exists() and not force:
        click.echo(f"Error: {target} already exists; give --force to replace it (mail signed with the old "
                   "key fails once its DNS record is gone)", err=True)
        ctx.exit(1)
    private, public = new_key(bits)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    click.echo(f"Private key written to {target} (mode 0600; keep it secret).")
    click.echo("\nPublish this TXT record in DNS:\n")
    click.echo(dns_record(selector, domain, public))
    click.echo(f"\nThen set, in the config:\n\n[dkim]\ndomain = {domain}\nselector = {selector}\nkey_file = {target}")


def _raw_dkim(path_text: str | None) -> dict[str, str]:
    """What the config says of [dkim] and the domain, read even when the key is missing
    (that is what this command is for)."""
    if not path_text:
        return {}
    try:
        parser = config.read_parser(Path(path_text))
    except ConfigError:
        return {}
    found = dict(parser["dkim"]) if parser.has_section("dkim") else {}
    if parser.has_section("gateway"):
        found["gateway_domain"] = parser.get("gateway", "domain", fallback="")
    return {k: v.strip() for k, v in found.items()}
