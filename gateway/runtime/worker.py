"""Claims stored inbound messages and runs the pipeline over them.

Messages are claimed a batch at a time and handled in transactions, each message inside its
own savepoint: one commit (one fsync, one turn of the database's write lock) for several
messages, while a message that fails rolls back alone and is parked. A transaction is
closed once it has run for BATCH_SECONDS, so that the SMTP door and delivery, which write
to the same database, are never kept waiting long. A message taken before and not finished
(its worker died) is handled alone, so that if it is what kills the worker it takes nothing
else with it. Parsing and the sender check, which need no database, are done before.

No message waits for another sender's check (issue 23): a check waits on DNS, and a sender's
DNS may never answer. The checks run side by side (runtime.checks, a few at a time for a
zone not known to answer quickly); a message is processed as soon as its own check is done,
and the worker goes on claiming new mail meanwhile, up to HELD messages in hand, whose leases
it renews. What it keeps is the order of each sender's own mail: a message waits for every
earlier one in hand from the same sender or with the same Message-ID. A zone with more than
ZONE_QUEUE messages in hand has the next ones put back to wait (not counted as a deferral),
and that sender's later mail is put back with them, so it cannot overtake them either.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

from gateway import db, logs, pipeline
from gateway.clock import Clock
from gateway.config import Settings
from gateway.render import Renderer
from gateway.runtime.checks import SenderChecks
from gateway.trust import zones as trust_zones
from gateway.trust.dns import Resolver
from gateway.trust.verdict import Seen

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a message that kills its worker this often is parked, not retried forever
BATCH = 32           # messages claimed at once
BATCH_SECONDS = 0.03  # a transaction takes no further message once it has run this long
CHECKERS = 8         # sender checks (DNS) made at once
PER_ZONE = 2         # of them, for one zone not known to answer quickly: the others stay free
HELD = 4 * BATCH     # messages in hand at once (waiting for their check, in it, or ready)
ZONE_QUEUE = 16      # a slow zone's messages in hand at once; more are put back to wait
GATHER = 0.05        # seconds to let the checks in flight finish, so that they commit together
SET_ASIDE = ("quarantine", "held", "invalid", "bounce")   # kinds whose reason is kept (queue, status)


class LeaseLost(Exception):
    """The message's lease ran out while it was being handled, and another worker took it."""


@dataclass(eq=False)
class _Held:
    ctx: pipeline.Context
    keys: frozenset[str]     # its sender and Message-ID: mail sharing one keeps its order
    zones: frozenset[str]    # the DNS zones its sender check asks
    failure: pipeline.StageFailure | None = None
    ready: bool = False      # checked (or failed): it may be processed once nothing earlier holds it


