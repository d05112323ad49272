#!/usr/bin/env python3
"""The reminder check over many open cases (gateway/promise/reminders.py), on SQLite: N open cases
(default 10,000), the time of one check when nothing is due, when every case needs its
reminder (N messages queued), and the next check (all sent already: nothing written).
The daemon runs this check every [clock] check_seconds (60).
Usage: .venv-test/bin/python bench/reminders.py [--cases N]  (~20 s at 10,000)"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import db  # noqa: E402
from gateway.promise import reminders
from gateway.clock import FakeClock  # noqa: E402
from gateway.render import Renderer  # noqa: E402
from tests.helpers import ready_settings, write_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gw-remind-bench-"))
    try:
        settings = ready_settings(write_config(folder, clock={"digest_time": "off"}))
        db.connect(settings.database, audit_key=settings.audit_key)
        clock = FakeClock(dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc))
        db.migrate(clock.now())
        with db.atomic():
            for n in range(args.cases):
                db.cases.open_case(reference=f"SRG-2026-{n:05d}", team="hightown", resident_address=f"r{n}@example.net",
                                   resident_name="", subject="A case", language="en", opened_at=db.utc(clock.now()),
                                   due_date=dt.date(2026, 12, 8), updated_at=db.utc(clock.now()),
                                   clock_from=db.utc(clock.now()))
        renderer = Renderer()
        for label, moment in (("nothing due", dt.datetime(2026, 12, 2, 10, 0)),
                              ("every case reminded", dt.datetime(2026, 12, 7, 10, 0)),
                              ("all sent already", dt.datetime(2026, 12, 7, 10, 1))):
            clock._now = moment.replace(tzinfo=dt.timezone.utc)
            started = time.perf_counter()
            sent = reminders.check(settings, clock, renderer)
            print(f"{args.cases:,} open cases, {label}: {time.perf_counter() - started:.2f} s, {sent:,} queued")
    finally:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
