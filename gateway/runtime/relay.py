"""The connection to the outgoing relay: plain, STARTTLS or TLS, with a login when
[relay] username is set. The relay's certificate is always verified."""

from __future__ import annotations

import re
import smtplib
import ssl

from gateway.config import Settings
from gateway.errors import TemporaryFailure


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


def open_relay(settings: Settings) -> smtplib.SMTP:
    """A connection to [relay] host, with TLS and login as [relay] security and username say.
    Raises TemporaryFailure naming the key to look at when TLS or the login fails."""
    login, where = settings.relay_login, f"{settings.relay_host}:{settings.relay_port}"
    context = tls_context(login.ca_file)
    try:
        if login.security == "tls":
            smtp = _RelayTls(settings.relay_host, settings.relay_port, local_hostname=settings.domain,
                             timeout=settings.relay_timeout, context=context)
        else:
            smtp = _Relay(settings.relay_host, settings.relay_port, local_hostname=settings.domain,
                          timeout=settings.relay_timeout)
        smtp.ehlo_or_helo_if_needed()
        if login.security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise TemporaryFailure(f"[relay] security = starttls, but the relay {where} does not offer STARTTLS")
            smtp.starttls(context=context)
            smtp.ehlo()
    except ssl.SSLCertVerificationError as exc:
        raise TemporaryFailure(f"the relay {where}'s certificate is not trusted ({exc.verify_message}); "
                               "for a force's own CA set [relay] ca_file") from exc
    if login.username:
        try:
            smtp.login(login.username, login.password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise TemporaryFailure(f"the relay {where} refused the login of [relay] username {login.username} "
                                   f"({exc.smtp_code} {reply}); check username and password_file") from exc
        except smtplib.SMTPNotSupportedError as exc:
            smtp.close()
            raise TemporaryFailure(f"the relay {where} offers no AUTH"
                                   + ("" if login.security != "none" else " without TLS: set [relay] security")) from exc
    return smtp
