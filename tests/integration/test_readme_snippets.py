"""The README's examples as a new administrator runs them (issue 25, item 8): the smtplib
snippet sends mail the team's copy reads perfectly, the trial section says to stop the
first daemon (both listen on 8025), and the erase example says it asks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def python_snippets() -> list[str]:
    """The Python each `python3 - <<'MARK'` block of the README feeds to python3."""
    return [code for _, code in re.findall(r"python3 - <<'(\w+)'\n(.*?)\n\1\n", README, re.S)]


def section(title: str) -> str:
    start = README.index(f"## {title}")
    return README[start:README.index("\n## ", start + 1)]


def test_the_smtplib_snippet_sends_mail_the_teams_copy_reads_perfectly(tmp_path, gateway_process):
    port = free_port()
    example = (ROOT / "gateway.ini.example").read_text()
    (tmp_path / "gateway.ini").write_text(example.replace("listen = 127.0.0.1:8025", f"listen = 127.0.0.1:{port}"))
    gateway_process(tmp_path / "gateway.ini", port)
    snippet = python_snippets()[0]
    assert 'smtplib.SMTP("127.0.0.1", 8025)' in snippet
    sent = subprocess.run([sys.executable, "-"], input=snippet.replace("8025", str(port)), text=True,
                          capture_output=True, cwd=tmp_path, timeout=60)
    assert sent.returncode == 0, sent.stderr
    spool = tmp_path / "var" / "outbox"
    team = wait_for(lambda: sorted(spool.glob("*team_new_case.eml")), what="the team's copy")[0].read_text()
    assert "They ride on the pavement near LL13 7AB." in team
    assert "could not be read perfectly" not in team


def test_the_officers_snippet_sends_a_message_id_and_date_too():
    snippet = python_snippets()[1]
    assert 'reply["Date"], reply["Message-ID"] = formatdate(localtime=True), make_msgid(' in snippet


def test_the_trial_section_says_to_stop_the_first_daemon_both_listening_on_8025():
    trial = section("Try an officer's reply on one machine")
    assert "listen = 127.0.0.1:8025" in (ROOT / "contrib" / "gateway.trial.ini").read_text()
    assert "stop the first daemon" in " ".join(trial.split())


def test_the_erase_example_says_it_asks_or_gives_yes():
    example = re.search(r"\*\*Erase\.\*\* (.*?)\n- ", README, re.S).group(1)
    assert "--yes" in example and "asks" in example
