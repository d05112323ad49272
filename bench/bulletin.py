#!/usr/bin/env python3
"""A bulletin to a big area: enqueue time and memory, and delivery rate against a bare client.

1. `gateway subscribers import` of N subscribers (default 200,000) into a fresh SQLite store.
2. `gateway bulletin send --yes`: time to queue one outbox row per subscriber, and the CLI's
   peak RSS. Target: under 60 s and 300 MB.
3. `gateway run` against Postfix's smtp-sink: copies delivered per second, measured over
   `--deliver` copies after the first 1,000 (so start-up is not counted), and the daemon's
   peak RSS (main process plus its pipeline process and multiprocessing's resource tracker).
4. In the same run, a bare asyncio client (aiosmtplib) with the same number of connections
   sends the same number of similar copies to the same sink: the ratio of the two rates.
   Target: at least 0.5.

`--dkim` signs every copy (RSA 2048, `[dkim]` on), as a force that signs its mail does.

Needs Debian's postfix (for smtp-sink) and `pip install aiosmtplib` (the `bench` extra).
Usage: .venv-test/bin/python bench/bulletin.py [--subscribers N] [--deliver M] [--workers W] [--dkim]
About 2 minutes with the defaults; `--subscribers 20 --deliver 10` is the suite's smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
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

GATEWAY = [sys.executable, "-m", "gateway"]
BODY = ("Several cars were broken into on Hill Street and Park Road last night. Please do not "
        "leave bags or electronics on show, and lock your car even on your own drive. If you "
        "saw anyone acting suspiciously between midnight and 4am, call 101 quoting the "
        "reference below.\n\n") * 3


def timed(command: list[str], **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """(seconds, peak RSS in MB, result) of one command, measured by a wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:]); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
               "r.returncode, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True,
                            cwd=ROOT, **kwargs)
    seconds, rss_kb, code = result.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return float(seconds), int(rss_kb) // 1024, result


