"""Issue 16: `gateway stats` and `gateway report` on real history (mail injected with
--received and answered by an officer), the report opened in a real headless browser: it
loads with no errors and fetches nothing, its three charts are there, and a screenshot is
written for a person to look at ($GATEWAY_SCREENSHOTS, else tmp_path; docs/ holds the last)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from gateway import db
from gateway.promise import stats
from gateway.clock import FakeClock
from gateway.render import Renderer
from gateway.runtime.worker import InboundWorker
from tests.helpers import ready_settings, resident_mail, signed, write_config
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database

NOVEMBER = [  # (team, received local, answered after working hours or None)
    ("hightown", "2026-11-02T09:30", 3), ("hightown", "2026-11-04T14:00", 30), ("hightown", "2026-11-10T10:00", 50),
    ("hightown", "2026-11-17T11:00", None), ("rhosddu", "2026-11-03T09:00", 8), ("rhosddu", "2026-11-18T16:00", 12),
    ("rhosddu", "2026-11-25T10:00", None),
]


def november(tmp_path) -> Path:
    """Seven cases in November 2026, five answered (one after its promise), through the pipeline."""
    path = write_config(tmp_path)
    settings = ready_settings(path)
    db.connect(settings.database, audit_key=settings.audit_key)
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))
    db.migrate(clock.now())
    worker = InboundWorker(settings, clock, Renderer(), "test")
    calendar = settings.calendar
    for n, (team, received, hours) in enumerate(NOVEMBER):
        at = dt.datetime.fromisoformat(received).replace(tzinfo=calendar.zone)
        clock._now = at
        postcode = "LL13 7AB" if team == "hightown" else "LL11 2AB"
        db.intake.save_inbound(resident_mail(body=f"Trouble near {postcode}.", message_id=f"<n{n}@example.net>",
                                             sender=f"r{n}@example.net").as_bytes(),
                               f"r{n}@example.net", ["surgery@surgery.example.org"], "smtp", clock.now(),
                               peer="127.0.0.1")
        while worker.process_one():
            pass
        if hours is None:
            continue
        case = db.cases.case_by_message_ids([f"<n{n}@example.net>"])
        forward = [d for d in db.cases.case_mail(case)[1] if d.purpose == "team_new_case"][0]
        import email
        reply_to = email.message_from_bytes(bytes(forward.raw))["Reply-To"]
        clock._now = at + dt.timedelta(hours=hours * 3)   # roughly: three clock hours per working hour
        officer = "pc.jones@police.example" if team == "hightown" else "pc.hughes@police.example"
        db.intake.save_inbound(signed(resident_mail(body="We have looked into it.", sender=officer, to=reply_to,
                                                    message_id=f"<o{n}@police.example>", subject="RE: it")),
                               officer, [reply_to], "smtp", clock.now(), peer="127.0.0.1")
        while worker.process_one():
            pass
    db.close()
    return path


def test_stats_count_the_promise_per_team(tmp_path):
    path = november(tmp_path)
    result = gateway("--config", str(path), "stats", "--since", "2026-11-01", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["team"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["hightown"]["opened"] == 4 and rows["hightown"]["answered"] == 3
    assert rows["rhosddu"]["opened"] == 3 and rows["rhosddu"]["answered"] == 2
    assert 0 < rows["hightown"]["in_time_share"] < 1   # one answered past its five days, one never
    assert rows["hightown"]["median_hours"] <= rows["hightown"]["p90_hours"]
    assert rows["hightown"]["open_now"] == 1 and rows["rhosddu"]["open_now"] == 1
    text = gateway("--config", str(path), "stats", "--since", "2026-11-01", "--team", "rhosddu")
    assert text.returncode == 0 and "rhosddu" in text.stdout and "hightown" not in text.stdout
    bad = gateway("--config", str(path), "stats", "--since", "November")
    assert bad.returncode == 2 and "'November' is not a date" in bad.stderr


def test_the_report_opens_in_a_browser_with_its_charts_and_no_network(tmp_path, browser):
    path = november(tmp_path)
    out = tmp_path / "report.html"
    made = gateway("--config", str(path), "report", "--month", "2026-11", "--out", str(out))
    assert made.returncode == 0, made.stderr
    page_html = out.read_text()
    import re
    fetched = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", page_html)
    assert fetched == [] and "<script" not in page_html   # nothing to fetch, nothing to run
    shots = Path(os.environ.get("GATEWAY_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    async def look(page):
        await page.open(out.as_uri())
        seen = await page.evaluate(
            "JSON.stringify({charts: document.querySelectorAll('figure svg').length,"
            " titles: [...document.querySelectorAll('figure svg .title')].map(t => t.textContent),"
            " bars: document.querySelectorAll('#per-week svg .rect, #per-week svg rect.rect').length,"
            " rows: document.querySelectorAll('#figures tr').length,"
            " fetched: performance.getEntriesByType('resource').length})")
        await page.screenshot(shots / "report.png", full_page=True)
        return json.loads(seen), page.errors

    seen, errors = browser.run(look)
    assert errors == []
    assert seen["charts"] == 3 and seen["fetched"] == 0 and seen["rows"] == 3
    assert any("Cases opened per week" in t for t in seen["titles"])
    assert any("Time to first answer" in t for t in seen["titles"])
    assert any("Share answered within the promise" in t for t in seen["titles"])
    assert seen["bars"] > 0
    assert (shots / "report.png").stat().st_size > 10_000
    bad = gateway("--config", str(path), "report", "--month", "2026-13", "--out", str(out))
    assert bad.returncode == 2 and "is not a month" in bad.stderr


def test_stats_figures_follow_the_working_hours():
    figures = stats.TeamFigures("t", "T", hours=[1.0, 2.0, 3.0, 10.0])
    assert figures.median_hours == 2.5 and figures.p90_hours == 10.0
    assert stats.TeamFigures("t", "T").in_time_share is None
