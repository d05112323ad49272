"""The SMTP door: accepts mail for our own domain, stores it raw, and only then says 250.
While the pipeline is behind, new messages are slowed at MAIL FROM (InFlow). How many
sessions it holds, and for how long a quiet one: gateway.inbound.guard; its event loop,
which survives running out of file descriptors: gateway.inbound.accept.

Messages arriving together are committed together (group commit): each DATA waits for the
commit that holds its message, so the 250 still means "on disk", but fifty sessions cost
one transaction and one fsync instead of fifty."""

from __future__ import annotations

import asyncio
import logging
import queue
import ssl
import threading
from concurrent.futures import Future

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway import db
from gateway.alerts.bulletins import BULLETIN_PRIORITY
from gateway.clock import Clock
from gateway.config import Settings
from gateway.inbound import guard
from gateway.inbound.accept import DoorLoop
from gateway.mail.addresses import accepts, split

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100
MAX_GROUP = 64          # messages in one commit at most


class GroupCommitter:
    """One thread that stores whatever messages are waiting, in one transaction."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.waiting: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="smtp-commit", daemon=True)
        self.thread.start()

    def store(self, raw: bytes, mail_from: str, rcpt_tos: list[str], peer: str | None = None,
              helo: str | None = None) -> Future:
        future: Future = Future()
        self.waiting.put((raw, mail_from, rcpt_tos, peer, helo, future))
        return future

    def stop(self) -> None:
        self.waiting.put(None)
        self.thread.join(30)

    def _run(self) -> None:
        while True:
            item = self.waiting.get()
            if item is None:
                return
            group = [item]
            while len(group) < MAX_GROUP:
                try:
                    more = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.waiting.put(None)  # finish this group, then stop
                    break
                group.append(more)
            try:
                ids = db.intake.save_inbound_group([item[:5] for item in group], "smtp", self.clock.now())
            except Exception:  # one bad message must not fail the others: each alone, then
                self._one_by_one(group)
            else:
                for (*_, future), inbound_id in zip(group, ids):
                    future.set_result(inbound_id)

    def _one_by_one(self, group: list) -> None:
        """Store each message of a group that failed in its own transaction: whichever fails
        again fails alone (its sender gets 451 and keeps it), the rest get their 250."""
        for item in group:
            future = item[-1]
            try:
                future.set_result(db.intake.save_inbound_group([item[:5]], "smtp", self.clock.now())[0])
            except Exception as exc:
                future.set_exception(exc)


class InFlow:
    """Flow control, after Postfix's in_flow_delay: while the gateway is behind (at least
    `backlog` messages waiting for the pipeline or, as case mail due now, for delivery), a new
    message waits, up to `delay` seconds, before its MAIL FROM is answered. Nothing is
    refused: senders are slowed to the pace the gateway keeps, so a burst does not pile up
    unanswered. While the relay cannot be reached the outbox is not counted: it cannot drain,
    and the store is the safe place for mail meanwhile. The backlog is read from the database
    at most every CHECK_SECONDS."""

    CHECK_SECONDS = 0.05

    def __init__(self, delay: float, backlog: int, clock: Clock, relay_down: threading.Event | None = None):
        self.delay, self.backlog, self.clock, self.relay_down = delay, backlog, clock, relay_down
        self.checked_at, self.behind = float("-inf"), False

    def is_behind(self) -> bool:
        if self.clock.monotonic() - self.checked_at >= self.CHECK_SECONDS:
            self.checked_at = self.clock.monotonic()
            try:
                outbox = self.relay_down is None or not self.relay_down.is_set()   # it cannot drain now
                self.behind = db.intake.backlog(self.backlog, self.clock.now(), BULLETIN_PRIORITY,
                                            outbox=outbox) >= self.backlog
            except Exception:  # the database unreadable: take the mail; storing it will tell
                self.behind = False
        return self.behind

    async def wait(self) -> float:
        """Pause while behind, up to `delay`; the seconds paused. The backlog is read from
        the database in a worker thread, never on the event loop (a slow read would stall
        every SMTP session at once)."""
        if not self.delay:
            return 0.0
        started = self.clock.monotonic()
        while await self._behind() and self.clock.monotonic() - started < self.delay:
            await asyncio.sleep(self.CHECK_SECONDS)
        return self.clock.monotonic() - started

    async def _behind(self) -> bool:
        if self.clock.monotonic() - self.checked_at < self.CHECK_SECONDS:
            return self.behind   # fresh enough: no read at all
        return await asyncio.to_thread(self.is_behind)


ALERT_LOCALS = {"alerts", "subscribe", "bulletin", "area"}


def known_locals(settings: Settings) -> set[str]:
    """Local parts we take mail for: the surgery, the teams, and the alert service's."""
    known = {split(a)[0] for a in [settings.surgery_address] + [t.address for t in settings.teams]}
    return known | (ALERT_LOCALS if settings.areas else set())


