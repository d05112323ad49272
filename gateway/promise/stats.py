"""How often the promise is kept: per team, cases opened, the share answered within the
promise, time to first answer in working hours (median, 90th percentile), open and overdue
now. Read by `gateway stats` and `gateway report`.

A case's promise is the due date its first message was given (five working days, [clock]);
it is kept when the first answer went to the resident on or before that date.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import asdict, dataclass, field

from gateway import db
from gateway.config import Settings


@dataclass
class TeamFigures:
    team: str
    name: str
    opened: int = 0
    answered: int = 0
    in_time: int = 0
    hours: list[float] = field(default_factory=list)   # working hours to the first answer, one per answered case
    open_now: int = 0
    overdue_now: int = 0
    judged: int = 0   # cases whose promise has been met or has come due: answered, or unanswered past it

    @property
    def in_time_share(self) -> float | None:
        """Cases answered within the promise, of those whose promise has come due or been met."""
        return self.in_time / self.judged if self.judged else None

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None

    @property
    def p90_hours(self) -> float | None:
        if not self.hours:
            return None
        ordered = sorted(self.hours)   # the nearest-rank 90th percentile
        return ordered[math.ceil(0.9 * len(ordered)) - 1]

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("hours")
        data.update(in_time_share=self.in_time_share, median_hours=self.median_hours, p90_hours=self.p90_hours)
        return data


def promised(settings: Settings, case) -> dt.date:
    """The due date the case's first message was given."""
    return settings.calendar.due(db.as_datetime(case.opened_at))


def figures(settings: Settings, start: dt.datetime, end: dt.datetime, now: dt.datetime,
            team: str | None = None) -> list[TeamFigures]:
    """One TeamFigures per team (or the one asked for), for cases opened in [start, end)."""
    calendar = settings.calendar
    today = calendar.local(now).date()
    out = {t.key: TeamFigures(t.key, t.name) for t in settings.teams if team in (None, t.key)}
    for case in db.cases.opened_between(start, end, team):
        row = out.get(case.team)
        if row is None:
            continue
        row.opened += 1
        due = promised(settings, case)
        if case.answered_at is not None:
            answered = db.as_datetime(case.answered_at)
            row.answered += 1
            row.judged += 1
            row.in_time += calendar.local(answered).date() <= due
            row.hours.append(calendar.working_hours(db.as_datetime(case.opened_at), answered))
        elif today > due:
            row.judged += 1
    for case in db.cases.open_cases(team):
        row = out.get(case.team)
        if row is not None:
            row.open_now += 1
            row.overdue_now += case.due_date < today
    return list(out.values())


def weekly(settings: Settings, start: dt.datetime, end: dt.datetime) -> dict[str, dict[dt.date, int]]:
    """Cases opened per week (the Monday it starts) per team."""
    calendar = settings.calendar
    weeks: dict[str, dict[dt.date, int]] = {t.key: {} for t in settings.teams}
    for case in db.cases.opened_between(start, end):
        day = calendar.local(db.as_datetime(case.opened_at)).date()
        monday = day - dt.timedelta(days=day.weekday())
        per_team = weeks.setdefault(case.team, {})
        per_team[monday] = per_team.get(monday, 0) + 1
    return weeks
