"""The HTTP server on [http] listen, served by aiohttp on its own thread and event loop beside
the SMTP door. Each page or endpoint is a module of this package with a `routes(server)`
function; the server adds them all:

  unsubscribe   GET and POST /unsubscribe/<token>: one-click unsubscribe (RFC 8058) and a
                page a person can open
  health        GET /health ("ok", for a proxy) and GET /healthz (the daemon's health)
  metrics       GET /metrics, Prometheus's text format
  form          GET and POST /surgery ([http] form = on): the online surgery form

Only /unsubscribe/ and /surgery are for the public: let the proxy forward those paths alone.
Serve it behind the force's HTTPS proxy; [http] base_url is the address residents see.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

from gateway.clock import Clock
from gateway.config import Settings
from gateway.web import form, health, metrics, unsubscribe

log = logging.getLogger(__name__)
PAGES = (unsubscribe, health, metrics, form)


class WebServer:
    """aiohttp on its own thread and event loop, beside the SMTP door. Pages read `settings`,
    `clock`, `metrics` and `problems` from it at each request."""

    def __init__(self, settings: Settings, clock: Clock, metrics=None, problems=None, wake=None):
        self.settings, self.clock = settings, clock
        self.wake = wake              # rung when the form has stored a message: the pipeline's doorbell
        self.metrics = metrics        # gateway.web.metrics.Metrics: /metrics
        self.problems = problems      # () -> reasons this daemon is unhealthy: /healthz
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.thread: threading.Thread | None = None

    def app(self) -> web.Application:
        # The form takes photos and documents: up to a mail's size ([smtp] max_message_bytes).
        size = self.settings.max_message_bytes + 64 * 1024 if self.settings.form else 64 * 1024
        app = web.Application(client_max_size=size)
        for page in PAGES:
            app.add_routes(page.routes(self))
        return app

    def start(self) -> None:
        host, port = self.settings.http_listen
        self.runner = web.AppRunner(self.app(), access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, host, port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, name="http", daemon=True)
        self.thread.start()
        log.info("serving one-click unsubscribe%s on http://%s:%s (public address %s)",
                 " and the online form (/surgery)" if self.settings.form else "", host, port, self.settings.base_url)

    def stop(self) -> None:
        if self.thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.thread = None
