"""Screenshots of the online surgery form (issue 27) for README.md and docs/form/, and
axe-core's findings on each page shown (docs/form/axe-results.json).

    .venv-test/bin/python tools/form_screenshots.py [--out docs/form]

Starts the daemon with [http] form = on over loopback (a relay of its own, a database in a
temporary folder), opens the form in Debian's headless Chromium at 1280 and 375 pixels wide,
in English and in Welsh: the empty form, a mistake, the confirmation, and the confirmation
of a message about danger. Needs chromium and axe-core (npm install --prefix tests/.node axe-core@4).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import GatewayProcess, Relay   # noqa: E402
from tests.helpers import free_port, write_config   # noqa: E402
from tests.integration.web.form_client import AREAS   # noqa: E402
from tests.servers import axe, chromium   # noqa: E402

MESSAGES = {"en": "Cars park on the pavement on Hope Street every evening, so my son's wheelchair cannot pass.",
            "cy": "Mae ceir yn parcio ar y palmant ar Stryd Hope bob nos, felly ni all cadair olwyn fy mab basio."}
DANGER = {"en": "There is a man with a knife outside my house now.", "cy": "Mae dyn efo cyllell tu allan i'r tŷ rŵan."}


def shots(base: str, out: Path) -> dict:
    found: dict = {}

    async def steps(page):
        for lang in ("en", "cy"):
            for width in (1280, 375):
                await page.width(width)
                await page.open(f"{base}/surgery?lang={lang}")
                found[f"form-{lang}"] = await axe.check(page)
                await page.screenshot(out / f"form-{lang}-{width}.png", full_page=True)
                await _send(page, "", "not an address")
                found[f"error-{lang}"] = await axe.check(page)
                await page.screenshot(out / f"error-{lang}-{width}.png", full_page=True)
                await page.open(f"{base}/surgery?lang={lang}")
                await _send(page, MESSAGES[lang], f"resident.{lang}{width}@example.net")
                found[f"confirmation-{lang}"] = await axe.check(page)
                await page.screenshot(out / f"confirmation-{lang}-{width}.png", full_page=True)
            await page.open(f"{base}/surgery?lang={lang}")
            await _send(page, DANGER[lang], f"danger.{lang}@example.net")
            found[f"urgent-{lang}"] = await axe.check(page)
            await page.screenshot(out / f"urgent-{lang}-375.png", full_page=True)

    browser = chromium.Browser()
    try:
        browser.run(steps)
    finally:
        browser.close()
    return found


async def _send(page, message: str, email: str) -> None:
    await page.evaluate(f"document.querySelector('#message').value = {json.dumps(message)};"
                        f"document.querySelector('#email').value = {json.dumps(email)};"
                        "document.querySelector('button').click()")
    await page.wait_for("Page.loadEventFired")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "form")
    args = parser.parse_args()
    if not chromium.available() or axe.script() is None:
        print("needs Debian's chromium and axe-core (npm install --prefix tests/.node axe-core@4)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        relay = Relay().start()
        smtp_port, http_port = free_port(), free_port()
        path = write_config(Path(folder), **AREAS, smtp={"listen": f"127.0.0.1:{smtp_port}"},
                            relay={"host": "127.0.0.1", "port": str(relay.port)},
                            http={"listen": f"127.0.0.1:{http_port}", "base_url": f"http://127.0.0.1:{http_port}",
                                  "form": "on", "form_min_seconds": "0", "form_per_client_per_hour": "0"})
        daemon = GatewayProcess(path, smtp_port).start()
        try:
            found = shots(f"http://127.0.0.1:{http_port}", args.out)
        finally:
            daemon.stop()
            relay.stop()
    summary = {page: {"axe-core": result["version"], "violations": result["violations"], "passes": result["passes"],
                      "incomplete": result["incomplete"]} for page, result in found.items()}
    (args.out / "axe-results.json").write_text(json.dumps({"tags": axe.TAGS, "pages": summary}, indent=1) + "\n")
    for page, result in summary.items():
        print(f"{page}: {len(result['violations'])} violations, {result['passes']} rules passed, "
              f"incomplete: {', '.join(result['incomplete']) or 'none'}")
    return 1 if any(r["violations"] for r in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
