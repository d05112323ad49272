"""The composition root: binds the database, starts the SMTP door and the workers, stops them.

Two processes: the pipeline runs in one of its own (gateway/runtime/pipeline_process.py); the SMTP
door, the IMAP reader, delivery, bulletin fan-out and the web page are threads of this one.

SIGTERM or SIGINT: stop accepting mail, let each worker finish the item in hand, anchor the
audit trail (gateway/privacy/anchor.py), exit 0.
Whatever was stored but not processed, or queued but not delivered, is picked up next start.
SIGHUP (systemctl reload): read the config again; if it is sound, templates, teams, areas,
limits, trust and the signing secrets (the secret file, after `gateway secret rotate`) change
at once, in both processes (the SMTP door's recipients and the sender checks' DNS servers
too), with no connection or message dropped; if not, its problems are logged and the old
config is kept.
At start, before anything claims work, the work of a gone daemon of this host is taken back
(runtime.recovery) and mail deferred for want of the relay is made due.

Under systemd (Type=notify) the daemon says READY=1 once it takes mail, WATCHDOG=1 while
its pipeline process and delivery workers go round their loops, and STOPPING=1 (see
contrib/surgery-gateway.service).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

from gateway import config, db, tokens as oauth_tokens
from gateway.alerts import bulletins
from gateway.runtime import outbound
from gateway.privacy import anchor, retention
from gateway.promise import reminders
from gateway.runtime import descriptors, recovery, systemd
from gateway.mail import language
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.errors import ConfigError, GatewayError
from gateway.web.metrics import Metrics
from gateway.runtime.pipeline_process import Doorbell, PipelineProcess
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
    deliverers: list[outbound.Deliverer] = field(default_factory=list)
    notifier: systemd.Notifier = field(default_factory=systemd.Notifier)
    metrics: Metrics | None = None

    @property
    def owner(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def start(self) -> None:
        """Start the workers, then open the SMTP door."""
        s = self.settings
        if s.smtp_listen:
            descriptors.ensure(s)   # before the pipeline process starts: it inherits the limit
        language.warm()   # delivery renders bulletins in the reader's language: load the model first
        recovery.take_back(socket.gethostname(), self.owner, self.clock.now())   # before anything claims
        outbound.Deliverer(s, self.clock, self.owner).relay_back()   # a restart tries deferred mail at once
        self.pipeline = PipelineProcess(s, self.inbound_wake, self.outbound_wake, logging.getLogger().level)
        self.pipeline.start()
        self.metrics = Metrics(s, self.clock, self.problems, lambda: self.pipeline.restarts if self.pipeline else 0)
        rate = outbound.RateLimit(s.max_per_second)
        bulletin_rate = outbound.RateLimit(s.bulletin_relay.max_per_second) if s.bulletin_relay else None
        for n in range(s.delivery_workers):
            deliverer = outbound.Deliverer(s, self.clock, f"{self.owner}:out{n}", relay_down=self.relay_down,
                                           copies=bulletins.Copies(s, self.renderer), rate=rate,
                                           bulletin_rate=bulletin_rate)
            deliverer.reported = self.inbound_wake   # a refusal's report goes through the pipeline
            deliverer.tally = self.metrics.tally
            self.deliverers.append(deliverer)
            self._thread(f"delivery-{n}", outbound.run_loop, deliverer, self.outbound_wake)
        self._thread("reminders", reminders.run_loop, s, self.clock, self.renderer, self.outbound_wake, self.owner)
        self._thread("retention", retention.run_purge_loop, s, self.clock, self.owner)
        self._thread("anchor", anchor.run_loop, s, self.clock, self.renderer, self.outbound_wake, self.owner)
        self._start_bulletins()
        if s.http_listen:
            from gateway.web.server import WebServer

            self.web = WebServer(s, self.clock, metrics=self.metrics, problems=self.problems, wake=self.inbound_wake)
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
        where += f" (bulletins: relay {s.bulletin_relay.where})" if s.bulletin_relay else ""
        log.info("gateway for %s running; outgoing mail goes to %s", s.domain, where)
        self.notifier.ready(self._status())
        interval = systemd.watchdog_interval()
        if interval:
            self._thread("watchdog", self._watchdog, interval)

    def _start_bulletins(self) -> None:
        """Bulletin fan-out runs once there are alert areas: at start, or after the reload that
        adds the first one."""
        if self.settings.areas and not any(t.name == "bulletins" for t in self.threads):
            self._thread("bulletins", bulletins.run_fan_out_loop, self.settings, self.clock, self.outbound_wake,
                         self.owner)

    def _status(self) -> str:
        s = self.settings
        doors = [f"SMTP {s.smtp_listen[0]}:{s.smtp_listen[1]}"] if s.smtp_listen else []
        doors += [f"IMAP {s.imap.host}"] if s.imap is not None else []
        return f"taking mail ({', '.join(doors) or 'no listener'}) for {len(s.teams)} team(s)"

    def loop_problems(self) -> list[str]:
        """Why this daemon's own loops are not going round (none: they are)."""
        s, reasons = self.settings, []
        allowed = s.lease_seconds + 3 * s.relay_timeout
        if self.pipeline is not None:
            if not self.pipeline.alive():
                reasons.append("pipeline process: not running")
            elif time.monotonic() - self.pipeline.pulse.value > allowed:
                reasons.append(f"pipeline process: its loop has not gone round for {allowed:.0f}s")
        for deliverer, thread in zip(self.deliverers, [t for t in self.threads if t.name.startswith("delivery-")]):
            if not thread.is_alive():
                reasons.append(f"{thread.name}: stopped")
            elif time.monotonic() - deliverer.beat > allowed:
                reasons.append(f"{thread.name}: its loop has not gone round for {allowed:.0f}s")
        return reasons

    def problems(self) -> list[str]:
        """Why this daemon is not healthy (/healthz); none when the database answers and the
        pipeline process and delivery loops are going round."""
        trouble = db.health.ping()
        tokens = [f"oauth2: {why}" for why in oauth_tokens.problems()]   # mail waits for a token
        return ([f"database: {trouble}"] if trouble else []) + tokens + self.loop_problems()

    def _watchdog(self, interval: float, stop: threading.Event, _poll: float) -> None:
        """WATCHDOG=1 at half the timeout while the loops go round: systemd restarts a daemon
        whose pipeline or delivery is stuck. A database outage does not stop it (a restart
        would not mend the database; /healthz says so instead)."""
        while not stop.wait(interval):
            stuck = self.loop_problems()
            if stuck:
                log.error("not telling systemd we are alive: %s", "; ".join(stuck))
                self.notifier.status("unhealthy: " + "; ".join(stuck))
            else:
                self.notifier.watchdog()

    def reload(self) -> bool:
        """Read the config file again (SIGHUP). A sound one changes templates, teams, areas and
        limits at once; a broken one is logged, and the old one kept. True when applied."""
        path = self.settings.path
        self.notifier.reloading()
        try:
            new = config.load(path)
            if not new.keyring.ready or new.keyring.audit_key != self.settings.keyring.audit_key:
                raise ConfigError([f"[gateway] secret_file: {new.keyring.file} is gone or holds another audit key "
                                   "(the audit key never changes; `gateway secret rotate` keeps it)"])
        except ConfigError as exc:
            log.error("reload refused: %s has %s problem(s); keeping the configuration in use", path,
                      len(exc.problems))
            for problem in exc.problems:
                log.error("reload refused: %s", problem)
            self.notifier.ready("reload refused (see the log); " + self._status())
            return False
        changed, needs_restart = config.reload_changes(self.settings, new)
        if self.pipeline is not None:
            self.pipeline.reload(new)
        config.apply_reload(self.settings, new)
        self.renderer.reload(self.settings.templates)
        self._start_bulletins()
        if needs_restart:
            log.warning("reload: these changed but take effect only on restart: %s", ", ".join(needs_restart))
        log.info("configuration reloaded from %s (%s)", path, ", ".join(changed) or "templates re-read")
        self.notifier.ready(self._status())
        return True

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
        self.notifier.stopping()
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
        anchor.on_stop(self.settings, self.clock.now())   # the audit trail's head as this daemon leaves it
        log.info("gateway stopped")

    def run_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        stopping, reloading, awake = threading.Event(), threading.Event(), threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            stopping.set()
            awake.set()

        def on_hangup(_signum: int, _frame: object) -> None:
            reloading.set()
            awake.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, on_hangup)
        try:
            self.start()
            while not stopping.is_set():
                awake.wait(1.0)
                awake.clear()
                if reloading.is_set() and not stopping.is_set():
                    reloading.clear()
                    log.info("received SIGHUP; reloading the configuration")
                    self.reload()
                if self.pipeline is not None and not self.pipeline.check():
                    break   # the pipeline process alone was sent SIGTERM: stop as if we were
        finally:
            self.stop()
            self.notifier.close()


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """Bind the database, apply migrations, and assemble the service (not yet started)."""
    clock = clock or SystemClock()
    db.connect(settings.database, audit_key=settings.audit_key)
    applied = db.migrate(clock.now())
    if applied:
        log.info("database migrated: %s", ", ".join(applied))
    if not db.audit.claim_key(clock.now()):
        raise GatewayError(db.audit.key_problems()[0])
    if not settings.relay_host:
        settings.spool.mkdir(parents=True, exist_ok=True)
    return Service(settings=settings, clock=clock, renderer=Renderer(settings.templates))
