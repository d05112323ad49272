"""One-click unsubscribe over HTTP (RFC 8058) and a page a person can open.

  GET  /unsubscribe/<token>   a page with one button (a GET never unsubscribes: link
                              scanners and previews open links)
  POST /unsubscribe/<token>   ends every subscription of that resident at once; this is what
                              mail providers send for List-Unsubscribe-Post: One-Click
"""

from __future__ import annotations

import asyncio
import html
import logging

from aiohttp import web

from gateway import db
from gateway.mail.addresses import verify_token
from gateway.pipeline import without_message
from gateway.pipeline.alerts import unsubscribed_elsewhere
from gateway.render import Renderer

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


def routes(server) -> list[web.RouteDef]:
    page = Unsubscribe(server)
    return [web.get("/unsubscribe/{token}", page.page), web.post("/unsubscribe/{token}", page.unsubscribe)]


class Unsubscribe:
    """The two handlers; the secret that signs the links is read from the server's settings
    at each request."""

    def __init__(self, server):
        self.server = server

    def _subscriber(self, request: web.Request) -> db.people.Subscriber | None:
        value = verify_token(request.match_info["token"], "unsubscribe", self.server.settings.secrets)
        return db.people.subscriber(int(value)) if value else None

    async def page(self, request: web.Request) -> web.Response:
        subscriber = await asyncio.to_thread(self._subscriber, request)
        langs = _languages(request, subscriber)
        if subscriber is None:
            return _page(langs, "bad_title", lambda w: f"<p>{w['bad']}</p>", 404)
        address = html.escape(masked(subscriber.address))
        button = " / ".join(WORDS[lang]["button"] for lang in langs)
        action = f"?lang={langs[0]}" if len(langs) == 1 else ""
        return _page(langs, "ask_title", lambda w: f"<p>{w['ask'].format(address=address)}</p>",
                     tail=f'<form method="post" action="{action}"><button type="submit" style="font-size: 1.2em">'
                          f'{button}</button></form>')

    async def unsubscribe(self, request: web.Request) -> web.Response:
        await request.read()  # "List-Unsubscribe=One-Click" from providers, or the form's empty body
        subscriber = await asyncio.to_thread(self._subscriber, request)
        langs = _languages(request, subscriber)
        ended = await asyncio.to_thread(self._end, request, langs)
        if ended is None:
            return _page(langs, "bad_title", lambda w: f"<p>{w['bad']}</p>", 404)
        return _page(langs, "done_title", lambda w: f"<p>{w['done']}</p>")

    def _end(self, request: web.Request, langs: list[str]) -> int | None:
        subscriber = self._subscriber(request)
        if subscriber is None:
            return None
        now = self.server.clock.now()
        with db.atomic():
            ended = db.people.unsubscribe(subscriber.id, now)
            if ended:
                db.audit.append("unsubscribed", "resident (web page or one-click)", now, resident=subscriber.address,
                                summary=f"{ended} subscription(s) ended")
                # Confirmed by mail, as the mail route does (README), in the page's language.
                lang = langs[0] if len(langs) == 1 else subscriber.language or "en"
                context = without_message(self.server.settings, self.server.clock, Renderer(self.server.settings.templates))
                unsubscribed_elsewhere(context, subscriber, lang)
        log.info("subscriber %s unsubscribed over HTTP (%s subscription(s) ended)", subscriber.id, ended)
        return ended


def masked(address: str) -> str:
    """a***@example.net: enough for residents to know their own address, not enough for
    anyone holding a link (forwarded, or guessed when the secret was known) to learn it."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


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
