"""Telling systemd how the daemon is (sd_notify(3)): READY=1 once it takes mail, STATUS=
lines, WATCHDOG=1 while its loops go round, RELOADING=1 and STOPPING=1. The protocol is one
datagram on the Unix socket named by $NOTIFY_SOCKET (an abstract one when it starts with
"@"); written here rather than taken from a library, as it is a few lines, and the one
small library for it (sdnotify) has not been released since 2017. Without $NOTIFY_SOCKET
(not under systemd, or Type=simple) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None):
        self.address = os.environ.get("NOTIFY_SOCKET", "") if address is None else address
        self.socket: socket.socket | None = None
        if self.address:
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self.socket is not None

    def send(self, *fields: str) -> None:
        if self.socket is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self.socket.sendto("\n".join(fields).encode("utf-8"), target)
        except OSError as exc:   # systemd gone, or the socket not ours: nothing to stop for
            log.debug("could not notify systemd at %s: %s", self.address, exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd (Type=notify-reload) tell this reload from an older one.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}",
                  "STATUS=reloading the configuration")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping: finishing the messages in hand")

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd set (WatchdogSec=), in seconds, when it is for us."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
