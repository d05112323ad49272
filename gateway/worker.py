"""Claims stored inbound messages and runs the pipeline over them.

Messages are claimed a batch at a time and handled in one transaction, each inside its own
savepoint: one commit (one fsync, one turn of the database's write lock) for several
messages, while a message that fails rolls back alone and is parked. A transaction is
closed once it has run for BATCH_SECONDS, so that the SMTP door and delivery, which write
to the same database, are never kept waiting long. A message taken before and not finished
(its worker died) is handled alone, so that if it is what kills the worker it takes nothing
else with it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from gateway import pipeline, store
from gateway.clock import Clock
from gateway.config import Settings
from gateway.models import Inbound, db
from gateway.render import Renderer

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a message that kills its worker this often is parked, not retried forever
BATCH = 32           # messages claimed at once
BATCH_SECONDS = 0.03  # a transaction takes no further message once it has run this long


class InboundWorker:
    def __init__(self, settings: Settings, clock: Clock, renderer: Renderer, owner: str,
                 delivered: threading.Event | None = None):
        self.settings, self.clock, self.renderer, self.owner = settings, clock, renderer, owner
        self.delivered = delivered

    def process_one(self) -> bool:
        """Claim and process what is stored, up to a batch; False when there is nothing."""
        items = store.claim_inbound(self.owner, self.clock.now(), self.settings.lease_seconds, BATCH)
        if not items:
            return False
        fresh = []
        for item in items:
            if item.attempts > MAX_ATTEMPTS:
                store.park_inbound(item.id, "claim", f"taken {item.attempts - 1} times without finishing",
                                   self.clock.now())
                log.error("inbound %s parked: taken %s times without finishing", item.id, item.attempts - 1)
            elif item.attempts > 1:
                self.process_together([item])
            else:
                fresh.append(item)
        while fresh:
            fresh = fresh[self.process_together(fresh):]
        return True

    def process_together(self, items: list[Inbound]) -> int:
        """Process messages from the front of `items` in one transaction until BATCH_SECONDS
        have passed; return how many were processed (at least one)."""
        started, done = time.monotonic(), []
        with db.atomic():
            for item in items:
                done.append((item, self._run(item)))
                if time.monotonic() - started > BATCH_SECONDS:
                    break
        for item, (kind, reference, failure) in done:  # logged once committed
            if failure is not None:
                log.error("inbound %s parked at stage %s: %s: %s", item.id, failure.stage,
                          type(failure.error).__name__, failure.error)
            else:
                log.info("inbound %s: %s%s", item.id, kind, f" case {reference}" if reference else "")
        if self.delivered is not None:
            self.delivered.set()
        return len(done)

    def _run(self, item: Inbound) -> tuple[str | None, str | None, pipeline.StageFailure | None]:
        ctx = pipeline.Context(settings=self.settings, clock=self.clock, renderer=self.renderer,
                               inbound_id=item.id, raw=bytes(item.raw), mail_from=item.mail_from,
                               rcpt_tos=[r for r in item.rcpt_tos.split("\n") if r],
                               received_at=item.received_at, released=item.kind == "released")
        try:
            with db.atomic():  # a savepoint: a failing message rolls back alone
                kind = pipeline.run(ctx)
                store.finish_inbound(item.id, kind, ctx.case, self.clock.now())
        except pipeline.StageFailure as failure:
            detail = "".join(traceback.format_exception(failure.error))[-4000:]
            store.park_inbound(item.id, failure.stage, detail, self.clock.now())
            return None, None, failure
        return kind, ctx.case.reference if ctx.case else None, None


def run_loop(worker: InboundWorker, wake: threading.Event, stop: threading.Event, poll: float) -> None:
    """Process until told to stop, finishing the batch in hand; sleep on `wake` when idle."""
    while not stop.is_set():
        try:
            busy = worker.process_one()
        except Exception:  # e.g. the database briefly unavailable: log, wait, carry on
            log.exception("inbound worker %s: unexpected error; carrying on", worker.owner)
            busy = False
            stop.wait(poll)
        if not busy:
            wake.wait(poll)
            wake.clear()
