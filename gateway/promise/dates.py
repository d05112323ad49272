"""Dates as residents are told them, in English or Welsh. (Which days count: gateway.promise.calendar.)"""

from __future__ import annotations

import datetime as dt


WELSH_DAYS = ("Dydd Llun", "Dydd Mawrth", "Dydd Mercher", "Dydd Iau", "Dydd Gwener", "Dydd Sadwrn", "Dydd Sul")
WELSH_MONTHS = ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst", "Medi",
                "Hydref", "Tachwedd", "Rhagfyr")


def in_words(day: dt.date, language: str = "en") -> str:
    """'Friday 4 December 2026', or in Welsh 'Dydd Gwener 4 Rhagfyr 2026' (no locale needed)."""
    if language == "cy":
        return f"{WELSH_DAYS[day.weekday()]} {day.day} {WELSH_MONTHS[day.month - 1]} {day.year}"
    return f"{day:%A} {day.day} {day:%B %Y}"
