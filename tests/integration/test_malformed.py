"""Every file of the public malformed-mail corpus, through the daemon: a clear outcome each."""

from __future__ import annotations

import collections
from pathlib import Path

from tests.helpers import wait_for, write_config
from tests.integration.test_cli import gateway
from tests.helpers import db_rows
import pytest

pytestmark = pytest.mark.database

DATA = Path(__file__).resolve().parents[1] / "data" / "malformed"
OUTCOMES = {"resident_new", "resident_follow_up", "officer_reply", "auto_reply", "bounce", "loop", "held",
            "invalid", "duplicate"}


def test_the_malformed_corpus_goes_through_the_daemon_without_a_crash(tmp_path, gateway_process):
    files = sorted(p for p in DATA.rglob("*")
                   if p.is_file() and p.suffix in (".txt", ".eml") and not p.name.startswith("LICENSE"))
    assert len(files) >= 90
    path = write_config(tmp_path, smtp={"listen": ""})   # no relay: outgoing mail goes to the spool
    assert gateway("--config", str(path), "init").returncode == 0
    injected = gateway("--config", str(path), "inject", *map(str, files))
    assert injected.returncode == 0, injected.stderr
    daemon = gateway_process(path, None)
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'queued'") == [(0,)], 120,
             what="every message to be processed")
    wait_for(lambda: db_rows(tmp_path, "select count(*) from outbound where state = 'queued'") == [(0,)], 60,
             what="every message out to the spool")
    assert daemon.stop() == 0
    outcomes = collections.Counter(state for (state,) in db_rows(tmp_path, "select state from inbound"))
    parked = db_rows(tmp_path, "select id, stage, error from inbound where state = 'parked'")
    assert parked == [], parked[:3]
    assert outcomes == {"done": len(files)}
    kinds = {kind for (kind,) in db_rows(tmp_path, "select kind from inbound")}
    assert kinds <= OUTCOMES, kinds
    cases = db_rows(tmp_path, 'select count(*) from "case"')[0][0]
    assert cases > len(files) / 2  # most are people's mail, however broken: each became a case
    # What could be read went to the team with the original attached and a note of what was wrong.
    notes = [p.read_text(errors="replace") for p in (tmp_path / "var" / "outbox").glob("*team_new_case.eml")]
    assert len(notes) == cases and any("could not be read perfectly" in n for n in notes)
