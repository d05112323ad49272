"""Sender checks side by side, a few at a time for any one DNS zone, handed back as they finish.

A sender check waits on DNS, and a zone's DNS may never answer (an attacker may run their
own), so that its checks take their whole time budget. No such zone may take every checker:
a check whose zones are not all known to answer quickly (trust.zones) runs only while each
of those zones has fewer than `per_zone` checks running; the rest of that zone's messages
wait their turn while other zones' checks go ahead. Of the checks that may start, the one
whose zones have had the fewest turns lately goes first, so a zone new to the queue is not
kept behind a busy one; checks of zones known to be fast go first of all.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable


@dataclass(eq=False)
class _Check:
    key: int
    zones: frozenset[str]   # the zones it counts against: those not known fast when it was added
    work: Callable[[], object]
    seq: int


class SenderChecks:
    """A pool of `workers` threads running checks added with add(); take() hands back
    (key, result) for those finished, in the order they finished. `finished` is called
    (from a checker's thread) whenever one finishes."""

    def __init__(self, workers: int, per_zone: int, fast: Callable[[str], bool], finished: Callable[[], None]):
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="sender-check")
        self.workers, self.per_zone, self.fast, self.finished = workers, per_zone, fast, finished
        self.cond = threading.Condition()
        self.waiting: list[_Check] = []
        self.running: dict[str, int] = {}   # zone -> its checks running now
        self.turns: dict[str, int] = {}     # zone -> checks started since it last had none queued
        self.busy = 0
        self.results: list[tuple[int, object]] = []
        self.seq = 0

    def add(self, key: int, zones: frozenset[str], work: Callable[[], object]) -> None:
        """Queue `work` (a check of the message `key`, asking DNS in `zones`)."""
        with self.cond:
            self.seq += 1
            self.waiting.append(_Check(key, frozenset(z for z in zones if not self.fast(z)), work, self.seq))
            self._start()

    def load(self, zone: str) -> int:
        """The checks of `zone` queued or running (counted only for a zone not known fast)."""
        with self.cond:
            return self.running.get(zone, 0) + sum(zone in check.zones for check in self.waiting)

    def take(self) -> list[tuple[int, object]]:
        """The checks finished since the last call: (key, what the work returned or raised)."""
        with self.cond:
            done, self.results = self.results, []
        return done

    def settle(self, seconds: float) -> None:
        """Wait until every check added has finished, `seconds` at most."""
        with self.cond:
            self.cond.wait_for(lambda: not self.busy and not self.waiting, timeout=seconds)

    def close(self) -> None:
        """Start nothing more; the checks running finish within their DNS budget."""
        with self.cond:
            self.waiting.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:   # with self.cond held
        while self.busy < self.workers:
            check = self._next()
            if check is None:
                return
            self.waiting.remove(check)
            self.busy += 1
            for zone in check.zones:
                self.running[zone] = self.running.get(zone, 0) + 1
                self.turns[zone] = self.turns.get(zone, 0) + 1
            self.pool.submit(check.work).add_done_callback(functools.partial(self._done, check))

    def _next(self) -> _Check | None:
        best, rank = None, None
        for check in self.waiting:
            if all(self.running.get(zone, 0) < self.per_zone for zone in check.zones):
                mine = (max((self.turns.get(zone, 0) for zone in check.zones), default=0), check.seq)
                if rank is None or mine < rank:
                    best, rank = check, mine
        return best

    def _done(self, check: _Check, future: Future) -> None:
        try:
            result = future.result()
        except BaseException as exc:   # the work catches its own; anything else is handed back
            result = exc
        with self.cond:
            self.busy -= 1
            for zone in check.zones:
                self.running[zone] -= 1
                if not self.running[zone] and not any(zone in other.zones for other in self.waiting):
                    del self.running[zone]
                    self.turns.pop(zone, None)
            self.results.append((check.key, result))
            self._start()
            self.cond.notify_all()
        self.finished()
