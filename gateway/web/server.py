"""One-click unsubscribe over HTTP (RFC 8058) and a page a person can open, served by aiohttp.

  GET  /unsubscribe/<token>   a page with one button (a GET never unsubscribes: link
                              scanners and previews open links)
  POST /unsubscribe/<token>   ends every subscription of that resident at once; this is what
                              mail providers send for List-Unsubscribe-Post: One-Click
  GET  /health                "ok", for a proxy or monitor
  GET  /healthz               200 "ok" when the database, the pipeline process and delivery
                              are alive; 503 with the reasons otherwise
  GET  /metrics               Prometheus's text format (gateway/metrics.py)

Only /unsubscribe is for the public: let the proxy forward that path alone.

Serve it behind the force's HTTPS proxy; [http] base_url is the address residents see.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading

from aiohttp import web

from gateway import db
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail.addresses import verify_token

log = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
<h1>{title}</h1>
{body}
<p>{emergency}</p>
</body></html>
"""
# The page in the resident's language (remembered on their record); both, Welsh first, when
# it is not known. ?lang=cy or ?lang=en chooses.
WORDS = {
    "en": {"ask_title": "Stop community alerts?", "ask": "Stop every community alert to <strong>{address}</strong>?",
           "button": "Unsubscribe", "done_title": "You are unsubscribed",
           "done": "You will receive no more community alerts. To sign up again, write to us at any time.",
           "bad_title": "Link not recognised",
           "bad": "This unsubscribe link is not valid. Please use the link in the latest alert you received.",
           "emergency": "Community alerts are not for emergencies. If a crime is happening now, or anyone is in "
                        "danger, dial 999. For anything else, call 101."},
    "cy": {"ask_title": "Atal rhybuddion cymunedol?",
           "ask": "Atal pob rhybudd cymunedol i <strong>{address}</strong>?", "button": "Dad-danysgrifio",
           "done_title": "Rydych wedi dad-danysgrifio",
           "done": "Ni fyddwch yn derbyn rhagor o rybuddion cymunedol. I ymuno eto, ysgrifennwch atom unrhyw bryd.",
           "bad_title": "Dolen heb ei hadnabod",
           "bad": "Nid yw'r ddolen dad-danysgrifio hon yn ddilys. Defnyddiwch y ddolen yn y rhybudd diwethaf a "
                  "gawsoch.",
           "emergency": "Nid yw rhybuddion cymunedol ar gyfer argyfyngau. Os oes trosedd yn digwydd nawr, neu os "
                        "oes unrhyw un mewn perygl, ffoniwch 999. Ar gyfer unrhyw beth arall, ffoniwch 101."},
}


class WebServer:
    """aiohttp on its own thread and event loop, beside the SMTP door."""

    def __init__(self, settings: Settings, clock: Clock, metrics=None, problems=None):
        self.settings, self.clock = settings, clock
        self.metrics = metrics        # gateway.metrics.Metrics: /metrics
        self.problems = problems      # () -> reasons this daemon is unhealthy: /healthz
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.thread: threading.Thread | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.add_routes([web.get("/unsubscribe/{token}", self.page), web.post("/unsubscribe/{token}", self.unsubscribe),
                        web.get("/health", self.health), web.get("/healthz", self.healthz),
                        web.get("/metrics", self.metrics_page)])
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

    def _subscriber(self, request: web.Request) -> db.people.Subscriber | None:
        value = verify_token(request.match_info["token"], "unsubscribe", self.settings.secret)
        return db.people.subscriber(int(value)) if value else None

    async def page(self, request: web.Request) -> web.Response:
        subscriber = await asyncio.to_thread(self._subscriber, request)
        langs = _languages(request, subscriber)
        if subscriber is None:
            return _page(langs, "bad_title", lambda w: f"<p>{w['bad']}</p>", 404)
        address = html.escape(subscriber.address)
        button = " / ".join(WORDS[lang]["button"] for lang in langs)
        action = f"?lang={langs[0]}" if len(langs) == 1 else ""
        return _page(langs, "ask_title", lambda w: f"<p>{w['ask'].format(address=address)}</p>",
                     tail=f'<form method="post" action="{action}"><button type="submit" style="font-size: 1.2em">'
                          f'{button}</button></form>')

    async def unsubscribe(self, request: web.Request) -> web.Response:
        await request.read()  # "List-Unsubscribe=One-Click" from providers, or the form's empty body
        subscriber = await asyncio.to_thread(self._subscriber, request)
        ended = await asyncio.to_thread(self._end, request)
        langs = _languages(request, subscriber)
        if ended is None:
            return _page(langs, "bad_title", lambda w: f"<p>{w['bad']}</p>", 404)
        return _page(langs, "done_title", lambda w: f"<p>{w['done']}</p>")

    def _end(self, request: web.Request) -> int | None:
        subscriber = self._subscriber(request)
        if subscriber is None:
            return None
        now = self.clock.now()
        with db.atomic():
            ended = db.people.unsubscribe(subscriber.id, now)
            if ended:
                db.audit.append("unsubscribed", "resident (web page or one-click)", now, resident=subscriber.address,
                                summary=f"{ended} subscription(s) ended")
        log.info("subscriber %s unsubscribed over HTTP (%s subscription(s) ended)", subscriber.id, ended)
        return ended

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def healthz(self, request: web.Request) -> web.Response:
        """200 "ok" when the database, the pipeline process and delivery are alive; else 503
        and the reasons, one per line."""
        reasons = await asyncio.to_thread(self.problems) if self.problems else []
        if reasons:
            return web.Response(status=503, text="".join(f"{r}\n" for r in reasons))
        return web.Response(text="ok\n")

    async def metrics_page(self, request: web.Request) -> web.Response:
        if self.metrics is None:
            raise web.HTTPNotFound()
        try:
            body = await asyncio.to_thread(self.metrics.exposition)
        except Exception as exc:   # the database down: say so, as a scrape failure
            log.warning("/metrics: could not read the figures: %s", exc)
            return web.Response(status=503, text=f"could not read the figures: {exc}\n")
        response = web.Response(body=body)
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response


def _languages(request: web.Request, subscriber: db.people.Subscriber | None) -> list[str]:
    asked = request.query.get("lang", "")
    if asked in WORDS:
        return [asked]
    known = subscriber.language if subscriber is not None else ""
    return [known] if known in WORDS else ["cy", "en"]


def _page(langs: list[str], title: str, body, status: int = 200, tail: str = "") -> web.Response:
    heading = " / ".join(html.escape(WORDS[lang][title]) for lang in langs)
    text = "".join(f'<div lang="{lang}">{body(WORDS[lang])}</div>' for lang in langs) + tail
    emergency = "</p><p>".join(WORDS[lang]["emergency"] for lang in langs)
    return web.Response(text=PAGE.format(lang=langs[0], title=heading, body=text, emergency=emergency),
                        status=status, content_type="text/html", charset="utf-8")
