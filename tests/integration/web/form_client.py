"""A resident's browser without the browser, for the online form's HTTP tests (and
bench/form.py): open /surgery, keep its cookie and token, press the button with some fields
and files. Plain HTTP over loopback with aiohttp's client; the Chromium tests use the real thing."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass, field

import aiohttp

from tests.helpers import free_port, wait_for, write_config

AREAS = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
         "area__rhosddu": {"name": "Rhosddu", "team": "rhosddu", "postcodes": "LL11 2"}}


def start_with_form(tmp_path, gateway_process, relay_port: int, http: dict | None = None, smtp: dict | None = None,
                    **sections):
    """The daemon with [http] form = on (no minimum time on the page unless `http` says),
    sending through the relay on `relay_port`; (daemon, base URL, config path)."""
    smtp_port, http_port = free_port(), free_port()
    path = write_config(tmp_path, **AREAS, smtp={"listen": f"127.0.0.1:{smtp_port}", **(smtp or {})},
                        relay={"host": "127.0.0.1", "port": str(relay_port)},
                        http={"listen": f"127.0.0.1:{http_port}", "base_url": f"http://127.0.0.1:{http_port}",
                              "form": "on", "form_min_seconds": "0", **(http or {})}, **sections)
    daemon = gateway_process(path, smtp_port)
    base = f"http://127.0.0.1:{http_port}"
    wait_for(lambda: FormClient(base).get("/healthz").status == 200, 60, what="the daemon healthy")
    return daemon, base, path


@dataclass
class Answer:
    status: int
    text: str
    headers: dict = field(default_factory=dict)


class FormClient:
    """One browser's worth of state: the form's cookie, the last page's token."""

    def __init__(self, base: str, headers: dict | None = None):
        self.base, self.headers = base, dict(headers or {})
        self.cookie, self.token = "", ""

    def get(self, path: str = "/surgery", headers: dict | None = None) -> Answer:
        answer = asyncio.run(self._request("GET", path, headers=headers))
        self._remember(answer)
        return answer

    def send(self, lang: str = "en", files: list[tuple[str, str, bytes]] = (), open_page: bool = True,
             headers: dict | None = None, **fields: str) -> Answer:
        """Open the page (unless told not to) and press its button with `fields` filled in."""
        if open_page:
            self.get(f"/surgery?lang={lang}", headers=headers)
        form = aiohttp.FormData()
        form.add_field("token", self.token)
        form.add_field("lang", lang)
        for name, value in fields.items():
            form.add_field(name, value)
        for name, content_type, data in files:
            form.add_field("files", data, filename=name, content_type=content_type)
        answer = asyncio.run(self._request("POST", f"/surgery?lang={lang}", data=form, headers=headers))
        self._remember(answer)
        return answer

    async def _request(self, method: str, path: str, data=None, headers: dict | None = None) -> Answer:
        sent = {**self.headers, **(headers or {})}
        if self.cookie:
            sent["Cookie"] = f"gw_form={self.cookie}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            async with http.request(method, self.base + path, data=data, headers=sent,
                                    allow_redirects=False) as response:
                return Answer(response.status, await response.text(), dict(response.headers))

    def _remember(self, answer: Answer) -> None:
        cookie = re.search(r"gw_form=([0-9a-f]+)", answer.headers.get("Set-Cookie", ""))
        token = re.search(r'name="token" value="([^"]+)"', answer.text)
        if cookie:
            self.cookie = cookie.group(1)
        if token:
            self.token = token.group(1)


def visible_text(page: str) -> str:
    """A page's words, tags dropped, for asserting what a resident reads."""
    text = re.sub(r"<(head|style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))
