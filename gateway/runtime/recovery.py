"""Taking back, at start, the work of a gateway process of this installation that is gone.

Work is claimed with a lease ([worker] lease_seconds, 300 by default), so that the work of a
daemon that died is done by another once its leases run out. A daemon starting on the same
host need not wait for that: it can see that the daemon which holds the leases is gone (no
process has its pid here, or one has but its heartbeat stopped long ago: the pid was reused),
and frees that work at once, with the dead daemon's turns at scheduled work. Leases and turns
name their daemon as host:pid (db.cluster.daemon_of).

A daemon on another host keeps the lease rule: from here it cannot be told whether it is
gone or only cut off from the database for a while, and taking its work early could send its
mail twice. So daemons sharing a database must each have a host name of their own (give
each container its own hostname).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from gateway import db

log = logging.getLogger(__name__)
STALE_SECONDS = 60   # a heartbeat (every 10 s) this old, with its pid alive: the pid was reused


def running(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: it runs
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def gone(daemon: str, host: str, own: str, seen: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the daemon `daemon` (host:pid), of this host, has certainly stopped. `own` is the
    daemon asking: one that had its very pid before it (a container's daemon often has the same
    pid at each start) is gone too, since this one holds no work yet."""
    name, _, pid = daemon.partition(":")
    if name != host or not pid.isdigit():
        return False   # another host's: the lease rule
    if daemon == own or not running(int(pid)):
        return True
    return seen is not None and (db.utc(now) - db.utc(seen)).total_seconds() > STALE_SECONDS


def take_back(host: str, own: str, now: dt.datetime) -> int:
    """At a daemon's start, before its workers claim anything: free the work held by every
    daemon of this host that is gone; how many messages (stored and outgoing) were freed."""
    try:
        return sum(_forget(daemon) for daemon, seen in sorted(db.cluster.lease_holders(now).items())
                   if gone(daemon, host, own, seen, now))
    except Exception as exc:   # the database busy or away: the leases run out instead
        log.warning("could not take back the work of gateway processes that are gone (%s: %s); "
                    "it is taken again when its leases run out", type(exc).__name__, exc)
        return 0


def _forget(daemon: str) -> int:
    stored, outgoing = db.cluster.forget(daemon)
    if stored or outgoing:
        log.warning("took back the work of %s, which is gone: %s stored and %s outgoing message(s), "
                    "without waiting for their leases to run out", daemon, stored, outgoing)
    return stored + outgoing
