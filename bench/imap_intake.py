#!/usr/bin/env python3
"""IMAP intake rate: N messages waiting in a real Dovecot INBOX, taken in until it is empty.

Starts a throw-away Dovecot on loopback (Debian's dovecot-imapd, as root; the same fixture
the tests use), appends N resident messages (2 KB), then times the gateway's IMAP reader
draining the folder into a fresh SQLite store (synchronous=FULL) and moving every message
to Processed. Then, in the same run and against the same server, a bare imapclient loop
does the same IMAP work with no store (fetch BODY.PEEK[] 100 at a time, MOVE them): the
ratio of the two is the gateway's share of what the stack allows. Prints both rates and the
ratio for each run, and the medians. Usage:
    .venv-test/bin/python bench/imap_intake.py [--messages 2000] [--runs 3]
Takes about 15 s per run (most of it appending the messages).
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


def bare_drain(settings_imap, messages: int) -> float:
    """The same fetch-and-move over the same server by imapclient alone; messages per second."""
    client = connect(settings_imap)
    client.select_folder("INBOX")
    if not client.folder_exists("Bare"):
        client.create_folder("Bare")
    started, taken = time.perf_counter(), 0
    while uids := client.search("ALL")[:100]:
        taken += len(client.fetch(uids, ["BODY.PEEK[]"]))
        client.move(uids, "Bare")
    elapsed = time.perf_counter() - started
    client.logout()
    if taken != messages:
        raise SystemExit(f"bare client took {taken} of {messages}")
    return messages / elapsed


def one_run(messages: int) -> tuple[float, float]:
    server = Dovecot().start()
    mail = [resident_mail(message_id=f"<bench-{n}@example.net>", subject=f"Light {n}", body=BODY).as_bytes()
            for n in range(messages)]
    try:
        server.append(*mail)
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
        server.append(*mail)
        return messages / elapsed, bare_drain(harness.settings.imap, messages)
    finally:
        server.remove()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run(args.messages) for _ in range(args.runs)]
    for n, (ours, bare) in enumerate(runs, 1):
        print(f"run {n}: {args.messages} messages taken in at {ours:,.0f}/s; bare imapclient {bare:,.0f}/s; "
              f"ratio {ours / bare:.2f}")
    print(f"median: {statistics.median(r[0] for r in runs):,.0f} messages/s (target: at least 100/s); "
          f"ratio to bare imapclient {statistics.median(r[0] / r[1] for r in runs):.2f}")


if __name__ == "__main__":
    main()
