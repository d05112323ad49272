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
from dataclasses import dataclass
from typing import Callable, Iterable

import peewee as pw

from gateway import store
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail import compose, language
from gateway.mail.addresses import token
from gateway.models import Bulletin, Outbound, Subscriber, Subscription, Suppression, db
from gateway.render import Renderer

log = logging.getLogger(__name__)

BATCH = 2000
BULLETIN_PRIORITY = 8   # after every case message


def create(areas: Iterable[str], subject: str, body: str, created_by: str, now: dt.datetime,
           state: str = "enqueuing") -> Bulletin:
    return Bulletin.create(areas=",".join(areas), subject=subject, body=body, created_by=created_by,
                           created_at=store.utc(now), state=state)


def _active(areas: list[str]):
    return (Subscription.select(Subscription.subscriber)
            .where(Subscription.area.in_(areas) & (Subscription.state == "active")))


def audience(areas: list[str]) -> tuple[int, int]:
    """(residents who would receive a bulletin to these areas, suppressed ones skipped)."""
    subscribers = Subscriber.select().where(Subscriber.id.in_(_active(areas)))
    total = subscribers.count()
    suppressed = subscribers.where(Subscriber.address.in_(Suppression.select(Suppression.address))).count()
    return total - suppressed, suppressed


def fan_out(bulletin_id: int, clock: Clock, deadline_hours: float, mail_from: str,
            progress: Callable[[int, int], None] | None = None, batch: int = BATCH) -> Bulletin:
    """Give every current subscriber of the bulletin's areas one outbox row; resumable."""
    while True:
        with db.atomic():
            bulletin = Bulletin.get_by_id(bulletin_id)
            if bulletin.state != "enqueuing":
                return bulletin
            rows = list(Subscriber.select(Subscriber.id, Subscriber.address)
                        .where(Subscriber.id.in_(_active(bulletin.areas.split(",")))
                               & (Subscriber.id > bulletin.cursor))
                        .order_by(Subscriber.id).limit(batch).tuples())
            now = store.utc(clock.now())
            if not rows:
                bulletin.state, bulletin.enqueued_at = "queued", now
                bulletin.save()
                log.info("bulletin %s: %s recipients queued, %s suppressed skipped",
                         bulletin.id, bulletin.recipients, bulletin.skipped)
                return bulletin
            suppressed = store.suppressed_among([a for _, a in rows])
            ours = "@" + mail_from.rpartition("@")[2]
            suppressed |= {a for _, a in rows if a.endswith(ours)}   # never our own addresses
            deadline = now + dt.timedelta(hours=deadline_hours)
            fresh = [dict(created_at=now, purpose="bulletin", mail_from=mail_from, rcpt_to=address,
                          message_id=f"<bulletin-{bulletin.id}-{sid}@{mail_from.rpartition('@')[2]}>",
                          raw=b"", priority=BULLETIN_PRIORITY, next_attempt_at=now, deadline=deadline,
                          bulletin=bulletin.id, subscriber=sid)
                     for sid, address in rows if address not in suppressed]
            for start in range(0, len(fresh), 500):  # SQLite's limit on bound variables
                Outbound.insert_many(fresh[start:start + 500]).on_conflict_ignore().execute()
            bulletin.cursor = rows[-1][0]
            bulletin.recipients += len(fresh)
            bulletin.skipped += len(rows) - len(fresh)
            bulletin.save()
        if progress is not None:
            progress(bulletin.recipients, bulletin.skipped)


def mark_finished() -> int:
    """Bulletins fully fanned out with nothing left to send become `sent` (their failed and
    skipped copies stay counted on their rows); how many changed."""
    return (Bulletin.update(state="sent")
            .where((Bulletin.state == "queued")
                   & ~pw.fn.EXISTS(Outbound.select(Outbound.id).where((Outbound.bulletin == Bulletin.id)
                                                                       & (Outbound.state == "queued"))))
            .execute())


def area_names(areas, language: str = "en") -> str:
    """'Hightown and Rhosddu', 'Hightown a Rhosddu'."""
    return (" a " if language == "cy" else " and ").join(a.name for a in areas)


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


def progress_counts(bulletin_id: int) -> dict[str, int]:
    """Outbox rows of a bulletin by state: queued, sent, failed, skipped."""
    counts = {"queued": 0, "sent": 0, "failed": 0, "skipped": 0}
    query = (Outbound.select(Outbound.state, pw.fn.COUNT(Outbound.id).alias("n"))
             .where(Outbound.bulletin == bulletin_id).group_by(Outbound.state).tuples())
    for state, n in query:
        counts[state] = n
    return counts


