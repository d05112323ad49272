"""The five-working-day promise: when a reply is due, when to remind, when it is late, and
how long an answer took in working hours.

Working days leave out weekends, the England and Wales bank holidays (the `holidays`
package) and `[clock] extra_closed_days`; working hours are `[clock] business_hours` on
those days, in `[clock] timezone`. A case's clock starts when its first message arrived;
an answer stops it; a new message from the resident restarts it from that message
(`[clock] restart_on_resident_message`); an officer's `#waiting` pauses it until the
resident writes again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ClockSettings:
    """[clock], and [urgent] remind_after_minutes and escalate_after_minutes."""

    timezone: str = "Europe/London"
    opens: dt.time = dt.time(9, 0)
    closes: dt.time = dt.time(17, 0)
    extra_closed_days: tuple[dt.date, ...] = ()
    restart_on_resident_message: bool = True
    remind_before_working_days: int = 1
    digest_time: dt.time | None = dt.time(8, 0)     # None: no morning digest
    urgent_remind_after_minutes: int = 60           # 0: no reminder for urgent cases
    escalate_after_minutes: int = 15                # in business hours: unseen this long, the desk is told
    check_seconds: float = 60.0                     # how often the daemon looks for reminders due


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    # England and Wales share one list of bank holidays; "WLS" names it in the holidays package.
    return frozenset(holidays.country_holidays("GB", subdiv="WLS", years=year).keys())


class Calendar:
    """Working days and hours under one ClockSettings."""

    def __init__(self, settings: ClockSettings, response_days: int = 5):
        self.settings, self.response_days = settings, response_days
        self.zone = ZoneInfo(settings.timezone)
        self.closed = frozenset(settings.extra_closed_days)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in _bank_holidays(day.year) and day not in self.closed

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The date `days` working days after `start` (start itself never counts)."""
        day, remaining = start, days
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (negative if end is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + dt.timedelta(days=n)))

    def local(self, moment: dt.datetime) -> dt.datetime:
        """A moment in the configured zone (naive values are UTC, as the database holds them)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(self.zone)

    def due(self, received: dt.datetime) -> dt.date:
        """The date a reply is due for a message received at `received`."""
        return self.add_working_days(self.local(received).date(), self.response_days)

    def working_hours(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours between two moments: only business hours of working days count."""
        start, end = self.local(start), self.local(end)
        if end <= start:
            return 0.0
        total, day = 0.0, start.date()
        while day <= end.date():
            if self.is_working_day(day):
                opens = dt.datetime.combine(day, self.settings.opens, self.zone)
                closes = dt.datetime.combine(day, self.settings.closes, self.zone)
                span = min(closes, end) - max(opens, start)
                total += max(span.total_seconds(), 0.0)
            day += dt.timedelta(days=1)
        return total / 3600

    def hours_per_day(self) -> float:
        opens, closes = self.settings.opens, self.settings.closes
        return (closes.hour * 60 + closes.minute - opens.hour * 60 - opens.minute) / 60

    def open_now(self, moment: dt.datetime) -> bool:
        """Within business hours of a working day."""
        local = self.local(moment)
        return self.is_working_day(local.date()) and self.settings.opens <= local.time() < self.settings.closes

    def reminder_day(self, due: dt.date) -> dt.date:
        """The working day `remind_before_working_days` before the due date."""
        day, remaining = due, self.settings.remind_before_working_days
        while remaining > 0:
            day -= dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


def parse_time(value: str) -> dt.time | None:
    match = TIME_RE.match(value.strip())
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def read(clock, urgent, timezone: str) -> ClockSettings:
    """[clock] (and [urgent] remind_after_minutes, escalate_after_minutes) from config readers; problems are collected
    by the readers, naming section, key and range."""
    zone = clock.text("timezone", timezone)
    try:
        ZoneInfo(zone)
    except Exception:
        clock.fail("timezone", f"{zone!r} is not a time zone (e.g. Europe/London)")
        zone = "Europe/London"
    hours = clock.text("business_hours", "09:00-17:00")
    opens, _, closes = hours.partition("-")
    opens_at, closes_at = parse_time(opens), parse_time(closes)
    if opens_at is None or closes_at is None or closes_at <= opens_at:
        clock.fail("business_hours", f"{hours!r} must be HH:MM-HH:MM, opening before closing (e.g. 09:00-17:00)")
        opens_at, closes_at = dt.time(9, 0), dt.time(17, 0)
    closed = []
    for item in clock.items("extra_closed_days"):
        try:
            closed.append(dt.date.fromisoformat(item))
        except ValueError:
            clock.fail("extra_closed_days", f"{item!r} is not a date (YYYY-MM-DD)")
    digest_raw = clock.text("digest_time", "08:00")
    digest = parse_time(digest_raw) if digest_raw.lower() not in ("", "off", "none") else None
    if digest is None and digest_raw.lower() not in ("", "off", "none"):
        clock.fail("digest_time", f"{digest_raw!r} must be HH:MM, or off")
    return ClockSettings(timezone=zone, opens=opens_at, closes=closes_at, extra_closed_days=tuple(closed),
                         restart_on_resident_message=clock.boolean("restart_on_resident_message", "yes"),
                         remind_before_working_days=int(clock.number("remind_before_working_days", "1", int, 0, 20)),
                         digest_time=digest,
                         urgent_remind_after_minutes=int(urgent.number("remind_after_minutes", "60", int, 0, 10_080)),
                         escalate_after_minutes=int(urgent.number("escalate_after_minutes", "15", int, 1, 1440)),
                         check_seconds=float(clock.number("check_seconds", "60", float, 0.1, 3600)))
