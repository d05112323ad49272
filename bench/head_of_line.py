#!/usr/bin/env python3
"""Head-of-line blocking: N resident messages From a domain whose DNS never answers
(silent.example in tests/servers/dns.py: its queries are read and never replied to), then
one urgent message ("a man with a knife") from a resident of a domain whose DNS answers,
once a first message (from a third domain) has been answered.
Prints the seconds from the urgent message's acceptance (SMTP 250) to its acknowledgement
and to the team's copy arriving at the relay (an aiosmtpd on loopback), and to the last of
the N slow ones being handled. Target: the urgent acknowledgement within 2 s, whatever N.
The daemon runs at the shipped defaults ([trust] dns_timeout_seconds = 3, lease 300 s)
against the test world's DNS server on loopback, in this process.
Usage: .venv-test/bin/python bench/head_of_line.py [--slow N] [--runs K]   (~40 s a run at 20)
"""

from __future__ import annotations

import argparse
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.smtp_intake import wait_listening  # noqa: E402
from tests.conftest import Relay  # noqa: E402
from tests.helpers import free_port, url_rows, write_config  # noqa: E402

URGENT = "bob@example.net"
WARM = "warm@evil.example"   # another domain than either, whose DNS answers


def mail(sender: str, n: int, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "surgery@surgery.example.org", subject
    msg["Message-ID"] = f"<hol{n}.{time.time_ns()}@{sender.partition('@')[2]}>"
    msg.set_content(body)
    return msg


def first_arrival(relay: Relay, test, deadline: float) -> float:
    """The monotonic time the first relay message passing `test` is seen (polled every 10 ms)."""
    while time.monotonic() < deadline:
        if any(test(m) for m in relay.messages()):
            return time.monotonic()
        time.sleep(0.01)
    raise SystemExit("the message awaited never arrived at the relay")


def one_run(slow: int, timeout: float, keep: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="gw-hol-bench-"))
    relay = Relay().start()
    port = free_port()
    config = write_config(folder, smtp={"listen": f"127.0.0.1:{port}"},
                          relay={"host": "127.0.0.1", "port": str(relay.port)},
                          worker={"lease_seconds": "300", "poll_seconds": "1", "delivery_workers": "4"},
                          trust={"dns_timeout_seconds": str(timeout)})
    log = open(folder / "daemon.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "run"], cwd=ROOT,
                            stdout=log, stderr=log)
    url = f"sqlite:///{folder}/var/gateway.db"
    try:
        wait_listening(port)
        # A first message, answered before the measure begins: the pipeline process is up
        # (it loads its language model before its first claim, some seconds on a busy machine).
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail(WARM, ["surgery@surgery.example.org"], mail(WARM, -1, "Hello", "Just saying hello.").as_bytes())
        first_arrival(relay, lambda m: WARM in (m["To"] or ""), time.monotonic() + 120)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for n in range(slow):
                sender = f"r{n}@silent.example"
                smtp.sendmail(sender, ["surgery@surgery.example.org"],
                              mail(sender, n, "Parking", "Cars parked on the pavement again.").as_bytes())
            smtp.sendmail(URGENT, ["surgery@surgery.example.org"],
                          mail(URGENT, slow, "Help", "A man with a knife is outside my door right now.").as_bytes())
        accepted = time.monotonic()
        limit = accepted + 120 + slow * timeout
        ack = first_arrival(relay, lambda m: URGENT in (m["To"] or ""), limit)
        team = first_arrival(relay, lambda m: (m["Subject"] or "").startswith("[URGENT]"), limit)
        while time.monotonic() < limit:
            done = url_rows(url, "select count(*) from inbound where state = 'done'")[0][0]
            if done >= slow + 2:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"only {done} of {slow + 2} handled: see {folder}/daemon.log")
        finished = time.monotonic()
        handled = url_rows(url, "select count(*), count(distinct message_id) from inbound where state = 'done'")[0]
        return {"ack": ack - accepted, "team": team - accepted, "slow_done": finished - accepted,
                "handled": handled}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        relay.stop()
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", type=int, default=20, help="messages from the silent domain first (default 20)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the daemon's folder (its log) of each run")
    ap.add_argument("--dns-timeout", type=float, default=3.0, help="[trust] dns_timeout_seconds (default 3)")
    args = ap.parse_args()
    from tests.servers.dns import shared

    shared()   # the test world's DNS server, with silent.example, in this process
    results = []
    for run in range(args.runs):
        result = one_run(args.slow, args.dns_timeout, args.keep)
        results.append(result)
        print(f"run {run + 1}: {args.slow} slow then 1 urgent: urgent acknowledgement at the relay after "
              f"{result['ack']:.2f} s, team copy {result['team']:.2f} s; all {args.slow} slow handled after "
              f"{result['slow_done']:.2f} s; inbound done (rows, distinct Message-IDs): {result['handled']}",
              flush=True)
    print(f"median urgent acknowledgement {statistics.median(r['ack'] for r in results):.2f} s, team copy "
          f"{statistics.median(r['team'] for r in results):.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