class IntakeHandler:
    """aiosmtpd handler: RCPT checks the address; DATA commits the message, then answers."""

    def __init__(self, settings: Settings, clock: Clock, stored: threading.Event,
                 relay_down: threading.Event | None = None):
        self.settings, self.clock, self.stored = settings, clock, stored
        self._locals: tuple[object, set[str]] = ((), set())
        self.committer = GroupCommitter(clock)
        self.in_flow = InFlow(settings.in_flow_delay, settings.in_flow_backlog, clock, relay_down)

    @property
    def locals(self) -> set[str]:
        """The local parts taken now: made again whenever a reload has swapped the teams or
        the areas (gateway.config.apply_reload replaces them whole)."""
        key, known = self._locals
        now = (self.settings.teams, self.settings.areas)
        if key != now:   # the same objects compare at once
            known = known_locals(self.settings)
            self._locals = (now, known)
        return known

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        await self.in_flow.wait()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not accepts(address, self.settings.domain, self.locals):
            # One line a session: a client trying 20,000 addresses must not write 20,000 lines.
            refused = getattr(session, "refused_recipients", 0)
            session.refused_recipients = refused + 1
            if not refused:
                log.info("refused recipient %s from %s (further refusals in this session are not logged)",
                         address, session.peer)
            return "550 5.7.1 Not a recipient here: this server accepts mail only for its own addresses"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        try:
            peer = session.peer[0] if isinstance(session.peer, tuple) else None
            inbound_id = await asyncio.wrap_future(
                self.committer.store(raw, envelope.mail_from or "", list(envelope.rcpt_tos), peer,
                                     (session.host_name or "")[:255] or None))
        except Exception as exc:  # anything at all: the sender must keep the message and retry
            log.error("could not store a message from %s: %s: %s", session.peer, type(exc).__name__, exc)
            return "451 4.3.0 Could not store the message; please try again later"
        self.stored.set()
        log.info("stored inbound %s (%d bytes) from %s", inbound_id, len(raw), session.peer)
        return f"250 2.0.0 Stored as {inbound_id}"


class Door(Controller):
    """An aiosmtpd Controller (its own thread and event loop, a DoorLoop) whose sessions are
    held to [smtp] max_connections, max_connections_per_client and idle_timeout_seconds;
    it also stops its committer, and logs the last summaries, when it stops."""

    def __init__(self, handler: IntakeHandler, settings: Settings, **kwargs):
        loop = DoorLoop()
        super().__init__(handler, loop=loop, timeout=settings.idle_timeout, **kwargs)
        total, per_client = settings.max_connections, settings.max_connections_per_client
        self.census = guard.Census(total, per_client)
        self.refusals = guard.Summary(loop, guard.describe_refusals(total, per_client))
        self.exhausted = guard.Summary(loop, guard.describe_exhaustion(total))
        loop.on_exhausted = lambda exc: self.exhausted.note("accept", exc.strerror or str(exc))
        self.settings = settings

    def exempt(self, address) -> bool:
        """Whether a client is one of [trust] trusted_networks, the gateway's own relays: held
        to the total only, not to the per-client limit (read at each connection: a reload
        may change them)."""
        return address is not None and any(address in net for net in self.settings.trust.trusted_networks)

    def factory(self) -> guard.GuardedSMTP:
        return guard.GuardedSMTP(self.handler, census=self.census, refusals=self.refusals,
                                 exempt=self.exempt, command_call_limit=guard.COMMAND_LIMITS, **self.SMTP_kwargs)

    def stop(self, *args, **kwargs):
        super().stop(*args, **kwargs)
        self.refusals.flush()
        self.exhausted.flush()
        self.handler.committer.stop()


def controller(settings: Settings, clock: Clock, stored: threading.Event,
               relay_down: threading.Event | None = None) -> Controller:
    """The SMTP door listening on [smtp] listen."""
    host, port = settings.smtp_listen
    tls = {}
    if settings.smtp_tls is not None:   # [smtp] tls_cert and tls_key: offer STARTTLS
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.smtp_tls.cert, settings.smtp_tls.key)
        tls = {"tls_context": context, "require_starttls": False}
    return Door(IntakeHandler(settings, clock, stored, relay_down), settings, hostname=host, port=port,
                ident="Surgery Gateway", data_size_limit=settings.max_message_bytes,
                decode_data=False, enable_SMTPUTF8=True, server_hostname=settings.domain, **tls)
