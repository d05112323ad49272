"""The SMTP door's event loop: asyncio's own, except for how the listening socket accepts
when the process has run out of file descriptors.

asyncio (3.11; selector_events._accept_connection) tries up to 100 accepts each time the
listening socket is readable. When one fails with EMFILE it logs "socket.accept() out of
system resource" with a traceback, stops watching the socket and schedules a retry a
second later, and then goes on with the next of its 100 tries, which fail the same way:
a hundred tracebacks and a hundred retries for one event, and each retry does it again.
That is what wrote `Too many open files` 456,001 times (203 MB of log in 20 seconds).

Here the first failure ends the round: nothing is logged by the loop itself, the door is
told (on_exhausted: it sums such failures up in one line a minute at most), the socket is
not watched for RETRY_SECONDS, then watched again. Connections wait meanwhile in the
kernel's listen queue and are taken as soon as descriptors are free again.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any, Callable

RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
RETRY_SECONDS = 0.5


class DoorLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose accept pauses once, quietly, when out of descriptors."""

    def __init__(self) -> None:
        super().__init__()
        self.on_exhausted: Callable[[OSError], None] = lambda exc: None

    def _accept_connection(self, protocol_factory: Callable, sock: socket.socket, sslcontext: Any = None,
                           server: Any = None, backlog: int = 100, *timeouts: Any) -> None:
        for _ in range(backlog):
            try:
                conn, addr = sock.accept()
                conn.setblocking(False)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return   # nothing more waiting
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRORS:
                    raise   # the loop logs it, as asyncio does
                self.on_exhausted(exc)
                self._remove_reader(sock.fileno())
                self.call_later(RETRY_SECONDS, self._resume, protocol_factory, sock, sslcontext, server,
                                backlog, *timeouts)
                return   # asyncio goes on trying here; one failure is enough to know
            self.create_task(self._accept_connection2(protocol_factory, conn, {"peername": addr},
                                                      sslcontext, server, *timeouts))

    def _resume(self, protocol_factory: Callable, sock: socket.socket, *rest: Any) -> None:
        if sock.fileno() < 0:   # the server was closed meanwhile
            return
        self._start_serving(protocol_factory, sock, *rest)
