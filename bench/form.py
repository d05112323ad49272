#!/usr/bin/env python3
"""The online form (issue 27): the time from the button (the HTTP POST of a filled form) to
the confirmation page, which comes only once the message is committed and, normally, the
pipeline has opened its case (the page waits up to gateway.web.form.WAIT_SECONDS for it, to
show the reference). N submissions one after another, each from a fresh page (its GET is
not timed), each a different resident; the relay is a loopback aiosmtpd that keeps nothing.
Prints the median and the 99th percentile, and how many confirmations carried a reference.

The per-client limit and the minimum time on the page are off for the run (one client sends
them all, at once); the per-address limits do not bite (every resident's address differs).
Usage: .venv-test/bin/python bench/form.py [--submissions N] [--attachment KB]  (~30 s at 200)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import GatewayProcess, Relay  # noqa: E402
from tests.helpers import free_port, write_config  # noqa: E402
from tests.integration.web.form_client import AREAS  # noqa: E402


async def submit_all(base: str, count: int, attachment: bytes) -> tuple[list[float], int]:
    times, referenced = [], 0
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:   # a host by IP
        for n in range(count):
            async with http.get(f"{base}/surgery?lang=en") as page:
                token = re.search(r'name="token" value="([^"]+)"', await page.text()).group(1)
            form = aiohttp.FormData()
            for name, value in (("token", token), ("lang", "en"), ("email", f"resident{n}@example.net"),
                                ("message", f"Cars on the pavement on Hope Street again, number {n}."),
                                ("place", "LL13 7AB")):
                form.add_field(name, value)
            if attachment:
                form.add_field("files", attachment, filename="photo.jpg", content_type="image/jpeg")
            started = time.perf_counter()
            async with http.post(f"{base}/surgery?lang=en", data=form) as answer:
                text = await answer.text()
            times.append(time.perf_counter() - started)
            assert answer.status == 200, (answer.status, text[:300])
            referenced += "Your reference is" in text
    return times, referenced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--attachment", type=int, default=0, help="KB of photo with each submission")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        relay = Relay().start()
        smtp_port, http_port = free_port(), free_port()
        path = write_config(Path(folder), **AREAS, smtp={"listen": f"127.0.0.1:{smtp_port}"},
                            relay={"host": "127.0.0.1", "port": str(relay.port)},
                            http={"listen": f"127.0.0.1:{http_port}", "base_url": f"http://127.0.0.1:{http_port}",
                                  "form": "on", "form_min_seconds": "0", "form_per_client_per_hour": "0"})
        daemon = GatewayProcess(path, smtp_port).start()
        try:
            base = f"http://127.0.0.1:{http_port}"
            asyncio.run(submit_all(base, 1, b""))   # the pipeline process warms up (its first message)
            times, referenced = asyncio.run(submit_all(base, args.submissions, b"\xff" * 1024 * args.attachment))
        finally:
            daemon.stop()
            relay.stop()
    times.sort()
    p99 = times[min(len(times) - 1, int(round(0.99 * len(times))) - 1)]
    print(f"{len(times)} submissions, button to confirmation page: median {statistics.median(times) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms; {referenced} pages gave the case reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
