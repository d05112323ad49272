"""The doorbell the daemon's two processes wake each other with."""

from __future__ import annotations

import multiprocessing

from gateway.runtime.pipeline_process import Doorbell


def test_a_doorbell_rings_clears_and_never_blocks_the_ringer():
    bell = Doorbell()
    assert not bell.is_set() and not bell.wait(0.01)
    bell.set()
    assert bell.is_set() and bell.wait(0)
    bell.clear()
    assert not bell.is_set()
    for _ in range(200_000):   # far more than a pipe holds: the extra rings are dropped, not waited on
        bell.set()
    assert bell.is_set()
    bell.clear()
    assert not bell.is_set()


def _ring(bell: Doorbell) -> None:
    bell.set()


def test_a_doorbell_rung_in_a_spawned_process_is_heard_here():
    bell = Doorbell()
    child = multiprocessing.get_context("spawn").Process(target=_ring, args=(bell,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert bell.wait(5)
