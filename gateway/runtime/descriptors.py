"""Open files: at start the daemon makes sure it may hold [smtp] max_connections SMTP
sessions (one descriptor each) and what it needs besides (MARGIN). If its soft limit
(RLIMIT_NOFILE) is lower, it raises it as far as the hard limit allows; if that is still
too low, it says so, naming the key to lower and the unit line to raise, and runs anyway.

Why run anyway: the door holds when descriptors run out (gateway.inbound.accept): it
pauses accepting, logs one line a minute, and takes the waiting connections once
descriptors are free again. Refusing to start would turn a limit set too low into no mail
at all; a warning at start and in the log says what to change.
"""

from __future__ import annotations

import logging
import resource

from gateway.config import Settings

log = logging.getLogger(__name__)
# Besides the SMTP sessions: SQLite holds three files per connection (the database, its
# write-ahead log and shared memory) and each thread has its own connection (delivery
# workers, the committer, flow control's readers, reminders, retention...); then the relay's
# and DNS sockets, the IMAP connection, the web page's clients, the pipeline's pipes, the log.
MARGIN = 256
MIN_SESSIONS = 20   # fewer than this is no advice worth giving: raise the limit instead


def needed(settings: Settings) -> int:
    """The open files the daemon may need at most."""
    return settings.max_connections + MARGIN


def target(soft: int, hard: int, want: int) -> int:
    """The soft limit to set: unchanged if it is enough, else `want`, or the hard limit if
    that is lower (RLIM_INFINITY: no hard limit)."""
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    return want if hard == resource.RLIM_INFINITY else min(want, hard)


def ensure(settings: Settings) -> str | None:
    """Raise the soft limit on open files if the SMTP door needs it; a warning if it is
    still too low (also logged), else None."""
    want = needed(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = target(soft, hard, want)
    if new != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            log.info("raised the limit on open files from %d to %d ([smtp] max_connections = %d)",
                     soft, new, settings.max_connections)
            soft = new
        except (ValueError, OSError) as exc:
            log.info("could not raise the limit on open files from %d to %d: %s", soft, new, exc)
    if soft >= want:
        return None
    lower = (f"lower [smtp] max_connections to {soft - MARGIN} or less, or "
             if soft - MARGIN >= MIN_SESSIONS else "")
    warning = (f"this process may open {soft} files (RLIMIT_NOFILE; hard limit {_n(hard)}), but [smtp] "
               f"max_connections = {settings.max_connections} needs about {want}: {lower}raise LimitNOFILE= "
               f"in the systemd unit (contrib/surgery-gateway.service sets LimitNOFILE=8192). Until then, "
               f"once the files run out, new connections wait until sessions end")
    log.warning("%s", warning)
    return warning


def _n(limit: int) -> str:
    return "none" if limit == resource.RLIM_INFINITY else str(limit)
