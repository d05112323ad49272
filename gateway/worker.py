"""Claims stored inbound messages and runs the pipeline over each, one transaction apiece."""

from __future__ import annotations

import logging
import threading
import traceback

from gateway import pipeline, store
from gateway.clock import Clock
from gateway.config import Settings
from gateway.models import Inbound, db
from gateway.render import Renderer

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a message that kills its worker this often is parked, not retried forever


class InboundWorker:
    def __init__(self, settings: Settings, clock: Clock, renderer: Renderer, owner: str,
                 delivered: threading.Event | None = None):
        self.settings, self.clock, self.renderer, self.owner = settings, clock, renderer, owner
        self.delivered = delivered

    def process_one(self) -> bool:
        """Claim and process one stored message; False when there is none."""
        item = store.claim_inbound(self.owner, self.clock.now(), self.settings.lease_seconds)
        if item is None:
            return False
        if item.attempts > MAX_ATTEMPTS:
            store.park_inbound(item.id, "claim", f"taken {item.attempts - 1} times without finishing",
                               self.clock.now())
            log.error("inbound %s parked: taken %s times without finishing", item.id, item.attempts - 1)
            return True
        self.process(item)
        return True

    def process(self, item: Inbound) -> str | None:
        ctx = pipeline.Context(settings=self.settings, clock=self.clock, renderer=self.renderer,
                               inbound_id=item.id, raw=bytes(item.raw), mail_from=item.mail_from,
                               rcpt_tos=[r for r in item.rcpt_tos.split("\n") if r],
                               received_at=item.received_at, released=item.kind == "released")
        try:
            with db.atomic():
                kind = pipeline.run(ctx)
                store.finish_inbound(item.id, kind, ctx.case, self.clock.now())
        except pipeline.StageFailure as failure:
            detail = "".join(traceback.format_exception(failure.error))[-4000:]
            store.park_inbound(item.id, failure.stage, detail, self.clock.now())
            log.error("inbound %s parked at stage %s: %s: %s", item.id, failure.stage,
                      type(failure.error).__name__, failure.error)
            return None
        log.info("inbound %s: %s%s", item.id, kind, f" case {ctx.case.reference}" if ctx.case else "")
        if self.delivered is not None:
            self.delivered.set()
        return kind


def run_loop(worker: InboundWorker, wake: threading.Event, stop: threading.Event, poll: float) -> None:
    """Process until told to stop, finishing the message in hand; sleep on `wake` when idle."""
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