def start_sink() -> tuple[subprocess.Popen, int]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix (see ../shared/recipes/REAL_SERVERS.md)")
    port = free_port()
    sink = subprocess.Popen([binary, "-u", "nobody", f"127.0.0.1:{port}", "1024"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


def sent(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as conn:
        # Counted on the (state, ...) index alone: cheap, so polling steals little from the daemon.
        return conn.execute("select count(*) from outbound where state = 'sent'").fetchone()[0]


def peak_rss_mb(pid: int) -> int:
    """Peak RSS of a process plus its children's (the daemon's pipeline process and
    multiprocessing's resource tracker): the sum of their peaks, an upper bound."""
    total = 0
    try:
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
    except OSError:
        children = []
    for one in [pid, *children]:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total // 1024


def deliver(config: Path, database: Path, count: int, warmup: int = 1000) -> tuple[float, int]:
    """Copies per second over `count` deliveries after the first `warmup`; the daemon's peak RSS."""
    log = open(config.parent / "daemon.log", "wb")
    daemon = subprocess.Popen([*GATEWAY, "--config", str(config), "run"], cwd=ROOT, stdout=log, stderr=log)
    peak, marks = 0, {}
    try:
        while len(marks) < 2:
            done = sent(database)
            peak = max(peak, peak_rss_mb(daemon.pid))
            for threshold in (warmup, warmup + count):
                if done >= threshold and threshold not in marks:
                    marks[threshold] = time.perf_counter()
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited: see {config.parent / 'daemon.log'}")
            time.sleep(float(os.environ.get("POLL", "0.1")))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    return count / max(marks[warmup + count] - marks[warmup], 1e-6), peak


def bare(port: int, copies: list[bytes], workers: int) -> float:
    """The same number of similar copies sent by aiosmtplib over `workers` connections."""
    import aiosmtplib

    async def one_connection(chunk: list[bytes]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        for n, raw in enumerate(chunk):
            await client.sendmail("surgery@surgery.example.org", [f"r{n}@example.net"], raw)
        await client.quit()

    async def all_connections() -> None:
        await asyncio.gather(*(one_connection(copies[i::workers]) for i in range(workers)))

    started = time.perf_counter()
    asyncio.run(all_connections())
    return len(copies) / (time.perf_counter() - started)


def sample_copies(config: Path, count: int) -> list[bytes]:
    """Real personal copies of the bulletin, rendered as the gateway renders them."""
    from gateway import config as config_module, db
    from gateway.alerts.bulletins import Copies
    from gateway.db.models import Outbound
    from gateway.render import Renderer

    settings = config_module.load(config)
    db.connect(settings.database, audit_key=settings.audit_key)
    copies = Copies(settings, Renderer(settings.templates))
    rows = list(Outbound.select().where(Outbound.bulletin == 1).order_by(Outbound.id.desc()).limit(200))
    rendered = [copies(row) for row in rows]
    return [rendered[n % len(rendered)] for n in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=200_000)
    ap.add_argument("--deliver", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--dkim", action="store_true", help="DKIM-sign every copy (RSA 2048)")
    args = ap.parse_args()
    warmup = min(1000, args.subscribers // 10)   # start-up is not counted; a tiny run keeps a tenth
    if args.deliver > args.subscribers - warmup:
        raise SystemExit(f"--deliver {args.deliver} needs at least {args.deliver + warmup} subscribers")
    folder = Path(tempfile.mkdtemp(prefix="gw-bulletin-bench-"))
    sink, sink_port = start_sink()
    try:
        signing = {}
        if args.dkim:
            from gateway.trust.dkim import new_key

            (folder / "dkim.key").write_bytes(new_key(2048)[0])
            signing = {"dkim": {"domain": "surgery.example.org", "selector": "bench", "key_file": "dkim.key"}}
        config = write_config(folder, smtp={"listen": ""}, relay={"host": "127.0.0.1", "port": str(sink_port)},
                              worker={"delivery_workers": str(args.workers), "poll_seconds": "0.2"},
                              area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
                              http={"listen": f"127.0.0.1:{free_port()}", "base_url": "https://alerts.example.org"},
                              **signing)
        # Only `init` and `run` make the database (and the secret file); the commands below need both.
        timed([*GATEWAY, "--config", str(config), "init"])
        database = folder / "var" / "gateway.db"
        csv = folder / "subscribers.csv"
        with open(csv, "w") as handle:
            handle.write("address,name,areas\n")
            for n in range(args.subscribers):
                handle.write(f"r{n}@example.net,Resident {n},hightown\n")
        seconds, rss, _ = timed([*GATEWAY, "--config", str(config), "subscribers", "import", str(csv)])
        print(f"import {args.subscribers:,} subscribers: {seconds:.1f} s, peak RSS {rss} MB")
        (folder / "body.txt").write_text(BODY)
        seconds, rss, _ = timed([*GATEWAY, "--config", str(config), "bulletin", "send", "--area", "hightown",
                                 "--subject", "Car crime on Hill Street", "--body", str(folder / "body.txt"), "--yes"])
        print(f"enqueue bulletin to {args.subscribers:,}: {seconds:.1f} s (target < 60), "
              f"CLI peak RSS {rss} MB (target < 300)")
        rate, daemon_rss = deliver(config, database, args.deliver, warmup)
        print(f"gateway delivery to smtp-sink, {args.workers} connections{', DKIM-signed' if args.dkim else ''}: {rate:,.0f} copies/s "
              f"(daemon peak RSS {daemon_rss} MB)")
        baseline = bare(sink_port, sample_copies(config, args.deliver), args.workers)
        print(f"bare aiosmtplib, {args.workers} connections, same sink: {baseline:,.0f} copies/s")
        print(f"ratio: {rate / baseline:.2f} (target >= 0.5)")
    finally:
        sink.terminate()
        sink.wait()
        if not os.environ.get("KEEP"):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
