#!/usr/bin/env python3
"""The door under idle connections: while N connections (default 1,000) that send nothing
are held open from one address (127.0.0.2), or spread over several (--spread K: 127.0.1.1 to
127.0.1.K), a genuine sender from 127.0.0.3 sends a message every two seconds for --seconds
(default 20). Reports how long each genuine message took from connect to 250 (or that it
was refused or timed out), how many idle connections the gateway took, refused with 421 or
left unanswered, and the size of the daemon's log.

The daemon runs under RLIMIT_NOFILE --nofile SOFT:HARD (default 1024:1024, systemd's
default soft limit, and a hard one it cannot raise: the harshest case). Targets: each
genuine message within 1 s, the log under 1 MB. Usage:
    .venv-test/bin/python bench/door.py [--idle N] [--spread K] [--nofile SOFT:HARD] [--seconds S]
                                   [--set KEY=VALUE ...]    (about 30 s)
"""

from __future__ import annotations

import argparse
import resource
import select
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, write_config  # noqa: E402

GENUINE = "127.0.0.3"


def start_gateway(folder: Path, nofile: tuple[int, int], smtp_keys: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = write_config(folder, smtp={"listen": f"127.0.0.1:{port}", **smtp_keys})
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "run"], cwd=ROOT,
                              stdout=log, stderr=log,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile))
    ends = time.monotonic() + 60
    while time.monotonic() < ends:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2, source_address=(GENUINE, 0)).close()
            return daemon, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the gateway did not listen on {port}: see {folder / 'daemon.log'}")


def open_idle(port: int, count: int, spread: int) -> list[socket.socket]:
    """`count` connections that will never say a word, from one address or `spread` of them.
    Opened fifty at a time, each fifty given up to half a second to be answered: a burst
    beyond the listen backlog would be dropped by the kernel (with SYN cookies the server
    never learns of a client that then stays silent), and the attack is on the process."""
    sockets: list[socket.socket] = []
    for n in range(count):
        source = "127.0.0.2" if spread <= 1 else f"127.0.1.{n % spread + 1}"
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((source, 0))
        sock.connect_ex(("127.0.0.1", port))
        sockets.append(sock)
        if len(sockets) % 50 == 0 or len(sockets) == count:
            settle(sockets[-50:], 0.5)
    return sockets


def genuine(port: int) -> tuple[str, float]:
    """One resident's message from another address: ("250", seconds) or what went wrong."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ann@example.net", "surgery@surgery.example.org", "Bikes"
    msg.set_content("They ride on the pavement near LL13 7AB.")
    started = time.perf_counter()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(GENUINE, 0)) as smtp:
            smtp.send_message(msg)
        return "250", time.perf_counter() - started
    except smtplib.SMTPConnectError as exc:
        return f"refused {exc.smtp_code}", time.perf_counter() - started
    except (OSError, smtplib.SMTPException) as exc:
        return f"failed ({type(exc).__name__})", time.perf_counter() - started


def heard_from(sockets: list[socket.socket]) -> list[socket.socket]:
    """The idle connections the gateway has said something to (or closed)."""
    poller = select.poll()
    for sock in sockets:
        poller.register(sock, select.POLLIN)
    ready = {fd for fd, _ in poller.poll(0)}
    return [sock for sock in sockets if sock.fileno() in ready]


def settle(sockets: list[socket.socket], seconds: float) -> None:
    """Wait until the gateway has answered every idle connection, or `seconds` have passed
    (a connection the kernel queued but the gateway never accepted hears nothing)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends and len(heard_from(sockets)) < len(sockets):
        time.sleep(0.2)


def answers(sockets: list[socket.socket]) -> dict[str, int]:
    """What each idle connection heard: the 220 greeting, a 421, or nothing at all."""
    tally = {"220 (taken)": 0, "421 (refused)": 0, "closed without a word": 0, "nothing (not accepted)": 0}
    ready = set(heard_from(sockets))
    for sock in sockets:
        try:
            data = sock.recv(512) if sock in ready else b""
        except OSError:
            data = b""
        if sock not in ready:
            tally["nothing (not accepted)"] += 1
        elif data.startswith(b"220"):
            tally["220 (taken)"] += 1
        elif data.startswith(b"421"):
            tally["421 (refused)"] += 1
        else:
            tally["closed without a word"] += 1
    return tally


def open_files(pid: int) -> int:
    try:
        return len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=int, default=1000, help="idle connections (default 1000)")
    ap.add_argument("--spread", type=int, default=1, help="over this many client addresses (default 1)")
    ap.add_argument("--nofile", default="1024:1024", help="the daemon's RLIMIT_NOFILE, SOFT:HARD")
    ap.add_argument("--seconds", type=float, default=20, help="how long the idle connections are held")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an [smtp] key")
    ap.add_argument("--keep", action="store_true", help="keep the daemon's folder and log")
    args = ap.parse_args()
    soft, _, hard = args.nofile.partition(":")
    nofile = (int(soft), int(hard or soft))
    own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]   # room for our own sockets
    wanted = args.idle + 256 if own_hard == resource.RLIM_INFINITY else min(args.idle + 256, own_hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, own_hard))
    folder = Path(tempfile.mkdtemp(prefix="gw-door-bench-"))
    daemon, port = start_gateway(folder, nofile, dict(kv.split("=", 1) for kv in args.set))
    idle: list[socket.socket] = []
    results: list[tuple[str, float]] = []
    try:
        idle = open_idle(port, args.idle, args.spread)
        settle(idle, 5)
        ends, peak = time.monotonic() + args.seconds, open_files(daemon.pid)
        while time.monotonic() < ends:
            results.append(genuine(port))
            peak = max(peak, open_files(daemon.pid))
            time.sleep(max(0.0, 2 - results[-1][1]))
        heard = answers(idle)
    finally:
        for sock in idle:
            sock.close()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    log = (folder / "daemon.log").read_bytes()
    report(args, nofile, results, heard, log, peak)
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def report(args, nofile, results, heard, log: bytes, peak: int) -> None:
    served = [seconds for outcome, seconds in results if outcome == "250"]
    where = "127.0.0.2" if args.spread <= 1 else f"{args.spread} addresses"
    print(f"{args.idle} idle connections from {where}, RLIMIT_NOFILE {nofile[0]}:{nofile[1]}, {args.seconds:g} s"
          + (f", {' '.join(args.set)}" if args.set else ""))
    print(f"genuine sender ({GENUINE}): {len(served)}/{len(results)} served", end="")
    if served:
        print(f", median {statistics.median(served):.3f} s, worst {max(served):.3f} s", end="")
    others = sorted({outcome for outcome, _ in results if outcome != "250"})
    print(f"; {', '.join(others)}" if others else "")
    print("idle connections: " + ", ".join(f"{count} {what}" for what, count in heard.items() if count)
          + f"; the daemon's open files: {peak} at most")
    lines = log.count(b"\n")
    print(f"daemon log: {len(log):,} bytes, {lines:,} lines")
    shown = set()
    for line in log.decode(errors="replace").splitlines():
        kind = next((w for w in ("refused", "could not accept", "RLIMIT", "out of system") if w in line), None)
        if kind and kind not in shown:
            shown.add(kind)
            print("   ", line[:220])
    fast = bool(served) and len(served) == len(results) and max(served) < 1
    print(f"targets: every message within 1 s: {'met' if fast else 'NOT met'}; "
          f"log under 1 MB: {'met' if len(log) < 1_000_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
