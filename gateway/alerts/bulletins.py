"""Alert bulletins: area -> subscribers -> outbox rows -> a personal copy at delivery time.

Fan-out streams the subscribers of the bulletin's areas in id order, a batch at a time; each
batch's outbox rows and the bulletin's cursor are committed together, so a crash at any
point resumes from the cursor with no one missed and no one twice (a unique index on
(bulletin, subscriber) backs this up). The rows hold no message: the copy is rendered when
it is sent, and a resident who unsubscribed in between gets nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from gateway import db
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail import compose, language
from gateway.mail.language import joined as language_joined
from gateway.mail.addresses import token
from gateway.render import Renderer

log = logging.getLogger(__name__)

BATCH = 2000
BULLETIN_PRIORITY = 8   # after every case message


def create(areas: Iterable[str], subject: str, body: str, created_by: str, now: dt.datetime,
           state: str = "enqueuing", subject_cy: str = "") -> db.bulletins.Bulletin:
    return db.bulletins.create(list(areas), subject, body, created_by, now, state, subject_cy)


audience = db.bulletins.audience
mark_finished = db.bulletins.mark_finished
progress_counts = db.bulletins.progress_counts


def fan_out(bulletin_id: int, clock: Clock, deadline_hours: float, mail_from: str,
            progress: Callable[[int, int], None] | None = None, batch: int = BATCH,
            wait: Callable[[float], object] = time.sleep) -> db.bulletins.db.bulletins.Bulletin | None:
    """Give every current subscriber of the bulletin's areas one outbox row; resumable, and
    safe to run in several daemons (and the CLI) at once: each batch is one daemon's."""
    while True:
        now = clock.now()
        bulletin, finished = db.bulletins.fan_out_batch(bulletin_id, now, now + dt.timedelta(hours=deadline_hours),
                                                         mail_from, BULLETIN_PRIORITY, batch)
        if bulletin is None:   # another daemon has this batch (or there is no such bulletin)
            if db.bulletins.get(bulletin_id) is None:
                return None
            wait(0.2)
            continue
        if finished:
            if bulletin.enqueued_at is not None and bulletin.state == "queued":
                log.info("bulletin %s: %s recipients queued, %s suppressed skipped",
                         bulletin.id, bulletin.recipients, bulletin.skipped)
            return bulletin
        if progress is not None:
            progress(bulletin.recipients, bulletin.skipped)


def area_names(areas, language: str = "en") -> str:
    """'Hightown and Rhosddu'; in Welsh, with the areas' Welsh names, 'Hightown a Rhosddu',
    'Hightown, Rhosddu ac Acton'."""
    return language_joined([a.name_in(language) for a in areas], language)


SECTION_RE = re.compile(r"^\s*-{2,}\s*(cymraeg|english|saesneg)\s*-{2,}\s*$", re.IGNORECASE | re.MULTILINE)


def sections(body: str) -> dict[str, str]:
    """A bulletin body in both languages: the text before a `---- Cymraeg ----` line is the
    English, after it the Welsh (or the other way round with `---- English ----`). One
    language only: {}."""
    found = list(SECTION_RE.finditer(body))
    if not found:
        return {}
    marker = found[0]
    named = "cy" if marker.group(1).lower() == "cymraeg" else "en"
    other = "en" if named == "cy" else "cy"
    before, after = body[:marker.start()].strip(), body[marker.end():].strip()
    if len(found) > 1:   # both languages marked: "---- English ----" ... "---- Cymraeg ----" ...
        after = body[marker.end():found[1].start()].strip()
        second = "cy" if found[1].group(1).lower() == "cymraeg" else "en"
        return {named: after, second: body[found[1].end():].strip()} if named != second else {}
    return {other: before, named: after} if before and after else {}


