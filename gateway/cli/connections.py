"""`gateway relay check [--bulletins]` and the steps of `gateway imap check`: each step shown
on its own line (token, connection, TLS, login), so an administrator sees which one failed
and why (for a token, Microsoft's AADSTS code and what to do). A token that cannot be had
does not stop the connection and TLS from being tried (no network at all, or only the token
service unreachable?); the login is then not tried. Exit 0 only when all pass."""

from __future__ import annotations

import smtplib
import ssl
import time

import click

from gateway import config
from gateway.cli.base import EXIT_CONFIG, _settings, main
from gateway.config.oauth2 import OAuth2
from gateway.errors import TemporaryFailure


def say(step: str, ok: bool, detail: str) -> None:
    """One step's line: `token    ok: ...` or `login    FAILED: ...`."""
    click.echo(f"{step:<8} {'ok' if ok else 'FAILED'}: {detail}")


def token_step(oauth: OAuth2 | None) -> bool:
    """Obtain a token from [oauth2], as the daemon would; say the step."""
    from gateway.tokens import TokenError, provider

    if oauth is None:
        say("token", False, "auth = oauth2 needs an [oauth2] section")
        return False
    try:
        token = provider(oauth).token()
    except TokenError as exc:
        say("token", False, exc.plain)   # the whole reason; what the daemon would do is not said here
        return False
    roles = ", ".join(token.roles()) or "none"
    say("token", True, f"from {oauth.authority_url} for {oauth.client_id}, good for "
                       f"{int(token.expires_at - time.time())} s; app permissions: {roles}")
    return True


@main.group()
def relay() -> None:
    """The relays outgoing mail leaves by ([relay], [relay:bulletins])."""


@relay.command("check")
@click.option("--bulletins", is_flag=True, help="Check [relay:bulletins] (bulletin copies) instead of [relay].")
@click.pass_context
def relay_check(ctx: click.Context, bulletins: bool) -> None:
    """Obtain a token (auth = oauth2), connect, TLS, log in, each said; exit 0 when all pass, else 2."""
    settings = _settings(ctx)
    target = settings.bulletin_relay if bulletins else settings.relay
    if bulletins and target is None:
        target = settings.relay
        click.echo("no [relay:bulletins]: bulletins leave by [relay], checked here")
    if not target.host:
        click.echo(f"Error: [{target.section}] host is empty: mail goes to the spool {settings.spool}", err=True)
        ctx.exit(EXIT_CONFIG)
    ok = _relay_steps(settings, target)
    if not ok:
        ctx.exit(EXIT_CONFIG)
    click.echo(f"OK. [{target.section}] {target.where} takes mail")


def _relay_steps(settings: config.Settings, target) -> bool:
    from gateway.runtime.relay import log_in

    login = target.login
    token = login.auth != "oauth2" or token_step(settings.oauth2)
    smtp = _relay_connect(settings, target)
    if smtp is None:
        return False
    try:
        if not token:
            say("login", False, "not tried without a token (see the token line)")
            return False
        say("login", True, log_in(settings, target, smtp))
        return True
    except TemporaryFailure as exc:
        say("login", False, str(exc))
        return False
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass


def _relay_connect(settings: config.Settings, target) -> smtplib.SMTP | None:
    """Connect and TLS, each said: the connection, or None."""
    from gateway.runtime.relay import connect

    try:
        smtp = connect(settings, target)
    except OSError as exc:
        say("connect", False, f"{target.where}: {type(exc).__name__}: {exc}")
        return None
    except TemporaryFailure as exc:
        say("connect", True, target.where)
        say("tls", False, str(exc))
        return None
    say("connect", True, f"{target.where}: {(smtp.ehlo_resp or b'').decode('utf-8', 'replace').partition(chr(10))[0]}")
    security = target.login.security
    say("tls", True, security if security != "none" else "none ([%s] security = none)" % target.section)
    return smtp


def imap_steps(cfg: config.Imap, oauth: OAuth2 | None):
    """The steps of `gateway imap check` up to the login, each said: (the client logged in,
    "") or (None, what went wrong, for the error line)."""
    from imapclient.exceptions import LoginError

    from gateway.inbound.imap import FAULTS, error_text, oauth2_login, open_connection
    from gateway.tokens import TokenError

    where, how = f"{cfg.host}:{cfg.port}", "XOAUTH2" if cfg.auth == "oauth2" else "password"
    token = cfg.auth != "oauth2" or token_step(oauth)
    try:
        client = open_connection(cfg)
    except FAULTS as exc:
        tls = isinstance(exc, ssl.SSLError)
        if tls:
            say("connect", True, where)
        say("tls" if tls else "connect", False, f"{type(exc).__name__}: {error_text(exc)}")
        return None, f"cannot use {cfg.username}@{where} ({cfg.security}) folder {cfg.folder!r}: " \
                     f"{type(exc).__name__}: {error_text(exc)}"
    say("connect", True, where)
    say("tls", True, cfg.security if cfg.security != "none" else "none ([imap] security = none)")
    if not token:
        say("login", False, f"{how} as {cfg.username}: not tried without a token (see the token line)")
        client.shutdown()
        return None, "no token from [oauth2] (see the token line)"
    try:
        if cfg.auth == "oauth2":
            oauth2_login(client, cfg, oauth)
        else:
            client.login(cfg.username, cfg.password)
    except (LoginError, TokenError) as exc:
        say("login", False, f"{how} as {cfg.username}: {error_text(exc)}")
        client.shutdown()
        return None, f"login refused for account {cfg.username!r} at {where}: {error_text(exc)}"
    except FAULTS as exc:
        say("login", False, f"{how} as {cfg.username}: {type(exc).__name__}: {error_text(exc)}")
        client.shutdown()
        return None, f"cannot log in to {where}: {type(exc).__name__}: {error_text(exc)}"
    say("login", True, f"{how} as {cfg.username}")
    return client, ""
