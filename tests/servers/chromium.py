"""Debian's Chromium, headless, driven over the DevTools protocol (a websocket, with aiohttp's
client): open a page, run a line of script in it, click, take a screenshot. No download."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.servers.lifeline import die_with_parent

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1000,700", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"]


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="gw-chromium-"))
        self.proc = subprocess.Popen([executable(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent())   # gone with the test process
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def run(self, steps):
        """Run `steps(page)` (an async function given a Page) to its end."""
        return asyncio.run(self._run(steps))

    async def _run(self, steps):
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{self.port}/json/list") as response:
                targets = await response.json()
            page_target = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page_target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                await page.call("Runtime.enable")
                return await steps(page)


class Page:
    def __init__(self, ws) -> None:
        self.ws, self.next_id, self.events, self.errors = ws, 0, [], []

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads((await self.ws.receive()).data)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._note(message)

    def _note(self, message: dict) -> None:
        self.events.append(message.get("method"))
        if message.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded"):
            self.errors.append(message)

    async def wait_for(self, event: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while event not in self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(event)
            message = json.loads((await asyncio.wait_for(self.ws.receive(), left)).data)
            self._note(message)
        self.events.remove(event)

    async def open(self, url: str) -> None:
        self.events.clear()
        await self.call("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def press(self, key: str) -> None:
        """A key pressed and released, as a keyboard would (Tab, Enter, Space)."""
        codes = {"Tab": (9, ""), "Enter": (13, "\r"), " ": (32, " ")}
        code, text = codes[key]
        common = {"key": key, "code": "Space" if key == " " else key, "windowsVirtualKeyCode": code}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    async def type_text(self, text: str) -> None:
        """Text typed into whatever has the focus."""
        await self.call("Input.insertText", text=text)

    async def set_files(self, selector: str, paths: list[Path]) -> None:
        """Files chosen in a file input, as a person would pick them."""
        root = (await self.call("DOM.getDocument"))["root"]["nodeId"]
        node = (await self.call("DOM.querySelector", nodeId=root, selector=selector))["nodeId"]
        await self.call("DOM.setFileInputFiles", files=[str(p) for p in paths], nodeId=node)

    async def width(self, pixels: int, height: int = 900) -> None:
        """The window's width in CSS pixels (a phone's below 600)."""
        await self.call("Emulation.setDeviceMetricsOverride", width=pixels, height=height, deviceScaleFactor=1,
                        mobile=pixels < 600)

    async def run_async(self, expression: str):
        """Evaluate an expression whose value is a promise; its settled value."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    async def screenshot(self, path: Path, full_page: bool = False) -> None:
        """The viewport; with full_page, the whole page however long."""
        options = {}
        if full_page:
            size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
            options = {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}
        data = await self.call("Page.captureScreenshot", format="png", **options)
        path.write_bytes(base64.b64decode(data["data"]))


def available() -> bool:
    return executable() is not None and os.geteuid() >= 0
