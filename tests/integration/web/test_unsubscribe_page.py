"""The unsubscribe page in the resident's language, in a real browser (Debian's Chromium,
headless): it loads without errors, shows in Welsh for a Welsh subscriber and in both
languages for one whose language is unknown, its button posts, the confirmation shows.
Screenshots go to $GATEWAY_SCREENSHOTS (docs/ holds the last ones taken so), else tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.mail.addresses import token
from tests.helpers import BASE_CONFIG, db_rows
from tests.integration.alerts.test_bulletins import start
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database



def test_the_page_speaks_the_residents_language_and_its_button_unsubscribes(tmp_path, gateway_process, relay, browser):
    DOCS = Path(os.environ.get("GATEWAY_SCREENSHOTS", tmp_path))
    DOCS.mkdir(parents=True, exist_ok=True)
    daemon, _, http_port, path = start(tmp_path, gateway_process, relay.port)
    for address in ("sian@example.net", "someone@example.net"):
        assert gateway("--config", str(path), "subscribers", "add", address, "--area", "hightown").returncode == 0
    db_rows(tmp_path, "UPDATE subscriber SET language = 'cy' WHERE address = 'sian@example.net'")
    ids = dict(db_rows(tmp_path, "SELECT address, id FROM subscriber"))
    secret = BASE_CONFIG["gateway"]["secret"]

    async def welsh(page):
        await page.open(f"http://127.0.0.1:{http_port}/unsubscribe/{token('unsubscribe', ids['sian@example.net'], secret)}")
        before = await page.evaluate("document.documentElement.lang + '|' + document.body.innerText")
        await page.screenshot(DOCS / "unsubscribe-cy.png")
        await page.evaluate("document.querySelector('button').click()")
        await page.wait_for("Page.loadEventFired")
        after = await page.evaluate("document.body.innerText")
        await page.screenshot(DOCS / "unsubscribe-cy-done.png")
        return before, after, page.errors

    before, after, errors = browser.run(welsh)
    assert before.startswith("cy|") and "Atal rhybuddion cymunedol?" in before and "Dad-danysgrifio" in before
    assert "Stop community alerts" not in before
    assert "Rydych wedi dad-danysgrifio" in after and errors == []

    async def both(page):
        await page.open(f"http://127.0.0.1:{http_port}/unsubscribe/{token('unsubscribe', ids['someone@example.net'], secret)}")
        await page.screenshot(DOCS / "unsubscribe-both.png")
        return await page.evaluate("document.body.innerText")

    text = browser.run(both)
    assert text.index("Atal rhybuddion cymunedol?") < text.index("Stop community alerts?")   # Welsh first
    listed = gateway("--config", str(path), "subscribers", "list")
    assert "sian@example.net\t\thightown:ended" in listed.stdout and "someone@example.net\t\thightown:active" in listed.stdout
    trail = gateway("--config", str(path), "audit", "--resident", "sian@example.net").stdout
    assert "unsubscribed" in trail and "by resident (web page or one-click): 1 subscription(s) ended" in trail
    assert daemon.stop() == 0
