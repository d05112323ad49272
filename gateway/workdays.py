"""Working days: weekends and the England and Wales bank holidays do not count."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    # England and Wales share one list of bank holidays; "WLS" names it in the holidays package.
    return frozenset(holidays.country_holidays("GB", subdiv="WLS", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days after `start` (start itself never counts)."""
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


WELSH_DAYS = ("Dydd Llun", "Dydd Mawrth", "Dydd Mercher", "Dydd Iau", "Dydd Gwener", "Dydd Sadwrn", "Dydd Sul")
WELSH_MONTHS = ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst", "Medi",
                "Hydref", "Tachwedd", "Rhagfyr")


def in_words(day: dt.date, language: str = "en") -> str:
    """'Friday 4 December 2026', or in Welsh 'Dydd Gwener 4 Rhagfyr 2026' (no locale needed)."""
    if language == "cy":
        return f"{WELSH_DAYS[day.weekday()]} {day.day} {WELSH_MONTHS[day.month - 1]} {day.year}"
    return f"{day:%A} {day.day} {day:%B %Y}"
