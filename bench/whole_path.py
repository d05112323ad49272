#!/usr/bin/env python3
"""The whole path under a burst: N resident messages in by SMTP (Postfix's smtp-source, 50
sessions), a forward to the team and an acknowledgement to the resident out for each, to
Postfix's smtp-sink. Prints cases per second from the first accept to the last delivery and
the 99th-percentile time from accept to the team's copy being delivered.
Targets: at least 200 cases/s; p99 under 2 s. Then, with the gateway stopped, the same burst
into a bare aiosmtpd that discards everything (bench/bare_smtpd.py): the stack's limit, and
the whole path's rate as a share of it.

smtp-source sends every message from one address, so the per-sender limits (meant for one
resident writing too often) are turned off for the run (0), as if 10,000 residents wrote at
once: with real residents each limit counts a handful of rows; left on, with the limits
raised, they would count every earlier message of the one sender. The hourly cap on all
acknowledgements ([limits] acks_per_hour, 500) is off too: the burst is 10,000 residents.
Every message's sender is checked (SPF and DMARC for example.net) against the test world's
DNS server on loopback (tests/servers/dns.py), running in this process.
Needs Debian's postfix. Usage: .venv/bin/python bench/whole_path.py [--messages N] [--dkim]  (~45 s at 10,000)
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.smtp_intake import wait_listening  # noqa: E402
from tests.helpers import free_port, write_config  # noqa: E402


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def load(port: int, messages: int) -> float:
    """smtp-source's burst: 50 sessions, many messages each, 2 KB; messages per second."""
    started = time.perf_counter()
    subprocess.run([shutil.which("smtp-source") or "/usr/sbin/smtp-source", "-s", "50", "-m", str(messages),
                    "-l", "2048", "-d", "-f", "resident@example.net", "-t", "surgery@surgery.example.org",
                    f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL, timeout=900)
    return messages / (time.perf_counter() - started)


def bare(messages: int) -> float:
    """The same burst into a bare aiosmtpd that discards everything (after the gateway stopped)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_smtpd.py"), str(port)])
    try:
        wait_listening(port)
        return load(port, messages)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--dkim", action="store_true", help="DKIM-sign every outgoing message (RSA 2048)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gw-path-bench-"))
    signing = {}
    if args.dkim:
        from gateway.trust.dkim import new_key

        (folder / "dkim.key").write_bytes(new_key(2048)[0])
        signing = {"dkim": {"domain": "surgery.example.org", "selector": "bench", "key_file": "dkim.key"}}
    sink_port, port = free_port(), free_port()
    sink = subprocess.Popen([shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", "-u", "nobody",
                             f"127.0.0.1:{sink_port}", "1024"])
    config = write_config(folder, smtp={"listen": f"127.0.0.1:{port}"},
                          relay={"host": "127.0.0.1", "port": str(sink_port)},
                          worker={"delivery_workers": str(args.workers), "poll_seconds": "0.2"},
                          limits={"acks_per_sender_per_day": "0", "new_cases_per_sender_per_hour": "0",
                                  "acks_per_hour": "0"}, **signing)
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "run"], cwd=ROOT,
                              stdout=log, stderr=log)
    database = folder / "var" / "gateway.db"
    try:
        wait_listening(port)
        load(port, args.messages)
        deadline = time.monotonic() + 900
        with sqlite3.connect(database, timeout=30) as conn:
            while time.monotonic() < deadline:
                sent = conn.execute("select count(*) from outbound where state = 'sent'").fetchone()[0]
                if sent >= 2 * args.messages:
                    break
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited: see {folder / 'daemon.log'}")
                time.sleep(0.5)
            else:
                raise SystemExit(f"only {sent} of {2 * args.messages} delivered")
            first = when(conn.execute("select min(received_at) from inbound").fetchone()[0])
            last = when(conn.execute("select max(sent_at) from outbound").fetchone()[0])
            cases = conn.execute('select count(*) from "case"').fetchone()[0]
            waits = sorted((when(sent_at) - when(received)).total_seconds() for received, sent_at in conn.execute(
                "select i.received_at, o.sent_at from outbound o join inbound i on o.inbound_id = i.id "
                "where o.purpose = 'team_new_case'"))
        seconds = (last - first).total_seconds()
        p99 = waits[int(len(waits) * 0.99) - 1]
        print(f"{args.messages:,} messages in, {cases:,} cases, {2 * args.messages:,} delivered in {seconds:.1f} s")
        print(f"cases per second, first accept to last delivery: {cases / seconds:,.0f} (target >= 200)")
        print(f"accept to team copy delivered: median {waits[len(waits) // 2]:.2f} s, p99 {p99:.2f} s "
              f"(target < 2 s), max {waits[-1]:.2f} s")
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        bare_rate = bare(args.messages)
        print(f"the stack's limit: the same load into a bare aiosmtpd that discards it, {bare_rate:,.0f} messages/s; "
              f"the whole path runs at {cases / seconds / bare_rate:.2f} of it")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
