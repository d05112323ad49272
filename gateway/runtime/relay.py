"""The connection to an outgoing relay ([relay], [relay:bulletins]): plain, STARTTLS or TLS,
with a password login when username is set, or AUTH XOAUTH2 with an app token when auth =
oauth2 (Exchange Online). The relay's certificate is always verified."""

from __future__ import annotations

import base64
import re
import smtplib
import ssl

from gateway.config import Settings
from gateway.config.oauth2 import Relay
from gateway.errors import TemporaryFailure
from gateway.tokens import mailbox_advice, provider, xoauth2


class _PlainEnvelope:
    """smtplib, without re-parsing addresses we wrote ourselves: smtplib runs every envelope
    address through email.utils.parseaddr, which cost a fifth of a bulletin copy's time."""

    def mail(self, sender, options=()):
        if not _PLAIN.match(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)
        optionlist = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("mail", f"FROM:<{sender}>{optionlist}")
        return self.getreply()

    def rcpt(self, recip, options=()):
        if not _PLAIN.match(recip):
            return super().rcpt(recip, options)
        optionlist = " " + " ".join(options) if options else ""
        self.putcmd("rcpt", f"TO:<{recip}>{optionlist}")
        return self.getreply()


_PLAIN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")


class _Relay(_PlainEnvelope, smtplib.SMTP):
    pass


class _RelayTls(_PlainEnvelope, smtplib.SMTP_SSL):
    pass


def tls_context(ca_file) -> ssl.SSLContext:
    """The system's CAs, and a force's own CA when [relay] ca_file names one; always verified."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def open_relay(settings: Settings, relay: Relay | None = None) -> smtplib.SMTP:
    """A connection to the relay ([relay], or `relay`: [relay:bulletins]), with TLS and login
    as its security, auth and username say. Raises TemporaryFailure naming the key to look at
    when TLS or the login fails. With auth = oauth2 the connection's `token_expires_at` says
    when its login's token runs out (the caller opens a new one before then)."""
    relay = relay or settings.relay
    smtp = connect(settings, relay)
    try:
        log_in(settings, relay, smtp)
    except BaseException:
        smtp.close()
        raise
    return smtp


def log_in(settings: Settings, relay: Relay, smtp: smtplib.SMTP) -> str:
    """Log in as the relay section says (nothing without username); what was done."""
    login = relay.login
    if login.auth == "oauth2":
        smtp.token_expires_at = _oauth2_login(settings, relay, smtp)
        return f"AUTH XOAUTH2 as {login.username}"
    if login.username:
        _password_login(relay, smtp)
        return f"AUTH as {login.username}"
    return "none (no username)"


def connect(settings: Settings, relay: Relay) -> smtplib.SMTP:
    """Connected, with TLS as the section's security says (STARTTLS done); not logged in.
    Raises OSError when the relay cannot be reached, TemporaryFailure for TLS."""
    login, where, section = relay.login, relay.where, relay.section
    context = tls_context(login.ca_file)
    try:
        if login.security == "tls":
            smtp = _RelayTls(relay.host, relay.port, local_hostname=settings.domain,
                             timeout=relay.timeout, context=context)
        else:
            smtp = _Relay(relay.host, relay.port, local_hostname=settings.domain, timeout=relay.timeout)
        smtp.token_expires_at = float("inf")
        smtp.ehlo_or_helo_if_needed()
        if login.security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise TemporaryFailure(f"[{section}] security = starttls, but the relay {where} does not offer STARTTLS")
            smtp.starttls(context=context)
            smtp.ehlo()
    except ssl.SSLCertVerificationError as exc:
        raise TemporaryFailure(f"the relay {where}'s certificate is not trusted ({exc.verify_message}); "
                               f"for a force's own CA set [{section}] ca_file") from exc
    return smtp


def _password_login(relay: Relay, smtp: smtplib.SMTP) -> None:
    login, where, section = relay.login, relay.where, relay.section
    try:
        smtp.login(login.username, login.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise TemporaryFailure(f"the relay {where} refused the login of [{section}] username {login.username} "
                               f"({exc.smtp_code} {_text(exc.smtp_error)}); check username and password_file") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise TemporaryFailure(f"the relay {where} offers no AUTH"
                               + ("" if login.security != "none" else f" without TLS: set [{section}] security")) from exc


def _oauth2_login(settings: Settings, relay: Relay, smtp: smtplib.SMTP) -> float:
    """AUTH XOAUTH2 as [relay] username with the app's token; a refused token is forgotten and
    a new one tried once (it may have been revoked or expired early). Returns its expiry."""
    login, where, section = relay.login, relay.where, relay.section
    if settings.oauth2 is None:
        raise TemporaryFailure(f"[{section}] auth = oauth2 needs an [oauth2] section")
    if "xoauth2" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise TemporaryFailure(f"the relay {where} does not offer AUTH XOAUTH2 after TLS "
                               f"([{section}] auth = oauth2): is this Exchange Online (smtp.office365.com:587)?")
    tokens = provider(settings.oauth2)
    for attempt in (1, 2):
        token = tokens.token()
        code, reply = _xoauth2(smtp, login.username, token.value)
        if code == 235:
            return token.expires_at
        if not tokens.refused(token) or attempt == 2:
            break
    raise TemporaryFailure(f"the relay {where} refused AUTH XOAUTH2 for [{section}] username {login.username} "
                           f"({code} {_text(reply)}), though Entra ID gave a token: "
                           + mailbox_advice(token, "SMTP.SendAsApp", login.username))


def _xoauth2(smtp: smtplib.SMTP, username: str, token: str) -> tuple[int, bytes]:
    """One AUTH XOAUTH2 exchange; a refusal comes as a 334 challenge holding the error,
    answered with an empty line, then the final reply."""
    code, reply = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(username, token).encode()).decode())
    if code == 334:
        code, reply = smtp.docmd("")
    return code, reply


_STATUS = re.compile(r"\d\.\d{1,3}\.\d{1,3}")
_WORD = re.compile(r"[A-Za-z]{1,20}[.,;:]?")
SUMMARY_WORDS = 6


def _text(reply: bytes | str) -> str:
    """A relay's refusal, short and safe to show: its enhanced status code and its first
    few plain words. Anything else (a server name, a base64 blob, a key=value echoing
    the login) is left out: a misbehaving relay or proxy may echo what it was sent."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    shown = []
    for n, word in enumerate(text.split()):
        if n == 0 and _STATUS.fullmatch(word):
            shown.append(word)
        elif _WORD.fullmatch(word) and len(shown) < SUMMARY_WORDS:
            shown.append(word)
        else:
            break
    return " ".join(shown).rstrip(".,;:") or "no reason given"
