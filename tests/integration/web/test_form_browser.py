"""The online form in a real browser (Debian's Chromium, headless, over loopback), as a
resident uses it: by keyboard alone, in English and in Welsh, with and without an email
address, with a photo, and with mistakes the error summary names; axe-core (WCAG 2.2 A and
AA) on the form, its error state and its confirmation page. One daemon and one browser for
the module: these tests are few and share them (SQLite only: test_form.py runs the form on
both databases)."""

from __future__ import annotations

import asyncio
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess, Relay
from tests.helpers import db_rows, free_port, wait_for, write_config
from tests.integration.web.form_client import AREAS
from tests.servers import axe, chromium

ORDER = ["A", "TEXTAREA#message", "INPUT#email", "INPUT#no_email", "INPUT#phone", "INPUT#name", "INPUT#place",
         "SELECT#area", "INPUT#files", "BUTTON"]


@dataclass
class Site:
    base: str
    relay: Relay
    folder: Path


def _needed(what: str, present: bool, how: str) -> None:
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is needed for the browser tests ({how})")
    pytest.skip(f"{what} is not installed ({how})")


@pytest.fixture(scope="module")
def chromium_page():
    _needed("Debian's chromium", chromium.available(), "apt-get install chromium")
    _needed("axe-core", axe.script() is not None, "npm install --prefix tests/.node axe-core@4")
    opened = chromium.Browser()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("form-browser")
    relay = Relay().start()
    smtp_port, http_port = free_port(), free_port()
    path = write_config(folder, **AREAS, smtp={"listen": f"127.0.0.1:{smtp_port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)},
                        http={"listen": f"127.0.0.1:{http_port}", "base_url": f"http://127.0.0.1:{http_port}",
                              "form": "on", "form_min_seconds": "0", "form_per_client_per_hour": "0"})
    daemon = GatewayProcess(path, smtp_port)
    try:
        daemon.start()
        yield Site(f"http://127.0.0.1:{http_port}", relay, folder)
    finally:
        daemon.stop()
        relay.stop()


def violations(found: dict) -> list:
    return [(v["id"], v["nodes"]) for v in found["violations"]]


def test_by_keyboard_alone_in_english_with_an_email_address(site, chromium_page):
    async def steps(page):
        await page.width(1280)
        await page.open(f"{site.base}/surgery?lang=en")
        on_form = await axe.check(page)
        order = []
        for _ in ORDER:
            await page.press("Tab")
            order.append(await page.evaluate("document.activeElement.tagName + "
                                             "(document.activeElement.id ? '#' + document.activeElement.id : '')"))
        await page.open(f"{site.base}/surgery?lang=en")
        for key, text in (("Tab", None), ("Tab", "Someone keeps dumping rubbish behind the shops on Hope Street, LL13 7AB."),
                          ("Tab", "bryn@example.net")):
            await page.press(key)
            if text:
                await page.type_text(text)
        for _ in range(7):   # past the other fields, each reached in turn, to the button
            await page.press("Tab")
        assert await page.evaluate("document.activeElement.tagName") == "BUTTON"
        await page.press("Enter")
        await page.wait_for("Page.loadEventFired")
        shown = await page.evaluate("document.body.innerText")
        return on_form, order, shown, await axe.check(page), page.errors

    on_form, order, shown, on_confirmation, errors = chromium_page.run(steps)
    assert order == ORDER and violations(on_form) == [] and on_form["passes"] > 10
    assert re.search(r"Your reference is\s+SRG-\d{4}-\d{4}", shown) and "What happens next" in shown
    assert violations(on_confirmation) == [] and errors == []
    reference = re.search(r"SRG-\d{4}-\d{4}", shown).group(0)
    team = wait_for(lambda: site.relay.messages("hightown.npt@police.example"), 20, what="the team's copy")
    ack = wait_for(lambda: site.relay.messages("bryn@example.net"), 20, what="the acknowledgement")
    assert reference in team[-1]["Subject"] and reference in ack[-1]["Subject"]
    assert db_rows(site.folder, 'SELECT team, resident_address FROM "case" WHERE reference = ?', (reference,)) == [
        ("hightown", "bryn@example.net")]


@pytest.mark.parametrize("lang, summary, first_error", [
    ("en", "There is a problem", "Enter your message"),
    ("cy", "Mae problem", "Rhowch eich neges")])
def test_a_mistake_is_named_in_the_error_summary_which_takes_the_focus(site, chromium_page, lang, summary,
                                                                     first_error):
    async def steps(page):
        await page.width(375)
        await page.open(f"{site.base}/surgery?lang={lang}")
        await page.evaluate("document.querySelector('#email').value = 'not an address';"
                            "document.querySelector('button').click()")
        await page.wait_for("Page.loadEventFired")
        # Chromium moves focus to an autofocus element at its next rendering update, which on a
        # loaded machine can come just after the load event: wait for that (up to 5 s), not less.
        for _ in range(50):
            focused = await page.evaluate("document.activeElement.className")
            if focused:
                break
            await asyncio.sleep(0.1)
        shown = await page.evaluate("document.querySelector('.govuk-error-summary').innerText")
        title = await page.evaluate("document.title")
        return focused, shown, title, await axe.check(page)

    focused, shown, title, found = chromium_page.run(steps)
    assert "govuk-error-summary" in focused and shown.startswith(summary) and first_error in shown
    assert title.startswith("Error: " if lang == "en" else "Gwall: ")
    assert violations(found) == []


def test_in_welsh_without_email_and_with_a_photo(site, chromium_page, tmp_path):
    photo = tmp_path / "sbwriel.png"
    photo.write_bytes(_png())

    async def steps(page):
        await page.width(375)
        await page.open(f"{site.base}/surgery?lang=cy")
        await page.evaluate("document.querySelector('#message').value = 'Mae sbwriel ar y stryd ers wythnos.';"
                            "document.querySelector('#no_email').checked = true;"
                            "document.querySelector('#phone').value = '01632 960001';"
                            "document.querySelector('#area').value = 'rhosddu'")
        await page.set_files("#files", [photo])
        await page.evaluate("document.querySelector('button').click()")
        await page.wait_for("Page.loadEventFired")
        return await page.evaluate("document.documentElement.lang + '|' + document.body.innerText"), \
            await axe.check(page)

    shown, found = chromium_page.run(steps)
    assert shown.startswith("cy|") and "Neges wedi’i hanfon" in shown and "Byddwn yn eich ffonio" in shown
    assert violations(found) == []
    team = wait_for(lambda: [m for m in site.relay.messages("rhosddu.npt@police.example")
                             if "NO email" in m.get_body(("plain",)).get_content()], 20, what="the team's copy")[0]
    assert "sbwriel.png" in filenames(team)


def filenames(msg) -> list[str]:
    """The names of the files a message carries, inside an attached original too."""
    found = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            found += [name for inner in part.iter_parts() for name in filenames(inner)]
        elif part.get_filename():
            found.append(part.get_filename())
    return found


def _png() -> bytes:
    """A small real PNG (a grey square), as a phone's photo would be."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * 16 for _ in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
