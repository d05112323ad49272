"""Retention: what [retention] no longer keeps is deleted, once a day by one daemon of a
cluster (`gateway purge [--dry-run]` does it by hand)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from gateway import db
from gateway.clock import Clock
from gateway.config import Settings

log = logging.getLogger(__name__)
PURGE_JOB = "purge"
PURGE_EVERY = dt.timedelta(days=1)
CHECK_SECONDS = 3600


def policy(settings: Settings) -> db.privacy.Policy:
    r = settings.retention
    return db.privacy.Policy(r.closed_case_months, r.quarantine_days, r.bounce_days, r.ended_subscription_days)


def purge(settings: Settings, now: dt.datetime, actor: str, dry_run: bool = False) -> db.privacy.Purge:
    return db.privacy.purge(policy(settings), now, actor, dry_run)


def purge_if_due(settings: Settings, now: dt.datetime, owner: str) -> db.privacy.Purge | None:
    """The daily purge, if no daemon of the cluster has done it in the last day and this one
    gets the turn; what it deleted, or None when it was not this daemon's to do."""
    last = db.cluster.last_done(PURGE_JOB)
    if last is not None and db.utc(now) - last < PURGE_EVERY:
        return None
    if not db.cluster.take_turn(PURGE_JOB, owner, now, CHECK_SECONDS * 2):
        return None
    done = purge(settings, now, "gateway (retention)")
    db.cluster.done_turn(PURGE_JOB, owner, now)
    return done


def run_purge_loop(settings: Settings, clock: Clock, owner: str, stop: threading.Event, _poll: float) -> None:
    """In the daemon: once a day, and by one daemon of a cluster only, purge what [retention]
    no longer keeps. Looked at hourly, so a daemon that was down catches up within the hour."""
    while not stop.is_set():
        try:
            done = purge_if_due(settings, clock.now(), owner)
            if done is not None and done.total():
                log.info("retention: purged %s closed case(s), %s set-aside message(s), %s bounce record(s), "
                         "%s delivery row(s), %s ended subscription(s)", len(done.cases), done.set_aside,
                         done.bounces, done.deliveries, done.subscriptions)
        except Exception:
            log.exception("retention: unexpected error; trying again in an hour")
        stop.wait(CHECK_SECONDS)
