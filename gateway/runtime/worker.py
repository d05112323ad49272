"""Claims stored inbound messages and runs the pipeline over them.

Messages are claimed a batch at a time and handled in one transaction, each inside its own
savepoint: one commit (one fsync, one turn of the database's write lock) for several
messages, while a message that fails rolls back alone and is parked. A transaction is
closed once it has run for BATCH_SECONDS, so that the SMTP door and delivery, which write
to the same database, are never kept waiting long. A message taken before and not finished
(its worker died) is handled alone, so that if it is what kills the worker it takes nothing
else with it. Parsing, which needs no database, is done before the transaction begins.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from typing import Callable
from concurrent.futures import ThreadPoolExecutor

from gateway import db, logs, pipeline
from gateway.clock import Clock
from gateway.config import Settings
from gateway.render import Renderer
from gateway.trust.dns import Resolver

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a message that kills its worker this often is parked, not retried forever
BATCH = 32           # messages claimed at once
BATCH_SECONDS = 0.03  # a transaction takes no further message once it has run this long
CHECKERS = 8         # sender checks (DNS) made at once
SET_ASIDE = ("quarantine", "held", "invalid", "bounce")   # kinds whose reason is kept (queue, status)


class LeaseLost(Exception):
    """The message's lease ran out while it was being handled, and another worker took it."""


class InboundWorker:
    def __init__(self, settings: Settings, clock: Clock, renderer: Renderer, owner: str,
                 delivered: threading.Event | None = None):
        self.settings, self.clock, self.renderer, self.owner = settings, clock, renderer, owner
        self.delivered = delivered
        self.resolver = Resolver(settings.trust.dns_servers, settings.trust.dns_timeout)
        # Sender checks wait on DNS, not on the CPU: a batch's are made side by side.
        self.checkers = ThreadPoolExecutor(CHECKERS, thread_name_prefix="sender-check")
        self.leases: dict[int, str] = {}   # inbound id -> the claim that holds it

    def process_one(self) -> bool:
        """Claim and process what is stored, up to a batch; False when there is nothing."""
        items = db.intake.claim_inbound(self.owner, self.clock.now(), self.settings.lease_seconds, BATCH)
        if not items:
            return False
        self.leases = {item.id: item.lease_owner for item in items}
        fresh = []
        for item in items:
            if item.attempts > MAX_ATTEMPTS:
                db.intake.park_inbound(item.id, "claim", f"taken {item.attempts - 1} times without finishing",
                                   self.clock.now())
                log.error("inbound %s parked: taken %s times without finishing", item.id, item.attempts - 1)
            elif item.attempts > 1:
                self.process_together([self._prepare(item)])
            else:
                fresh.append(item)
        # Parsing touches no database: it is done before the transaction takes the write lock.
        prepared = list(self.checkers.map(self._prepare, fresh))
        while prepared:
            prepared = prepared[self.process_together(prepared):]
        return True

    def _prepare(self, item: db.intake.Message) -> tuple[pipeline.Context, pipeline.StageFailure | None]:
        ctx = pipeline.Context(settings=self.settings, clock=self.clock, renderer=self.renderer,
                               inbound_id=item.id, raw=bytes(item.raw), mail_from=item.mail_from,
                               rcpt_tos=[r for r in item.rcpt_tos.split("\n") if r],
                               received_at=item.received_at, released=item.kind == "released",
                               peer=item.peer, helo=item.helo, source=item.source, resolver=self.resolver,
                               deferrals=item.deferrals or 0, historic=item.source == "history")
        try:
            pipeline.prepare(ctx)
        except pipeline.StageFailure as failure:
            return ctx, failure
        return ctx, None

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
