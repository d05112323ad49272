"""The SMTP door: accepts mail for our own domain, stores it raw, and only then says 250."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway import store
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail.addresses import accepts, split

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100


ALERT_LOCALS = {"alerts", "subscribe", "bulletin", "area"}


def known_locals(settings: Settings) -> set[str]:
    """Local parts we take mail for: the surgery, the teams, and the alert service's."""
    known = {split(a)[0] for a in [settings.surgery_address] + [t.address for t in settings.teams]}
    return known | (ALERT_LOCALS if settings.areas else set())


class IntakeHandler:
    """aiosmtpd handler: RCPT checks the address; DATA commits the message, then answers."""

    def __init__(self, settings: Settings, clock: Clock, stored: threading.Event):
        self.settings, self.clock, self.stored = settings, clock, stored
        self.locals = known_locals(settings)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not accepts(address, self.settings.domain, self.locals):
            log.info("refused recipient %s from %s", address, session.peer)
            return "550 5.7.1 Not a recipient here: this server accepts mail only for its own addresses"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        try:
            inbound_id = await asyncio.to_thread(
                store.save_inbound, raw, envelope.mail_from or "", envelope.rcpt_tos, "smtp", self.clock.now())
        except Exception as exc:  # anything at all: the sender must keep the message and retry
            log.error("could not store a message from %s: %s: %s", session.peer, type(exc).__name__, exc)
            return "451 4.3.0 Could not store the message; please try again later"
        self.stored.set()
        log.info("stored inbound %s (%d bytes) from %s", inbound_id, len(raw), session.peer)
        return f"250 2.0.0 Stored as {inbound_id}"


def controller(settings: Settings, clock: Clock, stored: threading.Event) -> Controller:
    """An aiosmtpd Controller (its own thread and event loop) listening on [smtp] listen."""
    host, port = settings.smtp_listen
    return Controller(IntakeHandler(settings, clock, stored), hostname=host, port=port,
                      ident="Surgery Gateway", data_size_limit=settings.max_message_bytes,
                      decode_data=False, enable_SMTPUTF8=True, server_hostname=settings.domain)
