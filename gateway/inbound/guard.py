"""Holding the SMTP door: how many sessions it keeps at once, in all and from one client,
and when a session that has gone quiet is closed.

A connection over a limit is answered `421 4.7.0` and closed at once, before any SMTP is
spoken and without a log line of its own: refusals are summed up in one line a minute at
most (Summary). A session that stays silent for [smtp] idle_timeout_seconds is told
`421 4.4.2` and closed.

What counts as silence, on aiosmtpd's timer (its `timeout`, started when the connection
is made): a client that connects and sends nothing; one that trickles a command a byte at
a time (only a complete, recognised command restarts the timer); and, in DATA, one that
sends less than MIN_DATA_RATE bytes a second on average (Postfix's smtpd_min_data_rate: a
large message from a slow but working sender is not cut off, a trickle is). While the
gateway itself is busy answering (flow control's pause, storing the message) the timer
stands still: the client is right to wait then. A client can always reconnect to hold its
place; what bounds any one client is the per-client limit, not the timer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from typing import Any, Callable

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)
MIN_DATA_RATE = 500     # bytes a second in DATA below which a session counts as idle
WINDOW_SECONDS = 60.0   # one summary line per this many seconds at most
MAX_DETAILS = 1000      # clients counted by name in one window (a flood from many /64s stays small)
REFUSALS = {
    "client": b"421 4.7.0 Too many connections from your address, try again later\r\n",
    "total": b"421 4.7.0 Too many connections, try again later\r\n",
}
IDLE = b"421 4.4.2 Idle for too long, closing the connection\r\n"


def peer_address(peer: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's IP address from a transport's peername (an IPv4-mapped IPv6 address as
    the IPv4 one), or None for anything else."""
    host = peer[0] if isinstance(peer, tuple) and peer else None
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str:
    """Whose connection it is, for the per-client limit: an IPv4 address, or an IPv6
    address's /64 (what one subscriber is usually given: per address, the limit would hold
    no one)."""
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Census:
    """The sessions open now, in all and per client. Touched only on the door's event loop."""

    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self.open = 0
        self.by_client: Counter = Counter()

    def admit(self, client: str, exempt: bool = False) -> str | None:
        """Count a new session in; or, over a limit, which one ("client" or "total")."""
        if not exempt and self.by_client[client] >= self.per_client:
            return "client"
        if self.open >= self.total:
            return "total"
        self.open += 1
        self.by_client[client] += 1
        return None

    def leave(self, client: str) -> None:
        self.open -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]


class Summary:
    """Events counted and logged summed up: the first event opens a window of
    WINDOW_SECONDS, whose total is logged (one WARNING line) when it closes, or at stop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, describe: Callable[[Counter, Counter], str],
                 window: float = WINDOW_SECONDS):
        self.loop, self.describe, self.window = loop, describe, window
        self.counts: Counter = Counter()
        self.details: Counter = Counter()
        self.timer: asyncio.TimerHandle | None = None

    def note(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        if detail and (detail in self.details or len(self.details) < MAX_DETAILS):
            self.details[detail] += 1
        if self.timer is None:
            self.timer = self.loop.call_later(self.window, self.flush)

    def flush(self) -> None:
        """Log what was counted (if anything) and start afresh."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.counts:
            log.warning("%s", self.describe(self.counts, self.details))
        self.counts, self.details = Counter(), Counter()


def describe_refusals(total: int, per_client: int) -> Callable[[Counter, Counter], str]:
    """The summary line for refused connections, naming the keys that set the limits."""
    def describe(counts: Counter, clients: Counter) -> str:
        n = sum(counts.values())
        parts = [f"{counts[k]} over {what}" for k, what in
                 (("client", f"the per-client limit, [smtp] max_connections_per_client = {per_client}"),
                  ("total", f"[smtp] max_connections = {total}")) if counts[k]]
        top, top_n = clients.most_common(1)[0] if clients else ("?", 0)
        return (f"refused {n} connection{'s' * (n != 1)} in the last minute ({'; '.join(parts)}); "
                f"most from {top} ({top_n})")
    return describe


def describe_exhaustion(total: int) -> Callable[[Counter, Counter], str]:
    """The summary line for accepts that failed for want of descriptors (gateway.inbound.accept)."""
    def describe(counts: Counter, errors: Counter) -> str:
        n, soft = sum(counts.values()), resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return (f"could not accept a connection {n} time{'s' * (n != 1)} in the last minute: "
                f"{', '.join(errors) or 'out of resources'} (this process may open {soft} files); "
                f"raise LimitNOFILE= in the systemd unit, or lower [smtp] max_connections = {total}")
    return describe


# Commands a session may send, each, before it is told 421 and closed (aiosmtpd's
# command_call_limit): NOOP and RSET keep an idle session alive (each resets the idle timer),
# so a few hundred connections holding the door could otherwise stay for ever; a session that
# tries thousands of recipients is probing, not delivering. "*": every other command.
COMMAND_LIMITS = {"NOOP": 10, "RSET": 100, "VRFY": 5, "EXPN": 5, "HELP": 5, "RCPT": 1000, "*": 1000}


class GuardedSMTP(SMTP):
    """aiosmtpd's SMTP session held to the door's limits (see the module's docstring).
    Leans on aiosmtpd 1.4's timer (_timeout_handle, _reset_timeout, _timeout_cb) and its
    handler call (_call_handler_hook); tests/integration/inbound/test_door.py pins them."""

    def __init__(self, handler: Any, *, census: Census, refusals: Summary,
                 exempt: Callable[[Any], bool] = lambda address: False, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.census, self.refusals, self.exempt = census, refusals, exempt
        self.client: str | None = None      # counted in the census while set
        self.refused = False
        self.reading_data, self.data_progress = False, 0
        self.progress_bytes = max(1, int(MIN_DATA_RATE * self._timeout_duration))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is not None:   # STARTTLS: the same session, counted already
            super().connection_made(transport)
            return
        address = peer_address(transport.get_extra_info("peername"))
        client = client_key(address)
        over = self.census.admit(client, self.exempt(address))
        if over:
            self.refused = True
            self.refusals.note(over, client)
            transport.write(REFUSALS[over])
            transport.close()
            return
        self.client = client
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.refused:
            return
        if self.client is not None:
            self.census.leave(self.client)
            self.client = None
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.reading_data:   # DATA: enough bytes since the last restart restart the timer
            self.data_progress += len(data)
            if self.data_progress >= self.progress_bytes:
                self.data_progress = 0
                self._reset_timeout()

    async def smtp_DATA(self, arg: str) -> None:
        self.reading_data, self.data_progress = True, 0
        try:
            await super().smtp_DATA(arg)
        finally:
            self.reading_data = False

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        # The gateway's own work (flow control, storing): the client waits for us, not idle.
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        try:
            return await super()._call_handler_hook(command, *args)
        finally:
            if self.transport is not None:
                self._reset_timeout()

    def _timeout_cb(self) -> None:
        if self.transport is not None:   # say why, as Postfix does, before closing
            self.transport.write(IDLE)
        super()._timeout_cb()
