#!/usr/bin/env python3
"""IMAP intake rate: N messages waiting in a real Dovecot INBOX, taken in until it is empty.

Starts a throw-away Dovecot on loopback (Debian's dovecot-imapd, as root; the same fixture
the tests use), appends N resident messages (2 KB), then times the gateway's IMAP reader
draining the folder into a fresh SQLite store (synchronous=FULL) and moving every message
to Processed. Prints messages per second for each run and the median. Usage:
    .venv/bin/python bench/imap_intake.py [--messages 2000] [--runs 3]
Takes about 10 s per run (most of it appending the messages).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.clock import SystemClock  # noqa: E402
from gateway.inbound.imap import ImapIntake, connect  # noqa: E402
from tests.conftest import Harness  # noqa: E402
from tests.helpers import resident_mail  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

BODY = ("The streetlight outside number 12 Hill Street has been out for a week and the "
        "pavement is dark at night. ") * 14   # about 2 KB with headers


def one_run(messages: int) -> float:
    server = Dovecot().start()
    try:
        server.append(*(resident_mail(message_id=f"<bench-{n}@example.net>", subject=f"Light {n}",
                                      body=BODY).as_bytes() for n in range(messages)))
        harness = Harness(Path(tempfile.mkdtemp(prefix="gwbench")), imap=server.config(batch_size="100"))
        intake = ImapIntake(harness.settings, SystemClock())
        started = time.perf_counter()
        client = connect(harness.settings.imap)
        taken = intake.drain(client, intake._select(client))
        client.logout()
        elapsed = time.perf_counter() - started
        left = len(server.uids("INBOX"))
        if taken != messages or left:
            raise SystemExit(f"took in {taken} of {messages}; {left} left in INBOX")
        return messages / elapsed
    finally:
        server.remove()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rates = [one_run(args.messages) for _ in range(args.runs)]
    for n, rate in enumerate(rates, 1):
        print(f"run {n}: {args.messages} messages taken in at {rate:,.0f}/s")
    print(f"median: {statistics.median(rates):,.0f} messages/s (target: at least 100/s)")


if __name__ == "__main__":
    main()
