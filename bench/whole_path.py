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
With --backends sqlite,postgresql,postgresql2 the same burst goes through SQLite, through one
daemon on PostgreSQL, and through two daemons on one PostgreSQL (the burst split between their
ports), in one run; PostgreSQL is a throw-away server (tests/servers/postgres.py) with
synchronous_commit on.
Needs Debian's postfix (and postgresql for those runs).
Usage: .venv-test/bin/python bench/whole_path.py [--messages N] [--dkim] [--backends LIST]  (~45 s a run at 10,000)
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.smtp_intake import wait_listening  # noqa: E402
from tests.helpers import free_port, url_rows, write_config  # noqa: E402


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


def run(args, backend: str, daemons: int, pg=None) -> dict:
    """One burst through `daemons` daemons on `backend`; the figures."""
    folder = Path(tempfile.mkdtemp(prefix="gw-path-bench-"))
    signing = {}
    if args.dkim:
        from gateway.trust.dkim import new_key

        (folder / "dkim.key").write_bytes(new_key(2048)[0])
        signing = {"dkim": {"domain": "surgery.example.org", "selector": "bench", "key_file": "dkim.key"}}
    url = pg.database() if backend == "postgresql" else f"sqlite:///{folder}/var/gateway.db"
    sink_port = free_port()
    sink = subprocess.Popen([shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", "-u", "nobody",
                             f"127.0.0.1:{sink_port}", "1024"])
    procs, ports = [], []
    try:
        for n in range(daemons):
            port = free_port()
            home = folder / f"d{n}"
            home.mkdir()
            if signing:
                shutil.copy(folder / "dkim.key", home / "dkim.key")
            config = write_config(home, gateway={"database": url}, smtp={"listen": f"127.0.0.1:{port}",
                                                                  "max_connections_per_client": "100"},
                                  relay={"host": "127.0.0.1", "port": str(sink_port)},
                                  worker={"delivery_workers": str(args.workers), "poll_seconds": "0.2"},
                                  limits={"acks_per_sender_per_day": "0", "new_cases_per_sender_per_hour": "0",
                                          "auto_replies_per_address_per_day": "0", "acks_per_hour": "0"}, **signing)
            log = open(home / "daemon.log", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "run"],
                                          cwd=ROOT, stdout=log, stderr=log))
            ports.append(port)
            wait_listening(port)   # one at a time: the first creates the tables
        share = args.messages // daemons
        loaders = [threading.Thread(target=load, args=(port, share)) for port in ports]
        for loader in loaders:
            loader.start()
        for loader in loaders:
            loader.join()
        total = share * daemons
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            sent = url_rows(url, "select count(*) from outbound where state = 'sent'")[0][0]
            if sent >= 2 * total:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a daemon exited: see {folder}/d*/daemon.log")
            time.sleep(0.5)
        else:
            raise SystemExit(f"only {sent} of {2 * total} delivered")
        first = when(url_rows(url, "select min(received_at) from inbound")[0][0])
        last = when(url_rows(url, "select max(sent_at) from outbound")[0][0])
        cases = url_rows(url, 'select count(*) from "case"')[0][0]
        waits = sorted((when(sent_at) - when(received)).total_seconds() for received, sent_at in url_rows(url,
                       "select i.received_at, o.sent_at from outbound o join inbound i on o.inbound_id = i.id "
                       "where o.purpose = 'team_new_case'"))
        seconds = (last - first).total_seconds()
        return {"backend": backend, "daemons": daemons, "messages": total, "cases": cases, "seconds": seconds,
                "rate": cases / seconds, "median": waits[len(waits) // 2], "p99": waits[int(len(waits) * 0.99) - 1]}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def when(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--dkim", action="store_true", help="DKIM-sign every outgoing message (RSA 2048)")
    ap.add_argument("--backends", default="sqlite",
                    help="comma-separated runs: sqlite, postgresql (one daemon), postgresql2 (two daemons "
                         "on one PostgreSQL, the burst split between their ports); e.g. sqlite,postgresql,postgresql2")
    args = ap.parse_args()
    pg = None
    runs = [r.strip() for r in args.backends.split(",") if r.strip()]
    if any(r.startswith("postgresql") for r in runs):
        from tests.servers.postgres import Postgres

        pg = Postgres(durable=True).start()   # synchronous_commit on, as in production (fsync off: a tmpfs-like disk)
    results = []
    try:
        for name in runs:
            daemons = 2 if name == "postgresql2" else 1
            result = run(args, name.rstrip("2"), daemons, pg)
            results.append(result)
            print(f"{result['backend']}, {daemons} daemon(s): {result['messages']:,} messages in, "
                  f"{result['cases']:,} cases, {2 * result['messages']:,} delivered in {result['seconds']:.1f} s; "
                  f"{result['rate']:,.0f} cases/s (target >= 200); accept to team copy delivered: median "
                  f"{result['median']:.2f} s, p99 {result['p99']:.2f} s (target < 2 s)", flush=True)
    finally:
        if pg is not None:
            pg.remove()
    bare_rate = bare(args.messages)
    print(f"the stack's limit: the same load into a bare aiosmtpd that discards it, {bare_rate:,.0f} messages/s")
    for result in results:
        print(f"  {result['backend']} x{result['daemons']}: {result['rate'] / bare_rate:.2f} of it")


if __name__ == "__main__":
    main()
