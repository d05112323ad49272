"""`gateway stats` and `gateway report`: how often the promise to residents is kept."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from gateway.promise import stats
from gateway.cli.base import EXIT_CONFIG, _open_database, _settings, date_given, main, team_named
from gateway.clock import SystemClock


@main.command("stats")
@click.option("--since", metavar="DATE", help="Cases opened on or after DATE (YYYY-MM-DD); default: 30 days ago.")
@click.option("--team", help="Only this team (KEY as in [team:KEY]).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per team.")
@click.pass_context
def stats_command(ctx: click.Context, since: str | None, team: str | None, as_json: bool) -> None:
    """Per team: cases opened, answered within the promise (%), median and 90th percentile
    time to first answer in working hours, open and overdue now."""
    settings = _settings(ctx)
    if team:
        team_named(settings, team, "--team")
    now = SystemClock().now()
    calendar = settings.calendar
    start_day = date_given(since, "--since") if since else calendar.local(now).date() - dt.timedelta(days=30)
    _open_database(settings)
    start = dt.datetime.combine(start_day, dt.time(0), calendar.zone)
    rows = stats.figures(settings, start, now + dt.timedelta(seconds=1), now, team)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict() | {"since": str(start_day)}))
        return
    click.echo(f"Cases opened since {start_day} (promise: {settings.response_days} working days; "
               f"working hours {settings.clock.opens:%H:%M}-{settings.clock.closes:%H:%M})")
    click.echo(f"{'team':<12} {'opened':>6} {'answered':>8} {'in time':>8} {'median':>8} {'p90':>8} {'open':>5} {'overdue':>7}")
    for row in rows:
        share = "-" if row.in_time_share is None else f"{100 * row.in_time_share:.0f}%"
        median = "-" if row.median_hours is None else f"{row.median_hours:.1f}h"
        p90 = "-" if row.p90_hours is None else f"{row.p90_hours:.1f}h"
        click.echo(f"{row.team:<12} {row.opened:>6} {row.answered:>8} {share:>8} {median:>8} {p90:>8} "
                   f"{row.open_now:>5} {row.overdue_now:>7}")


@main.command("report")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to report on.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
@click.pass_context
def report_command(ctx: click.Context, month: str, out: Path) -> None:
    """Write one self-contained HTML page on a month (figures and charts, inline SVG; it
    opens with no network) for an inspector."""
    from gateway.promise import report

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise click.BadParameter(f"{month!r} is not a month (YYYY-MM, e.g. 2026-11)", param_hint="--month")
    settings = _settings(ctx)
    _open_database(settings)
    page = report.render(settings, month, SystemClock().now())
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:   # no such folder, no permission: the command line's to fix
        click.echo(f"Error: --out: cannot write {out}: {exc.strerror or exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    click.echo(f"wrote {out}")
