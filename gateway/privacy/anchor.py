"""The audit trail's anchor: its last record's id and hash, kept outside the database.

The chain of hashes (gateway/db/audit.py) shows a record edited, inserted or removed in the
middle, and the ids show one removed even when the chain was recomputed past it. Neither
shows the newest records deleted, or the whole chain recomputed, by someone who can write to
the database. An anchor does: each hour (one daemon of a cluster) and whenever a daemon stops,
the head's id and hash go to the log and are appended to [audit] anchor_file, one line each

    2026-12-03T14:00:00Z id=1234 hash=...

and once a day the newest goes by mail to [gateway] admin_address, to be kept where the
database's owner cannot reach it. `gateway audit verify [--anchor FILE]` checks the trail
against every line.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from gateway import db, pipeline
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail import compose
from gateway.pipeline import notify
from gateway.render import Renderer

log = logging.getLogger(__name__)
ANCHOR_JOB, MAIL_JOB = "audit_anchor", "audit_anchor_mail"
ANCHOR_EVERY, MAIL_EVERY = dt.timedelta(hours=1), dt.timedelta(days=1)
CHECK_SECONDS = 60      # how often a daemon looks whether the hour's anchor is due
TURN_SECONDS = 600      # how long a daemon holds the turn while it writes one
MAIL_PRIORITY = 2       # as the other notices to the administrators
LINE = re.compile(r"^(?P<at>\S+) id=(?P<id>\d+) hash=(?P<hash>\S+)$")


@dataclass(frozen=True)
class Anchor:
    at: str       # when it was written, as in the file (UTC, ISO 8601)
    id: int       # the last record's id then
    hash: str     # and its hash

    def line(self) -> str:
        return f"{self.at} id={self.id} hash={self.hash}"


def write(path: Path, now: dt.datetime, why: str) -> Anchor | None:
    """Log the trail's head and append it to the anchor file; None when the trail is empty.
    A file that cannot be written is logged as an error: the log still holds the anchor."""
    head = db.audit.head()
    if head is None:
        return None
    anchor = Anchor(f"{db.utc(now):%Y-%m-%dT%H:%M:%S}Z", *head)
    log.info("audit anchor (%s): %s", why, anchor.line())
    try:
        _append(path, anchor.line())
    except OSError as exc:
        log.error("audit anchor: cannot append to [audit] anchor_file %s: %s", path, exc.strerror or exc)
    return anchor


def _append(path: Path, line: str) -> None:
    """One write() of one line with O_APPEND, so daemons sharing the file never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(handle, (line + "\n").encode())
        os.fsync(handle)
    finally:
        os.close(handle)


def anchor_if_due(settings: Settings, clock: Clock, renderer: Renderer, owner: str) -> Anchor | None:
    """The hour's anchor, if no daemon of the cluster wrote one in the last hour and this one
    gets the turn; then the day's mail of it, if due. The anchor written, or None."""
    now = clock.now()
    last = db.cluster.last_done(ANCHOR_JOB)
    if last is not None and db.utc(now) - last < ANCHOR_EVERY:
        return None
    if not db.cluster.take_turn(ANCHOR_JOB, owner, now, TURN_SECONDS):
        return None
    anchor = write(settings.anchor_file, now, "hourly")
    db.cluster.done_turn(ANCHOR_JOB, owner, now)
    if anchor is not None:
        mail_if_due(settings, clock, renderer, owner, anchor)
    return anchor


def mail_if_due(settings: Settings, clock: Clock, renderer: Renderer, owner: str, anchor: Anchor) -> bool:
    """Mail the anchor to [gateway] admin_address if none went in the last day (one daemon
    of a cluster); True when it was queued."""
    now = clock.now()
    last = db.cluster.last_done(MAIL_JOB)
    if not settings.admin_address or (last is not None and db.utc(now) - last < MAIL_EVERY):
        return False
    if not db.cluster.take_turn(MAIL_JOB, owner, now, TURN_SECONDS):
        return False
    text = renderer.render("admin/audit_anchor", domain=settings.domain, line=anchor.line(), id=anchor.id,
                           anchor_file=settings.anchor_file)
    envelope = compose.Envelope(from_name="Surgery Gateway", from_address=settings.surgery_address,
                                to_address=settings.admin_address, auto_submitted="auto-generated")
    with db.atomic():
        notify.enqueue_without_case(pipeline.without_message(settings, clock, renderer), "admin_audit_anchor",
                                    envelope, f"Audit trail anchor: record {anchor.id}, {anchor.at}", text,
                                    MAIL_PRIORITY)
        db.cluster.done_turn(MAIL_JOB, owner, now)
    return True


def run_loop(settings: Settings, clock: Clock, renderer: Renderer, wake: threading.Event, owner: str,
             stop: threading.Event, _poll: float) -> None:
    """In the daemon: each hour, by one daemon of a cluster, anchor the trail (and mail it
    once a day); wake delivery after an anchor, whose mail may be waiting."""
    while not stop.is_set():
        try:
            if anchor_if_due(settings, clock, renderer, owner) is not None:
                wake.set()
        except Exception:
            log.exception("audit anchor: unexpected error; trying again")
        stop.wait(CHECK_SECONDS)


def on_stop(settings: Settings, now: dt.datetime) -> None:
    """A stopping daemon anchors the trail as it leaves it (never raises: it is stopping)."""
    try:
        write(settings.anchor_file, now, "stopping")
    except Exception:   # the database gone, say
        log.exception("audit anchor on stopping: could not read the trail's head")


# -- checking --------------------------------------------------------------------------------

def read(path: Path) -> tuple[list[Anchor], list[str]]:
    """The anchors in a file, oldest first, and a problem for each line that is not one
    (blank lines and # comments are allowed: a copy kept by hand may have them)."""
    anchors, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        found = LINE.match(text)
        if found:
            anchors.append(Anchor(found["at"], int(found["id"]), found["hash"]))
        else:
            problems.append(f"{path} line {number} is not an anchor (TIME id=N hash=H): {text[:80]!r}")
    return anchors, problems


def check(anchors: list[Anchor], verdict: db.audit.Verdict) -> list[str]:
    """What the trail, as `db.audit.verify(ids of the anchors)` found it, gets wrong against
    the anchors: it ends before the newest, or a record at an anchored id has another hash."""
    problems = []
    newest = max(anchors, key=lambda a: a.id, default=None)
    if newest is not None and verdict.last < newest.id:
        problems.append(f"the last record is {verdict.last} but the anchor of {newest.at} says {newest.id} "
                        "(records were deleted from the end)")
    by_id = {a.id: a for a in anchors}   # the last line naming an id speaks for it
    for number in sorted(by_id):
        found = verdict.at_ids.get(number)
        if found is not None and found != by_id[number].hash:
            problems.append(f"record {number}'s hash differs from the anchor's of {by_id[number].at} "
                            "(it, or a record before it, was changed and the chain recomputed)")
    return problems
