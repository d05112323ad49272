"""The composition root: binds the database, starts the SMTP door and the workers, stops them.

Two processes: the pipeline runs in one of its own (gateway/pipeline_process.py); the SMTP
door, the IMAP reader, delivery, bulletin fan-out and the web page are threads of this one.

SIGTERM or SIGINT: stop accepting mail, let each worker finish the item in hand, exit 0.
Whatever was stored but not processed, or queued but not delivered, is picked up next start.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass, field

from gateway import bulletins, db, outbound, reminders
from gateway.mail import language
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.pipeline_process import Doorbell, PipelineProcess
from gateway.render import Renderer

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10


@dataclass
class Service:
    settings: Settings
    clock: Clock
    renderer: Renderer
    stop_event: threading.Event = field(default_factory=threading.Event)
    inbound_wake: Doorbell = field(default_factory=Doorbell)   # rung for the pipeline process
    outbound_wake: threading.Event = field(default_factory=threading.Event)
    relay_down: threading.Event = field(default_factory=threading.Event)   # set by delivery, read by the door
    threads: list[threading.Thread] = field(default_factory=list)
    pipeline: PipelineProcess | None = None
    smtp: object | None = None
    web: object | None = None

    @property
    def owner(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def start(self) -> None:
        """Start the workers, then open the SMTP door."""
        s = self.settings
        language.warm()   # delivery renders bulletins in the reader's language: load the model first
        self.pipeline = PipelineProcess(s, self.inbound_wake, self.outbound_wake, logging.getLogger().level)
        self.pipeline.start()
        rate = outbound.RateLimit(s.max_per_second)
        for n in range(s.delivery_workers):
            deliverer = outbound.Deliverer(s, self.clock, f"{self.owner}:out{n}", relay_down=self.relay_down,
                                           copies=bulletins.Copies(s, self.renderer), rate=rate)
            deliverer.reported = self.inbound_wake   # a refusal's report goes through the pipeline
            self._thread(f"delivery-{n}", outbound.run_loop, deliverer, self.outbound_wake)
        self._thread("reminders", reminders.run_loop, s, self.clock, self.renderer, self.outbound_wake, self.owner)
        if s.areas:
            self._thread("bulletins", bulletins.run_fan_out_loop, s, self.clock, self.outbound_wake, self.owner)
        if s.http_listen:
            from gateway.web import WebServer

            self.web = WebServer(s, self.clock)
            try:
                self.web.start()
            except OSError as exc:
                host, port = s.http_listen
                raise GatewayError(f"[http] listen: cannot listen on {host}:{port}: {exc}") from exc
        if s.imap is not None:
            from gateway.inbound import imap

            intake = imap.ImapIntake(s, self.clock, self.inbound_wake)
            self._thread("imap", intake.run)
        if s.smtp_listen:
            from gateway.inbound import smtp

            door = smtp.controller(s, self.clock, self.inbound_wake, self.relay_down)
            try:
                door.start()
            except Exception as exc:
                host, port = s.smtp_listen
                raise GatewayError(f"[smtp] listen: cannot listen on {host}:{port}: {exc}") from exc
            self.smtp = door
            log.info("listening for SMTP on %s:%s", *s.smtp_listen)
        self._thread("heartbeat", self._heartbeat)
        where = f"relay {s.relay_host}:{s.relay_port}" if s.relay_host else f"spool {s.spool}"
        log.info("gateway for %s running; outgoing mail goes to %s", s.domain, where)

    def _heartbeat(self, stop: threading.Event, _poll: float) -> None:
        """Say this daemon is alive every HEARTBEAT_SECONDS (`gateway status` lists daemons);
        a clean stop takes the row away, a dead daemon's row goes stale."""
        started = self.clock.now()
        while True:
            try:
                db.cluster.daemon_seen(self.owner, socket.gethostname(), os.getpid(), started, self.clock.now())
            except Exception:   # the database briefly unavailable: say so next time
                log.warning("heartbeat: could not write to the database; trying again")
            if stop.wait(HEARTBEAT_SECONDS):
                break
        try:
            db.cluster.give_up_turns(self.owner)
            db.cluster.daemon_gone(self.owner)
        except Exception:
            pass

    def _thread(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, name=name,
                                  args=(*args, self.stop_event, self.settings.poll_seconds))
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, then let the workers finish what they hold."""
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
        if self.web is not None:
            self.web.stop()
            self.web = None
        self.stop_event.set()  # the IMAP reader stops between batches, within a second
        if self.pipeline is not None:
            self.pipeline.stop(timeout=60)
        self.outbound_wake.set()
        for thread in self.threads:
            thread.join()
        log.info("gateway stopped")

    def run_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        stopping = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            self.start()
            while not stopping.wait(1.0):
                if self.pipeline is not None and not self.pipeline.check():
                    break   # the pipeline process alone was sent SIGTERM: stop as if we were
        finally:
            self.stop()


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """Bind the database, apply migrations, and assemble the service (not yet started)."""
    clock = clock or SystemClock()
    db.connect(settings.database)
    applied = db.migrate(clock.now())
    if applied:
        log.info("database migrated: %s", ", ".join(applied))
    if not settings.relay_host:
        settings.spool.mkdir(parents=True, exist_ok=True)
    return Service(settings=settings, clock=clock, renderer=Renderer(settings.templates))