@dataclass
class Copies:
    """Renders a resident's copy of a bulletin when it is sent (bulletins cached per worker)."""

    settings: Settings
    renderer: Renderer

    def __post_init__(self) -> None:
        self._cache: dict[tuple[int, tuple[str, ...]], compose.BulletinMessage] = {}
        # row id -> (subscriber, the bulletin's areas they still take, in the bulletin's order);
        # copies are cached per bulletin, areas and language
        self._ready: dict[int, tuple[store.Person | None, tuple[str, ...]]] = {}
        self._bulletins: dict[int, Bulletin | None] = {}

    def prepare(self, rows: list[Outbound]) -> None:
        """Look up a whole claimed batch in three queries instead of four per copy."""
        self._ready = {}
        self._bulletins = {b.id: b for b in Bulletin.select().where(Bulletin.id.in_({r.bulletin for r in rows}))}
        if not rows:
            return
        people, active, suppressed = store.subscribers_for_sending(list({r.subscriber for r in rows}))
        for row in rows:
            person = people.get(row.subscriber)
            bulletin = self._bulletin(row.bulletin)
            areas = bulletin.areas.split(",") if bulletin else []
            ok = (person is not None and bulletin is not None and bulletin.state != "cancelled"
                  and person.address not in suppressed)
            self._ready[row.id] = (person, tuple(a for a in areas if ok and (person.id, a) in active))

    def __call__(self, row: Outbound) -> bytes | None:
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

    def _bulletin(self, bulletin_id: int) -> Bulletin | None:
        """Bulletins are read once a batch (their state may change: a cancel must be seen)."""
        if bulletin_id not in self._bulletins:
            self._bulletins[bulletin_id] = Bulletin.get_or_none(Bulletin.id == bulletin_id)
        return self._bulletins[bulletin_id]

    def _check(self, row: Outbound) -> tuple[Subscriber | None, tuple[str, ...]]:
        bulletin = self._bulletin(row.bulletin)
        subscriber = Subscriber.get_or_none(Subscriber.id == row.subscriber)
        if bulletin is None or subscriber is None or bulletin.state == "cancelled":
            return subscriber, ()
        if Suppression.select().where(Suppression.address == subscriber.address).exists():
            return subscriber, ()
        still = {a for (a,) in Subscription.select(Subscription.area).where(
            (Subscription.subscriber == subscriber.id) & Subscription.area.in_(bulletin.areas.split(","))
            & (Subscription.state == "active")).tuples()}
        return subscriber, tuple(a for a in bulletin.areas.split(",") if a in still)

    def _message(self, bulletin: Bulletin, theirs: tuple[str, ...], lang: str) -> compose.BulletinMessage:
        s = self.settings
        areas = [a for a in (s.area(k) for k in theirs) if a is not None]
        first = areas[0] if areas else None
        team = s.team(first.team) if first else s.default_team
        values = dict(subject=bulletin.subject, team_name=team.name,
                      unsubscribe_address=compose.UNSUBSCRIBE_ADDRESS_MARK,
                      unsubscribe_url=compose.UNSUBSCRIBE_URL_MARK if s.base_url else "")
        named, unnamed = (self._text(bulletin.body, areas, lang, name, values) for name in (compose.NAME_MARK, ""))
        list_id = (f"{first.name} alerts <{first.key}.alerts.{s.domain}>" if len(areas) == 1
                   else f"Alerts <alerts.{s.domain}>")
        reply_to = f"area+{first.key}@{s.domain}" if first else s.surgery_address
        message = compose.bulletin(team.name, s.surgery_address, bulletin.subject, list_id, reply_to, s.domain,
                                   store.as_datetime(bulletin.created_at).replace(tzinfo=dt.timezone.utc),
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
            return self.renderer.render("bulletin/bulletin", language, resident_name=name, body=text,
                                        area_names=names, **values)

        if lang in ("en", "cy"):
            return one(lang, parts.get(lang) or body)
        if len(parts) == 2:
            return one("cy", parts["cy"]) + "\n" + "-" * 40 + "\n\n" + one("en", parts["en"])
        return one(language.detect(body), body)


def run_fan_out_loop(settings: Settings, clock: Clock, wake: threading.Event, stop: threading.Event,
                     poll: float) -> None:
    """In the daemon: finish any bulletin left enqueuing (published by email, or a CLI that
    was interrupted), then wake the delivery workers."""
    while not stop.is_set():
        try:
            pending = [b.id for b in Bulletin.select(Bulletin.id).where(Bulletin.state == "enqueuing")]
            for bulletin_id in pending:
                fan_out(bulletin_id, clock, settings.retry_deadline_hours, settings.surgery_address,
                        progress=lambda *_: wake.set())
                wake.set()
            mark_finished()
        except Exception:
            log.exception("bulletin fan-out: unexpected error; trying again")
        stop.wait(max(poll, 1.0))
