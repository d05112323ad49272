"""Issue 16 with the daemon and a real relay: a case received six working days ago brings one
breach notice to the supervisor (and the team) and is listed overdue; one received four
working days ago brings one reminder; a restarted daemon sends neither again."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from gateway import config
from gateway.clock import SystemClock
from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database


def working_days_ago(calendar, days: int) -> dt.datetime:
    day = calendar.local(SystemClock().now()).date()
    while days:
        day -= dt.timedelta(days=1)
        if calendar.is_working_day(day):
            days -= 1
    return dt.datetime.combine(day, dt.time(10, 0), calendar.zone)


def test_old_cases_bring_one_breach_and_one_reminder_and_a_restart_sends_none_again(tmp_path, gateway_process,
                                                                                     relay):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)},
                        # Checks every 0.2 s: what is tested is that each notice goes once, however
                        # many checks see the case, not how often the daemon looks.
                        clock={"check_seconds": "0.2", "digest_time": "off"},
                        team__hightown={"supervisor": "inspector.hughes@police.example"})
    calendar = config.load(path).calendar
    assert gateway("--config", str(path), "init").returncode == 0
    for name, days in (("late", 6), ("soon", 4)):
        eml = tmp_path / f"{name}.eml"
        eml.write_bytes(resident_mail(sender=f"{name}@example.net", message_id=f"<{name}@example.net>",
                                      subject=f"The {name} one").as_bytes())
        received = working_days_ago(calendar, days).strftime("%Y-%m-%dT%H:%M")
        injected = gateway("--config", str(path), "inject", str(eml), "--received", received)
        assert injected.returncode == 0, injected.stderr
    daemon = gateway_process(path, port)
    wait_for(lambda: len(relay.messages("inspector.hughes@police.example")) >= 1, 20, what="the breach notice")
    wait_for(lambda: any("Reply due soon" in m["Subject"] for m in relay.messages("hightown.npt@police.example")),
             20, what="the reminder")
    time.sleep(0.8)   # four more checks
    assert daemon.stop() == 0
    before = len(relay.messages())
    breach, = relay.messages("inspector.hughes@police.example")
    assert breach["Subject"].startswith("[SRG-2026-0001] Overdue:")
    team = relay.messages("hightown.npt@police.example")
    assert sorted(m["Subject"] for m in team if "Overdue" in m["Subject"] or "due soon" in m["Subject"]) == [
        "[SRG-2026-0001] Overdue: The late one", "[SRG-2026-0002] Reply due soon: The soon one"]
    # Moved in from another system: the residents were acknowledged there, not again here.
    assert relay.messages("late@example.net") == [] and relay.messages("soon@example.net") == []
    listed = gateway("--config", str(path), "case", "list", "--overdue", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["reference"], r["age_working_days"], r["overdue"]) for r in rows] == [("SRG-2026-0001", 6, True)]
    checked = db_rows(tmp_path, "select last_done from job where name = 'reminders'")
    again = gateway_process(path, port)
    wait_for(lambda: db_rows(tmp_path, "select last_done from job where name = 'reminders'") != checked, 20,
             what="a check by the restarted daemon")
    time.sleep(1.6)   # eight checks more
    assert again.stop() == 0
    assert len(relay.messages()) == before
    assert db_rows(tmp_path, "select count(*) from notice") == [(2,)]
