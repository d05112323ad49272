"""The online surgery form ([http] form = on): "type in your issue and press a button".

  GET  /                   to /surgery
  GET  /surgery            the page, in English or Welsh (?lang=, else Accept-Language)
  POST /surgery            the button: stored durably, then the confirmation page
  GET  /surgery/style.css  its only stylesheet (nothing is loaded from anywhere else)

Another door into the same pipeline: a submission becomes an ordinary stored message
(gateway.mail.form builds it; source "form"), stored and committed before the confirmation
page shows, as SMTP's 250 is given only once the message is on disk. The page then waits a
few seconds for the pipeline to open the case, to give its reference; if it is slower, the
page says the reference comes by email.

Against abuse: an anti-forgery token tied to a cookie, which also says when the page was
given (a form sent quicker than [http] form_min_seconds is shown again); a hidden field
people never fill (filled: stored, then quarantined by the pipeline); at most
[http] form_per_client_per_hour submissions from one client; the per-address [limits] of
mail apply in the pipeline. No CAPTCHA: it shuts out people with disabilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import traceback
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway import db
from gateway.mail import form as form_mail
from gateway.mail import urgency
from gateway.mail.parse import parse
from gateway.promise.dates import in_words
from gateway.render import PageRenderer, packaged_templates
from gateway.web import form_check, form_fallback, form_upload
from gateway.web.form_words import WORDS, language

log = logging.getLogger(__name__)
WAIT_SECONDS = 10.0      # for the pipeline to open the case, before saying "by email"
POLL_SECONDS = (0.005, 0.05)   # the first look soon after storing, then less often
MAX_WAITING = 50         # pages waiting for the pipeline at once; beyond, they answer at once (no reference)
COOKIE = "gw_form"
HOUR = dt.timedelta(hours=1)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def routes(server) -> list[web.RouteDef]:
    if server.settings.form is None:
        return []
    page = SurgeryForm(server)
    return [web.get("/", page.home), web.get("/surgery", page.show), web.post("/surgery", page.submit),
            web.get("/surgery/style.css", page.style)]


class SurgeryForm:
    """The handlers; settings and clock are read from the server at each request."""

    def __init__(self, server):
        self.server = server
        self.waiting = 0   # pages waiting for their case now (touched only on the server's event loop)
        self.locks: dict[str, tuple[asyncio.Lock, int]] = {}   # per client: (its lock, requests using it)
        self.pages = PageRenderer(server.settings.templates)
        self.css = (Path(packaged_templates()) / "web" / "surgery.css").read_bytes()

    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/surgery" + (f"?lang={request.query['lang']}" if request.query.get("lang") in WORDS else ""))

    async def style(self, request: web.Request) -> web.Response:
        return web.Response(body=self.css, content_type="text/css", headers={"Cache-Control": "max-age=3600"})

    async def show(self, request: web.Request) -> web.Response:
        lang = language(request.query.get("lang", ""), request.headers.get("Accept-Language", ""))
        return self._form(request, lang, form_check.Filled())

    async def submit(self, request: web.Request) -> web.Response:
        """The button; whatever goes wrong unexpectedly gives a plain page, never a bare 500, and
        a message already stored is said to be taken (it is: the pipeline will handle it)."""
        lang = language(request.query.get("lang", ""), request.headers.get("Accept-Language", ""))
        stored: dict = {}   # "id" once the message is committed
        try:
            return await self._submit(request, lang, stored)
        except web.HTTPException:
            raise
        except Exception as exc:  # whatever it is, the resident gets a page; no text of theirs is logged
            # where (the gateway's last line in it), not the message: that may hold the resident's words
            frames = traceback.extract_tb(exc.__traceback__)
            where = next((f for f in reversed(frames) if "/gateway/" in f.filename), frames[-1])
            log.error("the online form failed%s: %s at %s:%s", f" after storing inbound {stored['id']}" if stored else "",
                      type(exc).__name__, where.filename, where.lineno)
            return form_fallback.page(lang, HEADERS, self.server.settings.surgery_address, bool(stored),
                                      stored.get("phone_only", False))

    async def _submit(self, request: web.Request, lang: str, stored: dict) -> web.Response:
        try:
            post = await form_upload.read_post(request, self.server.settings.max_message_bytes + 64 * 1024)
        except web.HTTPRequestEntityTooLarge:   # what was typed cannot be read back: said plainly
            return self._form(request, lang, form_check.Filled(errors=[("files", "err_big")]), status=413)
        lang = str(post.get("lang", "")) if post.get("lang") in WORDS else lang
        filled, files, page = self._checked(request, post)
        if filled.errors:
            return self._form(request, lang, filled, status=400)
        client = self._client(request)
        submission = self._submission(filled, lang, files, request.cookies.get(COOKIE, ""))
        message_id = form_check.message_id(self.server.settings.secret, page, self.server.settings.domain)
        kept = await self._store_once(request, lang, filled, submission, client, message_id)
        if isinstance(kept, web.Response):
            return kept
        inbound_id, raw = kept
        stored.update(id=inbound_id, phone_only=submission.phone_only)
        if self.server.wake is not None:
            self.server.wake.set()
        return await self._confirmation(lang, inbound_id, message_id, submission, raw)

    async def _store_once(self, request: web.Request, lang: str, filled: form_check.Filled,
                          submission: form_mail.Submission, client: str, message_id: str):
        """(id, raw) of the stored message, or the page to show instead: the form again when
        this page was sent before with other words, "try again after" over the client's limit."""
        async with self._one_at_a_time(client):   # counted and stored as one step for each client
            earlier = await asyncio.to_thread(db.intake.first_with_message_id, message_id)
            if earlier is not None and self._same(earlier, submission, client):
                return earlier.id, bytes(earlier.raw)   # the same button pressed again: the first counts
            if earlier is not None:   # sent before with something else: say so, keep it, give a fresh page
                filled.errors.insert(0, ("message", "err_resent"))
                return self._form(request, lang, filled, status=409)
            inbound_id, raw, wait_until = await asyncio.to_thread(self._store, submission, client, message_id)
        if inbound_id is None:
            return self._page("try_later", lang, status=429, time=self._local(wait_until))
        log.info("stored inbound %s from the online form (client %s)", inbound_id, client)
        return inbound_id, raw

    def _checked(self, request: web.Request, post) -> tuple[form_check.Filled, list, str]:
        """The fields checked, the files, and the page's id; the token's problems first."""
        settings = self.server.settings
        filled = form_check.check(post, {a.key for a in settings.areas}, settings.domain)
        files = [f for f in post.getall("files", []) if isinstance(f, web.FileField) and f.filename]
        if len(files) > form_check.MAX_FILES:
            filled.errors.append(("files", "err_files"))
        page, age, problem = form_check.read_token(str(post.get("token", "")), request.cookies.get(COOKIE, ""),
                                                    settings.secrets, self.server.clock.now().timestamp())
        if problem:
            filled.errors.insert(0, ("message", f"err_{problem}"))
        elif age < settings.form.min_seconds and not filled.errors:
            filled.errors.append(("message", "err_quick"))   # quicker than a person: show it again
        return filled, files, page

    def _form(self, request: web.Request, lang: str, filled: form_check.Filled, status: int = 200) -> web.Response:
        settings = self.server.settings
        # The browser's cookie is kept when it has one of ours: a second tab, or an older page
        # sent back, then still matches it.
        cookie = request.cookies.get(COOKIE, "")
        cookie = cookie if form_check.valid_cookie(cookie) else form_check.new_cookie()
        token = form_check.new_token(settings.secret, self.server.clock.now().timestamp(), cookie)
        response = self._page("surgery", lang, status=status, filled=filled, token=token,
                              areas=[(a.key, a.name) for a in settings.areas], days=settings.response_days,
                              megabytes=max(1, settings.max_message_bytes // 1_500_000),   # base64 and headers
                              error_fields={name for name, _ in filled.errors})
        response.set_cookie(COOKIE, cookie, path="/surgery", httponly=True, samesite="Strict",
                            secure=settings.base_url.startswith("https:"), max_age=form_check.TOKEN_HOURS * 3600)
        return response

    def _page(self, name: str, lang: str, status: int = 200, **values: object) -> web.Response:
        words = WORDS[lang]
        text = self.pages.render(name, lang=lang, w=words, **values)
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)

    def _client(self, request: web.Request) -> str:
        return form_check.client_address(request.remote, request.headers.get("X-Forwarded-For", ""),
                                         self.server.settings.form.proxy_networks)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, client: str):
        """One submission of a client at a time on this server (its lock is dropped when unused)."""
        lock, users = self.locks.get(client, (None, 0))
        lock = lock or asyncio.Lock()
        self.locks[client] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            users = self.locks[client][1] - 1
            if users:
                self.locks[client] = (lock, users)
            else:
                del self.locks[client]

    @staticmethod
    def _same(earlier, submission: form_mail.Submission, client: str) -> bool:
        """Whether the stored message is this very submission again: the same browser, client
        and words (only then may its reference be shown)."""
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(bytes(earlier.raw)[:65536])
        found = form_mail.facts(str(headers.get(form_mail.HEADER, "")))
        return earlier.source == "form" and earlier.peer == client and bool(found.digest) \
            and found.digest == submission.digest

    def _local(self, moment: dt.datetime) -> str:
        """A naive-UTC moment as the hour and minute where the residents are."""
        zone = ZoneInfo(self.server.settings.timezone)
        return moment.replace(tzinfo=dt.timezone.utc).astimezone(zone).strftime("%H:%M")

    def _submission(self, filled: form_check.Filled, lang: str, files: list, cookie: str) -> form_mail.Submission:
        values, areas = filled.values, {a.key: a for a in self.server.settings.areas}
        area = areas.get(values["area"])
        files = [(f.filename, f.content_type, f.file.read()) for f in files]
        digest = form_check.fingerprint(self.server.settings.secret, cookie,
                                        {**values, "phone_only": filled.phone_only, "trap": filled.trap}, files)
        return form_mail.Submission(
            message=values["message"], email=values["email"], phone=values["phone"].strip(),
            phone_only=filled.phone_only, name=values["name"], place=values["place"],
            area_name=area.name if area else "", area=area.key if area else "", language=lang,
            trap=filled.trap, files=tuple(files), digest=digest)

    def _store(self, submission: form_mail.Submission, client: str, message_id: str):
        """Commit the message (the same guarantee as SMTP's 250) unless the client is over
        [http] form_per_client_per_hour: (id, raw, None), or (None, raw, when it may send again)."""
        now = self.server.clock.now()
        to = self._recipient(submission)
        raw = form_mail.build(submission, to, client, message_id, now)
        sender = submission.email or form_mail.no_email_address(submission.phone)
        inbound_id, oldest = db.intake.save_form_inbound(raw, sender, [to], now, client,
                                                         self.server.settings.form.per_client_per_hour)
        return inbound_id, raw, None if oldest is None else db.utc(oldest) + HOUR

    def _recipient(self, submission: form_mail.Submission) -> str:
        """The surgery's address; an area chosen from the list writes to its team's address
        (the pipeline routes it by the area's key, and the team's copy says so)."""
        settings = self.server.settings
        area = settings.area(submission.area) if submission.area else None
        team = settings.team(area.team) if area else None
        return team.address if team else settings.surgery_address

    async def _confirmation(self, lang: str, inbound_id: int, message_id: str,
                            submission: form_mail.Submission, raw: bytes) -> web.Response:
        state, kind, reference, due, urgent = await self._outcome(inbound_id)
        if kind == "duplicate":   # the button pressed twice at once: both stored, the first counts
            first = await asyncio.to_thread(db.intake.first_with_message_id, message_id)
            state, kind, reference, due, urgent = await self._outcome(first.id)
        settings = self.server.settings
        if kind != "resident_new":   # a held, grouped or quarantined message: nothing of any case is shown
            reference = None
            due = settings.calendar.due(self.server.clock.now())
            # no case of its own (yet): its own words, read as the pipeline reads them
            urgent = await asyncio.to_thread(self._urgent, raw)
        return self._page("confirmation", lang, reference=reference, due=in_words(due, lang), urgent=urgent,
                          phone_only=submission.phone_only)

    def _urgent(self, raw: bytes) -> bool:
        """The pipeline's danger check of a stored message (pipeline.notify: subject and text)."""
        msg = parse(raw)
        return urgency.assess(f"{msg.subject}\n{msg.text}", self.server.settings.urgent_phrases).urgent

    async def _outcome(self, inbound_id: int):
        """What the pipeline made of it: as soon as it has, or whatever it is at WAIT_SECONDS.
        A flood of submissions must not become a flood of reads: past MAX_WAITING pages
        waiting at once, the page answers at once (the reference then comes by email)."""
        if self.waiting >= MAX_WAITING:
            return await asyncio.to_thread(db.intake.outcome, inbound_id)
        self.waiting += 1
        try:
            deadline, pause = time.monotonic() + WAIT_SECONDS, POLL_SECONDS[0]
            while True:
                await asyncio.sleep(pause)
                found = await asyncio.to_thread(db.intake.outcome, inbound_id)
                if found[0] != "queued" or time.monotonic() >= deadline:
                    return found
                pause = min(pause * 2, POLL_SECONDS[1])
        finally:
            self.waiting -= 1