@dataclass
class Copies:
    """Renders a resident's copy of a bulletin when it is sent (bulletins cached per worker)."""

    settings: Settings
    renderer: Renderer

    def __post_init__(self) -> None:
        self._cache: dict[tuple[int, tuple[str, ...]], compose.BulletinMessage] = {}
        # row id -> (subscriber, the bulletin's areas they still take, in the bulletin's order);
        # copies are cached per bulletin, areas and language
        self._ready: dict[int, tuple[db.people.Person | None, tuple[str, ...]]] = {}
        self._bulletins: dict[int, db.bulletins.Bulletin | None] = {}

    def prepare(self, rows: list[db.outbox.Delivery]) -> None:
        """Look up a whole claimed batch in three queries instead of four per copy."""
        self._ready = {}
        self._bulletins = db.bulletins.several({r.bulletin for r in rows})
        if not rows:
            return
        people, active, suppressed = db.people.subscribers_for_sending(list({r.subscriber for r in rows}))
        for row in rows:
            person = people.get(row.subscriber)
            bulletin = self._bulletin(row.bulletin)
            areas = bulletin.areas.split(",") if bulletin else []
            ok = (person is not None and bulletin is not None and bulletin.state != "cancelled"
                  and person.address not in suppressed)
            self._ready[row.id] = (person, tuple(a for a in areas if ok and (person.id, a) in active))

    def __call__(self, row: db.outbox.Delivery) -> bytes | None:
        """The copy for this outbox row, or None if the resident is no longer subscribed."""
        if row.id in self._ready:
            subscriber, theirs = self._ready.pop(row.id)
        else:
            subscriber, theirs = self._check(row)
        if not theirs:
            return None
        bulletin = self._bulletin(row.bulletin)
        # Each copy is from, and answerable to, the team of the resident's own area, and names
        # only the areas they signed up for (a bulletin may go to several areas at once).
        lang = subscriber.language or ""
        message = self._cache.get((bulletin.id, theirs, lang)) or self._message(bulletin, theirs, lang)
        s = self.settings
        signed = token("unsubscribe", subscriber.id, s.secret)
        unsubscribe = f"unsubscribe+{signed}@{s.domain}"
        url = f"{s.base_url}/unsubscribe/{signed}" if s.base_url else ""
        return compose.personal_copy(message, subscriber.address, subscriber.name, unsubscribe, url,
                                     row.message_id)

    def _bulletin(self, bulletin_id: int) -> db.bulletins.Bulletin | None:
        """Bulletins are read once a batch (their state may change: a cancel must be seen)."""
        if bulletin_id not in self._bulletins:
            self._bulletins[bulletin_id] = db.bulletins.get(bulletin_id)
        return self._bulletins[bulletin_id]

    def _check(self, row: db.outbox.Delivery) -> tuple[db.people.Subscriber | None, tuple[str, ...]]:
        bulletin = self._bulletin(row.bulletin)
        subscriber = db.people.subscriber(row.subscriber)
        if bulletin is None or subscriber is None or bulletin.state == "cancelled":
            return subscriber, ()
        if db.people.is_suppressed(subscriber.address):
            return subscriber, ()
        still = db.people.active_areas(subscriber.id, bulletin.areas.split(","))
        return subscriber, tuple(a for a in bulletin.areas.split(",") if a in still)

    def _message(self, bulletin: db.bulletins.Bulletin, theirs: tuple[str, ...], lang: str) -> compose.BulletinMessage:
        s = self.settings
        areas = [a for a in (s.area(k) for k in theirs) if a is not None]
        first = areas[0] if areas else None
        team = s.team(first.team) if first else s.default_team
        subject = _in_language(bulletin.subject, bulletin.subject_cy or "", lang)
        values = dict(subject=subject, team=team,
                      unsubscribe_address=compose.UNSUBSCRIBE_ADDRESS_MARK,
                      unsubscribe_url=compose.UNSUBSCRIBE_URL_MARK if s.base_url else "")
        named, unnamed = (self._text(bulletin.body, areas, lang, name, values) for name in (compose.NAME_MARK, ""))
        list_id = (f"{first.name} alerts <{first.key}.alerts.{s.domain}>" if len(areas) == 1
                   else f"Alerts <alerts.{s.domain}>")
        reply_to = f"area+{first.key}@{s.domain}" if first else s.surgery_address
        message = compose.bulletin(_in_language(team.name, team.name_cy, lang), s.surgery_address, subject,
                                   list_id, reply_to, s.domain,
                                   db.as_datetime(bulletin.created_at).replace(tzinfo=dt.timezone.utc),
                                   named, unnamed)
        self._cache[(bulletin.id, theirs, lang)] = message
        return message

    def _text(self, body: str, areas: list, lang: str, name: str, values: dict) -> str:
        """The copy's text in the resident's language: the officer's section in it where the
        bulletin has one (`---- Cymraeg ----`); for a resident whose language is unknown,
        Welsh then English, as Welsh public bodies write; a bulletin in one language only
        goes out as written, in the wrapping of the resident's language (or of its own)."""
        parts = sections(body)

        def one(language: str, text: str) -> str:
            names = area_names(areas, language) or ("eich ardal" if language == "cy" else "your area")
            team = values["team"]
            return self.renderer.render("bulletin/bulletin", language, resident_name=name, body=text,
                                        area_names=names, team_name=team.name_in(language),
                                        **{k: v for k, v in values.items() if k != "team"})

        if lang in ("en", "cy"):
            return one(lang, parts.get(lang) or body)
        if len(parts) == 2:
            return one("cy", parts["cy"]) + "\n" + "-" * 40 + "\n\n" + one("en", parts["en"])
        return one(language.detect(body), body)


def _in_language(english: str, welsh: str, lang: str) -> str:
    """A subject or name for a reader of `lang`: the Welsh one for Welsh, the English for
    English, and for a reader whose language is unknown both, Welsh first, as Welsh public
    bodies write ("Dwyn o siediau / Shed thefts"); the one there is when there is one."""
    if not welsh or welsh == english:
        return english
    return welsh if lang == "cy" else english if lang == "en" else f"{welsh} / {english}"


TURN_SECONDS = 30   # how long a daemon holds the fan-out once it takes it (renewed each round)


def run_fan_out_loop(settings: Settings, clock: Clock, wake: threading.Event, owner: str,
                     stop: threading.Event, poll: float) -> None:
    """In the daemon: finish any bulletin left enqueuing (published by email, or a CLI that
    was interrupted), then wake the delivery workers. With several daemons on one database,
    one does this at a time (db.cluster.take_turn); the others wait their turn."""
    while not stop.is_set():
        try:
            if not db.cluster.take_turn("bulletins", owner, clock.now(), TURN_SECONDS):
                stop.wait(max(poll, 1.0))
                continue
            for bulletin_id in db.bulletins.enqueuing():
                fan_out(bulletin_id, clock, settings.retry_deadline_hours, settings.surgery_address,
                        progress=lambda *_: wake.set())
                wake.set()
            mark_finished()
            db.cluster.done_turn("bulletins", owner, clock.now())
        except Exception:
            log.exception("bulletin fan-out: unexpected error; trying again")
        stop.wait(max(poll, 1.0))