class InboundWorker:
    def __init__(self, settings: Settings, clock: Clock, renderer: Renderer, owner: str,
                 delivered: threading.Event | None = None, wake=None):
        self.settings, self.clock, self.renderer, self.owner = settings, clock, renderer, owner
        self.delivered = delivered
        self.wake = wake if wake is not None else threading.Event()   # new mail, or a check done
        self.zones = trust_zones.ZoneWatch(settings.trust.dns_timeout)
        self.resolver = self._resolver()
        # Sender checks wait on DNS, not on the CPU: they are made side by side.
        self.checks = SenderChecks(CHECKERS, PER_ZONE, self.zones.fast, self.wake.set)
        self.leases: dict[int, str] = {}   # inbound id -> the claim that holds it
        self.held: dict[int, _Held] = {}  # inbound id -> a message in hand, in the order claimed
        self.waits: dict[str, dt.datetime] = {}   # sender or Message-ID -> until when its mail was put back
        self.renewed = time.monotonic()

    def _resolver(self) -> Resolver:
        """A resolver for [trust] dns_servers and dns_timeout_seconds as they are now."""
        trust = self.settings.trust
        self.dns = (trust.dns_servers, trust.dns_timeout)
        resolver = Resolver(*self.dns)
        resolver.observe = self.zones.observe
        self.zones.slow_after = trust.dns_timeout / 2
        return resolver

    def _follow_reload(self) -> None:
        """A reload may have changed [trust] dns_servers or dns_timeout_seconds: the next
        sender check asks the new servers (messages in hand keep the resolver they were read with)."""
        trust = self.settings.trust
        if (trust.dns_servers, trust.dns_timeout) != self.dns:
            self.resolver = self._resolver()
            log.info("sender checks now ask %s", ", ".join(f"{h}:{p}" for h, p in trust.dns_servers)
                     or "the system's resolvers")

    def process_one(self) -> bool:
        """Claim what is stored (while fewer than HELD are in hand), start their sender checks
        and process every message whose check is done; False when nothing is stored or in
        hand. With nothing done, waits until a check finishes or new mail rings `wake`."""
        self._follow_reload()
        self._keep_leases()
        claimed = self._claim() if len(self.held) <= HELD - BATCH else 0
        if self.held:
            self.checks.settle(GATHER)
        processed = self._process_ready()
        if claimed or processed:
            return True
        if not self.held:
            return False
        self.wake.wait(max(0.01, min(self.settings.poll_seconds,
                                     self.renewed + self.settings.lease_seconds / 3 - time.monotonic())))
        self.wake.clear()
        return True

    def close(self) -> None:
        """On stopping: process what is checked, and give back the rest, to be claimed at once
        by whoever comes next (this daemon restarted, or another)."""
        self.checks.close()
        try:
            self._process_ready()
            if self.held:
                db.intake.release_inbound({i: self.leases[i] for i in self.held})
        except Exception:   # the database gone: the leases run out instead
            log.exception("inbound worker %s: could not give back the messages in hand", self.owner)
        self.held.clear()

    def _claim(self) -> int:
        items = db.intake.claim_inbound(self.owner, self.clock.now(), self.settings.lease_seconds, BATCH)
        if items and not self.held:
            self.renewed = time.monotonic()
        later = []
        for item in items:
            self.leases[item.id] = item.lease_owner
            if item.attempts > MAX_ATTEMPTS:
                db.intake.park_inbound(item.id, "claim", f"taken {item.attempts - 1} times without finishing",
                                       self.clock.now())
                log.error("inbound %s parked: taken %s times without finishing", item.id, item.attempts - 1)
                self.leases.pop(item.id)
            elif item.attempts > 1:
                self.process_together([self._prepare(item)])
                self.leases.pop(item.id, None)
            else:
                held = self._read(item)
                until = self._must_wait(held)
                if until is not None:
                    later.append((held, until))
                    continue
                self.held[item.id] = held
                held.ready = held.failure is not None
                if not held.ready:
                    self.checks.add(item.id, held.zones, functools.partial(self._check, held.ctx))
        self._put_back(later)
        return len(items)

    def _context(self, item: db.intake.Message) -> pipeline.Context:
        return pipeline.Context(settings=self.settings, clock=self.clock, renderer=self.renderer,
                                inbound_id=item.id, raw=bytes(item.raw), mail_from=item.mail_from,
                                rcpt_tos=[r for r in item.rcpt_tos.split("\n") if r],
                                received_at=item.received_at, released=item.kind == "released",
                                peer=item.peer, helo=item.helo, source=item.source, resolver=self.resolver,
                                deferrals=item.deferrals or 0, historic=item.source == "history")

    def _prepare(self, item: db.intake.Message) -> tuple[pipeline.Context, pipeline.StageFailure | None]:
        ctx = self._context(item)
        return ctx, self._check(ctx)

    def _read(self, item: db.intake.Message) -> _Held:
        """Parse a message (no database, no DNS): whose it is, and which zones its check asks."""
        ctx = self._context(item)
        try:
            pipeline.read(ctx)
        except pipeline.StageFailure as failure:
            return _Held(ctx, frozenset(), frozenset(), failure)
        msg = ctx.msg
        keys = frozenset(k for k in (f"from:{msg.from_address}", f"id:{msg.message_id or ''}") if k[-1] != ":")
        zones = trust_zones.asked(msg.from_address, msg.from_problem, msg.headers.get("dkim-signature", []),
                                  Seen(ctx.peer, ctx.helo, ctx.mail_from, ctx.source), self.settings.trust)
        return _Held(ctx, keys, zones)

    @staticmethod
    def _check(ctx: pipeline.Context) -> pipeline.StageFailure | None:
        """The stages before the transaction (the sender check), in a checker's thread."""
        try:
            pipeline.prepare(ctx)
        except pipeline.StageFailure as failure:
            return failure
        return None

    def process_together(self, prepared: list[tuple[pipeline.Context, pipeline.StageFailure | None]]) -> int:
        """Process messages from the front of `prepared` in one transaction until BATCH_SECONDS
        have passed; return how many were processed (at least one)."""
        started, done = time.monotonic(), []
        with db.atomic():
            for ctx, failure in prepared:
                done.append((ctx, self._run(ctx, failure)))
                if time.monotonic() - started > BATCH_SECONDS:
                    break
        for ctx, (kind, failure) in done:  # logged once committed
            fields = logs.about(inbound=ctx.inbound_id, case=ctx.case.reference if ctx.case else None,
                                message_id=ctx.msg.message_id if ctx.msg is not None else None)
            if failure is not None:
                log.error("inbound %s parked at stage %s: %s: %s", ctx.inbound_id, failure.stage,
                          type(failure.error).__name__, failure.error, extra=fields)
            else:
                log.info("inbound %s: %s%s", ctx.inbound_id, kind, f" case {ctx.case.reference}" if ctx.case else "",
                         extra=fields)
        if self.delivered is not None:
            self.delivered.set()
        return len(done)

    def _run(self, ctx: pipeline.Context,
             failure: pipeline.StageFailure | None) -> tuple[str | None, pipeline.StageFailure | None]:
        if failure is None:
            lease = self.leases.get(ctx.inbound_id)
            try:
                with db.atomic():  # a savepoint: a failing message rolls back alone
                    kind = pipeline.run(ctx)
                    if kind == "deferred":   # its sender could not be checked yet: later
                        until = self.clock.now() + dt.timedelta(seconds=ctx.defer_seconds)
                        kept = db.intake.defer_inbound(ctx.inbound_id, until, ctx.notes[-1] if ctx.notes else "deferred",
                                                       lease, ctx.defer_counted)
                    else:
                        why = ctx.notes[-1][:500] if kind in SET_ASIDE and ctx.notes else None
                        kept = db.intake.finish_inbound(ctx.inbound_id, kind, ctx.case, self.clock.now(), why, lease)
                    if not kept:
                        raise LeaseLost()
                return kind, None
            except LeaseLost:   # everything it did with the message is rolled back with the savepoint
                log.warning("inbound %s: its lease ran out and another worker has it; this worker's work on it "
                            "is undone (raise [worker] lease_seconds if this recurs)", ctx.inbound_id)
                return "lease_lost", None
            except pipeline.StageFailure as caught:
                if db.transient(caught.error):   # a deadlock or lost connection: the message is not at fault
                    log.warning("inbound %s: %s at stage %s; trying again shortly", ctx.inbound_id,
                                type(caught.error).__name__, caught.stage)
                    db.intake.defer_inbound(ctx.inbound_id, self.clock.now() + dt.timedelta(seconds=1),
                                            f"database busy: {caught.error}"[:500], lease, counted=False)
                    return "deferred", None
                failure = caught
        detail = "".join(traceback.format_exception(failure.error))[-4000:]
        db.intake.park_inbound(ctx.inbound_id, failure.stage, detail, self.clock.now(),
                               self.leases.get(ctx.inbound_id))
        return None, failure

    def _process_ready(self) -> int:
        """Process the messages whose checks are done and that no earlier message in hand of
        the same sender or Message-ID is still waiting for; how many."""
        for inbound_id, failure in self.checks.take():
            held = self.held.get(inbound_id)
            if held is not None:   # (not: its lease was lost meanwhile)
                held.failure, held.ready = failure, True
        ready, blocked = [], set()
        for inbound_id in sorted(self.held):
            held = self.held[inbound_id]
            if held.ready and not blocked & held.keys:
                ready.append(held)
            else:
                blocked |= held.keys
        done = 0
        while done < len(ready):
            count = self.process_together([(h.ctx, h.failure) for h in ready[done:]])
            for held in ready[done:done + count]:
                del self.held[held.ctx.inbound_id]
                self.leases.pop(held.ctx.inbound_id, None)
            done += count
        return done

    def _must_wait(self, held: _Held) -> dt.datetime | None:
        """Until when a message just claimed is to be put back: its sender's (or Message-ID's)
        earlier mail was put back until then, or it is one too many for a zone not known fast."""
        now = self.clock.now()
        until = max((self.waits[k] for k in held.keys if self.waits.get(k, now) > now), default=None)
        if until is None:
            loads = {zone: self.checks.load(zone) for zone in held.zones if not self.zones.fast(zone)}
            full = [zone for zone, load in loads.items() if load >= ZONE_QUEUE]
            if not full:
                return None
            # A zone known to be slow takes its whole budget per check, PER_ZONE at a time;
            # one not yet known is looked at again in a second.
            slow = [loads[zone] for zone in full if self.zones.is_slow(zone)]
            seconds = max(slow) / PER_ZONE * self.settings.trust.dns_timeout if slow else 1.0
            until = now + dt.timedelta(seconds=max(1.0, seconds))
        for key in held.keys:
            self.waits[key] = max(self.waits.get(key, until), until)
        return until

    def _put_back(self, later: list[tuple[_Held, dt.datetime]]) -> None:
        if not later:
            return
        with db.atomic():
            for held, until in later:
                why = f"waiting its turn: mail from {', '.join(sorted(held.zones)) or 'its sender'} is being checked"
                db.intake.defer_inbound(held.ctx.inbound_id, until, why, self.leases.pop(held.ctx.inbound_id),
                                        counted=False)
        log.info("%s inbound messages put back to wait their turn behind slow sender checks", len(later))
        now = self.clock.now()
        if len(self.waits) > 10_000:
            self.waits = {key: until for key, until in self.waits.items() if until > now}

    def _keep_leases(self) -> None:
        """Renew the leases of the messages in hand before they run out: a message waiting
        for its check must not be taken by another worker (nor by this one again)."""
        if not self.held or time.monotonic() - self.renewed < self.settings.lease_seconds / 3:
            return
        self.renewed = time.monotonic()
        until = self.clock.now() + dt.timedelta(seconds=self.settings.lease_seconds)
        kept = db.intake.renew_inbound({i: self.leases[i] for i in self.held}, until)
        for inbound_id in [i for i in self.held if i not in kept]:
            log.warning("inbound %s: its lease ran out while it waited for its sender check and another worker "
                        "has it (raise [worker] lease_seconds if this recurs)", inbound_id)
            del self.held[inbound_id]
            self.leases.pop(inbound_id, None)


def run_loop(worker: InboundWorker, wake: threading.Event, stop: threading.Event, poll: float,
             between: Callable[[], None] | None = None) -> None:
    """Process until told to stop, finishing the batch in hand; sleep on `wake` when idle.
    `between` runs before each round (the pipeline process's heartbeat and reloads)."""
    while not stop.is_set():
        if between is not None:
            between()
        try:
            busy = worker.process_one()
        except Exception:  # e.g. the database briefly unavailable: log, wait, carry on
            log.exception("inbound worker %s: unexpected error; carrying on", worker.owner)
            busy = False
            stop.wait(poll)
        if not busy:
            wake.wait(poll)
            wake.clear()
    worker.close()
