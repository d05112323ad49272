"""Servers a test starts end with the test process, however it ends: Ctrl-C, SIGTERM, or
SIGKILL, where no atexit or finally runs. Two ways, for the two kinds of server:

- a child we exec ourselves (the daemon, Dovecot, Chromium) is armed with the kernel's
  parent-death signal (prctl PR_SET_PDEATHSIG) in its preexec_fn;
- PostgreSQL, which pg_ctl starts as a daemon of its own (parent 1, own session), gets a
  watchdog: a small process in its own session (so Ctrl-C does not end it first) that waits
  for the end of a pipe from us, which the kernel closes when we die, then stops the server."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

PR_SET_PDEATHSIG = 1

WATCHDOG = """
import json, shutil, subprocess, sys
sys.stdin.buffer.read()   # returns at EOF: the test process closed it or died
for argv in json.loads(sys.argv[1]):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


def die_with_parent(sig: int = signal.SIGTERM, then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A preexec_fn: the child gets `sig` when the process that started it dies (SIGTERM
    lets the daemon stop its own pipeline process); `then` runs after, e.g. setrlimit."""
    parent = os.getpid()

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:   # the parent died before the signal was armed
            os.kill(os.getpid(), sig)
        if then:
            then()
    return arm


class Watchdog:
    """Runs `commands` (argv lists) and removes `folder` once this process ends or `fire()`."""

    def __init__(self, commands: list[list[str]], folder: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WATCHDOG, json.dumps(commands), str(folder)],
                                     stdin=subprocess.PIPE, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fire(self, timeout: float = 60) -> None:
        """Stop now, and wait until it is done (a clean end of the test run)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout)
