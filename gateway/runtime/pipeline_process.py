"""The pipeline worker in a process of its own, so that a 2-core server uses both cores.

The pipeline (parse, screen, thread, route, compose) is the CPU-heavy part of handling a
message; in the main process it competed with the SMTP door and delivery for one GIL. The
two processes share the database (SQLite writers queue on store's lock file) and wake each
other through Doorbells. The child is killed by Linux when the main process dies, even on
kill -9, and the main process restarts it if it dies alone: the new one takes back at once
the messages the dead one held (its transaction was never committed).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import select
import signal
import socket
import threading
import time

from gateway import config, db, logs
from gateway.runtime import worker
from gateway.clock import SystemClock
from gateway.config import Settings
from gateway.render import Renderer

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")   # a clean interpreter: no threads or connections copied
PR_SET_NAME, PR_SET_PDEATHSIG = 15, 1
NAME = b"gw-pipeline"   # what `ps -o comm` and top show for the pipeline process
RESTART_DELAYS = (1, 2, 5, 10, 30, 60)   # seconds before restarting a pipeline process that died


class Doorbell:
    """A wake-up call across processes, with threading.Event's set/wait/clear, over a pipe.

    Ringing never blocks, and a process killed on either end leaves the other unharmed
    (multiprocessing.Event is not like that: a process killed inside wait() leaves the next
    set() waiting forever for it to wake)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def __getstate__(self):   # handed to the spawned process as duplicated descriptors
        from multiprocessing.reduction import DupFd

        return {"read": DupFd(self.read_fd), "write": DupFd(self.write_fd)}

    def __setstate__(self, state) -> None:
        self.read_fd, self.write_fd = state["read"].detach(), state["write"].detach()

    def set(self) -> None:
        try:
            os.write(self.write_fd, b"!")
        except (BlockingIOError, BrokenPipeError):  # already rung plenty, or nobody listens
            pass

    def wait(self, timeout: float | None = None) -> bool:
        ready, _, _ = select.select([self.read_fd], [], [], timeout)
        return bool(ready)

    def is_set(self) -> bool:
        return self.wait(0)

    def clear(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass


class PipelineProcess:
    """Starts, watches and stops the pipeline process. `delivered` is rung by the child
    whenever it has queued mail; a thread here passes that on to the delivery workers."""

    def __init__(self, settings: Settings, wake: Doorbell, outbound_wake: threading.Event, level: int):
        self.settings, self.wake, self.outbound_wake, self.level = settings, wake, outbound_wake, level
        self.delivered = Doorbell()
        self.pulse = SPAWN.Value("d", time.monotonic(), lock=False)   # the child's loop last went round
        self.updates = SPAWN.SimpleQueue()   # reloaded settings, for the child to take between rounds
        self.process: multiprocessing.process.BaseProcess | None = None
        self.stopping = False
        self.started_at = 0.0
        self.restarts = 0
        self.relay = threading.Thread(target=self._pass_on, name="pipeline-delivered", daemon=True)

    def start(self) -> None:
        """Start it from the main thread: Linux ties the child's life to the thread that made it."""
        self.process = SPAWN.Process(target=main, name="gateway-pipeline", daemon=True,
                                     args=(self.settings, self.wake, self.delivered, self.level, os.getpid(),
                                           self.pulse, self.updates))
        self.pulse.value = time.monotonic()
        self.process.start()
        self.started_at = time.monotonic()
        if not self.relay.is_alive():
            self.relay.start()

    def _pass_on(self) -> None:
        while not self.stopping:
            if self.delivered.wait(1.0):
                self.delivered.clear()
                self.outbound_wake.set()

    def check(self) -> bool:
        """Restart the process if it died on its own, after a growing delay. False when it
        was asked to stop (SIGTERM to it alone, which exits it cleanly with 0): the daemon
        then stops too, as an administrator who sent it means."""
        if self.process is None or self.process.is_alive() or self.stopping:
            return True
        if self.process.exitcode == 0:
            log.info("the pipeline process was asked to stop (SIGTERM); stopping the daemon")
            return False
        if time.monotonic() - self.started_at > 300:
            self.restarts = 0
        delay = RESTART_DELAYS[min(self.restarts, len(RESTART_DELAYS) - 1)]
        if time.monotonic() - self.started_at < delay:
            return True
        log.error("the pipeline process exited unexpectedly (exit code %s); restarting it", self.process.exitcode)
        self.restarts += 1
        self.start()
        return True

    def reload(self, settings: Settings) -> None:
        """Hand the child the reloaded settings; it takes what a reload may change before its
        next round (a restarted child gets them from self.settings, changed in place by the
        service: what needs a restart stays as the daemon started)."""
        self.updates.put(settings)
        self.wake.set()

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def stop(self, timeout: float) -> None:
        """Ask it (SIGTERM) to finish the message in hand and exit; kill it if it will not."""
        self.stopping = True
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout)
        if self.process.is_alive():
            log.error("the pipeline process did not stop within %ss; killing it", timeout)
            self.process.kill()
            self.process.join(5)


def main(settings: Settings, wake: Doorbell, delivered: Doorbell, level: int, parent: int,
         pulse=None, updates=None) -> None:
    """The pipeline process: its own database connection, the same worker loop as ever."""
    _die_with(parent)
    stop = threading.Event()

    def on_term(_signum: int, _frame: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_term)   # from the main process, or from systemd to us all
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the main process, which stops us
    logs.configure(level, settings.log_format, settings.log_addresses, process="[pipeline]", key=settings.audit_key,
                   own_domain=settings.domain)
    db.connect(settings.database, audit_key=settings.audit_key)
    from gateway.mail import language

    language.warm()   # before the first claim: loading the model must not eat a lease
    # Named after the daemon (host:pid, see runtime.recovery); this daemon's only inbound
    # worker: whatever an earlier pipeline process of it held, it held when it died.
    owner = f"{socket.gethostname()}:{parent}:in"
    try:
        freed, _ = db.cluster.take_back(owner + "#")
        if freed:
            log.warning("took back %s stored message(s) from this daemon's pipeline process before", freed)
    except Exception:   # the database busy: they are taken again when their leases run out
        log.exception("could not take back the messages of this daemon's pipeline process before")
    renderer = Renderer(settings.templates)
    inbound = worker.InboundWorker(settings, SystemClock(), renderer, owner, delivered=delivered, wake=wake)

    def between() -> None:
        if pulse is not None:
            pulse.value = time.monotonic()
        while updates is not None and not updates.empty():
            new = updates.get()
            changed = config.apply_reload(settings, new)
            renderer.reload(settings.templates)
            log.info("pipeline: configuration reloaded (%s)", ", ".join(changed) or "templates re-read")
    worker.run_loop(inbound, wake, stop, settings.poll_seconds, between)


def _die_with(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies, however it dies; name it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(NAME), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the main process's clean stop still ends us
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
