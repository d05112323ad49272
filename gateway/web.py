"""One-click unsubscribe over HTTP (RFC 8058) and a page a person can open, served by aiohttp.

  GET  /unsubscribe/<token>   a page with one button (a GET never unsubscribes: link
                              scanners and previews open links)
  POST /unsubscribe/<token>   ends every subscription of that resident at once; this is what
                              mail providers send for List-Unsubscribe-Post: One-Click
  GET  /health                "ok", for a proxy or monitor

Serve it behind the force's HTTPS proxy; [http] base_url is the address residents see.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading

from aiohttp import web

from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail.addresses import verify_token
from gateway.models import Subscriber

log = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
<h1>{title}</h1>
{body}
<p>Community alerts are not for emergencies. If a crime is happening now, or anyone is in
danger, dial 999. For anything else, call 101.</p>
</body></html>
"""


class WebServer:
    """aiohttp on its own thread and event loop, beside the SMTP door."""

    def __init__(self, settings: Settings, clock: Clock):
        self.settings, self.clock = settings, clock
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.thread: threading.Thread | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.add_routes([web.get("/unsubscribe/{token}", self.page), web.post("/unsubscribe/{token}", self.unsubscribe),
                        web.get("/health", self.health)])
        return app

    def start(self) -> None:
        host, port = self.settings.http_listen
        self.runner = web.AppRunner(self.app(), access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, host, port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, name="http", daemon=True)
        self.thread.start()
        log.info("serving one-click unsubscribe on http://%s:%s (public address %s)", host, port,
                 self.settings.base_url)

    def stop(self) -> None:
        if self.thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.thread = None

    def _subscriber(self, request: web.Request) -> Subscriber | None:
        value = verify_token(request.match_info["token"], "unsubscribe", self.settings.secret)
        return Subscriber.get_or_none(Subscriber.id == int(value)) if value else None

    async def page(self, request: web.Request) -> web.Response:
        subscriber = await asyncio.to_thread(self._subscriber, request)
        if subscriber is None:
            return _page("Link not recognised", "<p>This unsubscribe link is not valid. Please use "
                         "the link in the latest alert you received.</p>", 404)
        return _page("Stop community alerts?", f"""
<p>Stop every community alert to <strong>{html.escape(subscriber.address)}</strong>?</p>
<form method="post"><button type="submit" style="font-size: 1.2em">Unsubscribe</button></form>""")

    async def unsubscribe(self, request: web.Request) -> web.Response:
        await request.read()  # "List-Unsubscribe=One-Click" from providers, or the form's empty body
        ended = await asyncio.to_thread(self._end, request)
        if ended is None:
            return _page("Link not recognised", "<p>This unsubscribe link is not valid.</p>", 404)
        return _page("You are unsubscribed", "<p>You will receive no more community alerts. "
                     "To sign up again, write to us at any time.</p>")

    def _end(self, request: web.Request) -> int | None:
        from gateway.pipeline.alerts import unsubscribe

        subscriber = self._subscriber(request)
        if subscriber is None:
            return None
        ended = unsubscribe(subscriber, self.clock.now())
        log.info("subscriber %s unsubscribed over HTTP (%s subscription(s) ended)", subscriber.id, ended)
        return ended

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=html.escape(title), body=body), status=status,
                        content_type="text/html", charset="utf-8")
