#!/usr/bin/env python3
"""SMTP intake: Postfix's smtp-source into the gateway, and in the same run into a bare
aiosmtpd server that discards everything; accepted messages per second and the ratio.

2 KB and 20 KB messages, 1 and 50 concurrent sessions, one message per connection and many
(smtp-source -d). The gateway answers 250 only after the message is committed to SQLite
with synchronous=FULL; after each run the bench checks that every accepted message is in
the store. Target: at least 0.5 of the bare server at 50 sessions.

Flow control ([smtp] in_flow_delay) is off by default here, to measure the door itself:
with it on, as it is by default in the gateway, the door slows to the pipeline's pace once
100 messages wait, which is its purpose (give --in-flow-delay 1 to see that).
Needs Debian's postfix (smtp-source, smtp-sink). Usage:
    .venv-test/bin/python bench/smtp_intake.py [--messages N] [--in-flow-delay S]    (about 40 s)
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, write_config  # noqa: E402


def wait_listening(port: int, seconds: float = 60) -> None:
    """Wait for a daemon to listen on `port` (a minute: its start is slow on a busy machine)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def source(port: int, messages: int, size: int, sessions: int, keep_open: bool) -> float:
    """Messages per second smtp-source got accepted."""
    command = [shutil.which("smtp-source") or "/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(messages),
               "-l", str(size), "-f", "resident@example.net", "-t", "surgery@surgery.example.org",
               "-M", "bench.example.net", *(["-d"] if keep_open else []), f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)
    return messages / (time.perf_counter() - started)


def start_gateway(folder: Path, sink_port: int, in_flow_delay: float) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    config = write_config(folder, smtp={"listen": f"127.0.0.1:{port}", "max_message_bytes": "10485760",
                                        "in_flow_delay": str(in_flow_delay)},
                          relay={"host": "127.0.0.1", "port": str(sink_port)})
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "run"], cwd=ROOT,
                              stdout=log, stderr=log)
    wait_listening(port)
    return daemon, port, folder / "var" / "gateway.db"


def stored(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as conn:
        return conn.execute("select count(*) from inbound").fetchone()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000, help="per run at 50 sessions (a quarter at 1)")
    ap.add_argument("--in-flow-delay", type=float, default=0,
                    help="[smtp] in_flow_delay for the gateway (default 0: off, to measure the door itself)")
    args = ap.parse_args()
    sink_port = free_port()
    sink = subprocess.Popen([shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", "-u", "nobody",
                             f"127.0.0.1:{sink_port}", "1024"])
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_smtpd.py"), str(bare_port)])
    folder = Path(tempfile.mkdtemp(prefix="gw-intake-bench-"))
    daemon, port, database = start_gateway(folder, sink_port, args.in_flow_delay)
    wait_listening(bare_port)
    print(f"{'size':>6} {'sessions':>8} {'per connection':>15} {'gateway/s':>10} {'bare/s':>8} {'ratio':>6}")
    try:
        for size in (2048, 20480):
            for sessions in (1, 50):
                for keep_open in (False, True):
                    count = args.messages if sessions > 1 else args.messages // 4
                    before = stored(database)
                    ours = source(port, count, size, sessions, keep_open)
                    if stored(database) - before != count:
                        raise SystemExit(f"accepted {count}, stored {stored(database) - before}")
                    theirs = source(bare_port, count, size, sessions, keep_open)
                    print(f"{size // 1024:>5}K {sessions:>8} {'many' if keep_open else 'one':>15} "
                          f"{ours:>10,.0f} {theirs:>8,.0f} {ours / theirs:>6.2f}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        for process in (bare, sink):
            process.terminate()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
