"""Dates as residents are told them, in English or Welsh. (Which days count: gateway.promise.calendar.)"""

from __future__ import annotations

import datetime as dt


# "dydd" is lower case inside a sentence ("erbyn dydd Iau"), and every Welsh date we write
# stands inside one; the day's own name keeps its capital.
WELSH_DAYS = ("dydd Llun", "dydd Mawrth", "dydd Mercher", "dydd Iau", "dydd Gwener", "dydd Sadwrn", "dydd Sul")
WELSH_MONTHS = ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst", "Medi",
                "Hydref", "Tachwedd", "Rhagfyr")


def in_words(day: dt.date, language: str = "en") -> str:
    """'Friday 4 December 2026', or in Welsh 'dydd Gwener 4 Rhagfyr 2026' (no locale
    needed), to stand inside a sentence: "erbyn dydd Gwener 4 Rhagfyr 2026"."""
    if language == "cy":
        return f"{WELSH_DAYS[day.weekday()]} {day.day} {WELSH_MONTHS[day.month - 1]} {day.year}"
    return f"{day:%A} {day.day} {day:%B %Y}"
