"""`gateway report`: one self-contained HTML page on how often the promise was kept in a
month, for an inspector: the figures per team and three charts (cases per week by team,
time to first answer against the five-working-day line, share answered in time), drawn
with pygal as inline SVG. The page loads nothing from anywhere: no scripts, no fonts, no
images from the network.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pygal
from pygal.style import Style

from gateway.promise import stats
from gateway.config import Settings

SCRIPT_RE = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
STYLE = Style(background="white", plot_background="white", foreground="#222", foreground_strong="#000",
              foreground_subtle="#666", font_family="sans-serif",
              colors=("#1f5fa8", "#d9822b", "#3a9a4b", "#b33a3a", "#7a4fa3", "#2a9d9d"))


def _chart(kind, title: str, **options) -> pygal.Graph:
    # js=[]: pygal's tooltips script lives on a CDN; the report must open with no network.
    return kind(title=title, style=STYLE, js=[], disable_xml_declaration=True, width=900, height=380,
                explicit_size=True, legend_at_bottom=True, truncate_legend=-1, **options)


def _svg(chart: pygal.Graph) -> str:
    """The chart as inline SVG, without the config <script> pygal always writes (it only
    feeds pygal's tooltips, which are not loaded): the page runs no code at all."""
    return SCRIPT_RE.sub("", chart.render(is_unicode=True))


def _whole_numbers(top: int) -> list[int]:
    """Axis labels for a count of cases: whole numbers from 0, about ten of them at most."""
    step = max(1, -(-top // 10))
    return list(range(0, max(top, 1) + step, step))


def _in_time_figure(figures: list[stats.TeamFigures]) -> str:
    """The share answered within the promise as a chart, or in words where a chart would
    show nothing (every share 0%, or no case's promise yet due): an empty chart misleads."""
    shares = [r.in_time_share for r in figures if r.in_time_share is not None]
    if not shares:
        return ('<p id="in-time" class="words">Share answered within the promise: no case opened this month '
                'has been answered or come past its date yet.</p>')
    if not any(shares):
        return ('<p id="in-time" class="words">Share answered within the promise: 0% for every team. No case '
                'opened this month was answered within the promise.</p>')
    chart = _chart(pygal.HorizontalBar, "Share answered within the promise", range=(0, 100),
                   value_formatter=lambda v: f"{v:.0f}%")
    for row in figures:
        chart.add(row.name, [round(100 * row.in_time_share, 1) if row.in_time_share is not None else 0])
    return f'<figure id="in-time">{_svg(chart)}</figure>'


def _answer_figure(figures: list[stats.TeamFigures], promise_hours: float) -> str:
    """Time to first answer as box plots, or in words when no case has been answered: boxes
    drawn at 0 hours would read as answers given at once."""
    title = f"Time to first answer, working hours (the promise: {promise_hours:g} h)"
    if not any(r.hours for r in figures):
        return (f'<p id="time-to-answer" class="words">{html.escape(title)}: no case opened this month has '
                'been answered yet.</p>')
    answer = _chart(pygal.Box, title, box_mode="tukey",
                    range=(0, max([promise_hours * 1.5] + [h for r in figures for h in r.hours])))
    for row in figures:
        answer.add(row.name, row.hours or [0])
    answer.add("the promise", [promise_hours] * 2, stroke_style={"dasharray": "6,4"})
    return f'<figure id="time-to-answer">{_svg(answer)}</figure>'


def month_span(month: str, settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of the month and of the next, in the [clock] zone."""
    start_day = dt.date.fromisoformat(f"{month}-01")
    next_day = (start_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    zone = settings.calendar.zone
    return dt.datetime.combine(start_day, dt.time(0), zone), dt.datetime.combine(next_day, dt.time(0), zone)


def render(settings: Settings, month: str, now: dt.datetime) -> str:
    start, end = month_span(month, settings)
    figures = stats.figures(settings, start, end, now)
    weeks = stats.weekly(settings, start, end)
    calendar = settings.calendar
    promise_hours = settings.response_days * calendar.hours_per_day()

    mondays = sorted({monday for per in weeks.values() for monday in per}) or [start.date()]
    per_week = _chart(pygal.StackedBar, "Cases opened per week, by team", x_title="week beginning")
    per_week.x_labels = [f"{m:%d %b}" for m in mondays]
    counts = {row.name: [weeks.get(row.team, {}).get(m, 0) for m in mondays] for row in figures}
    for name, values in counts.items():
        per_week.add(name, values)
    per_week.y_labels = _whole_numbers(max([sum(week) for week in zip(*counts.values())] or [0]))

    answer = _answer_figure(figures, promise_hours)

    in_time = _in_time_figure(figures)

    def hours(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} h"

    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.opened}</td><td>{r.answered}</td>"
        f"<td>{'-' if r.in_time_share is None else f'{100 * r.in_time_share:.0f}%'}</td>"
        f"<td>{hours(r.median_hours)}</td><td>{hours(r.p90_hours)}</td><td>{r.open_now}</td><td>{r.overdue_now}</td></tr>"
        for r in figures)
    total = sum(r.opened for r in figures)
    title = f"Surgery Gateway: replies to residents, {start:%B %Y}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 960px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0 2em; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ margin: 1.5em 0; }}
.note {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{total} case(s) opened for {html.escape(settings.domain)} between {start:%d %B} and {end - dt.timedelta(days=1):%d %B %Y}.
Every resident is promised a reply within {settings.response_days} working days (weekends, England and Wales bank
holidays and the force's closed days left out); working hours are {settings.clock.opens:%H:%M} to
{settings.clock.closes:%H:%M}. Opened, answered, in time and the times to a first answer are about the cases opened in {start:%B}; the last two columns
count every case still open or overdue on {calendar.local(now):%d %B %Y %H:%M}, whenever it was opened.</p>
<table id="figures"><tr><th>Team</th><th>Opened</th><th>Answered</th><th>In time</th><th>Median to first answer</th>
<th>90th percentile</th><th>Still open today (opened in any month)</th>
<th>Overdue today (opened in any month)</th></tr>{rows}</table>
<figure id="per-week">{_svg(per_week)}</figure>
{answer}
{in_time}
<p class="note">"In time": answered on or before the date the first message was promised, of the cases whose
date has come or which were answered. Time to first answer counts working hours only. Made by
<code>gateway report --month {html.escape(month)}</code> on {calendar.local(now):%d %B %Y}.</p>
</body></html>
"""
