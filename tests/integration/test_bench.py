"""Every benchmark still runs (issue 25, item 9): each script of bench/run_all, and
bench/reminders.py, at a tiny size (a few messages, a few subscribers), so that a change
that breaks one fails the suite instead of the next person to measure. Only that each runs
to the end without a traceback is checked here: the figures are for bench/RESULTS.md.

Scripts that need Postfix (smtp-sink, smtp-source) or Dovecot are skipped where those are
missing, except under CI=true; those that read the public corpora beside the repository
(../shared/corpora) are skipped where the corpora are not there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"

# script -> (arguments for a tiny run, what it needs beyond the test install)
TINY = {
    "bench/trim_corpus.py": ((), "corpora"),
    "bench/corpus_quality.py": (("--every", "25"), "corpora"),
    "bench/language.py": ((), "corpora"),
    "bench/urgency.py": ((), ""),
    "bench/bounce_reasons.py": ((), "corpora"),
    "bench/imap_intake.py": (("--messages", "5", "--runs", "1"), "dovecot"),
    "bench/smtp_intake.py": (("--messages", "8"), "postfix"),
    "bench/door.py": (("--idle", "3", "--seconds", "1"), ""),
    "bench/trust_check.py": (("--messages", "3"), ""),
    "bench/scrub.py": (("--calls", "3", "--rounds", "1"), ""),
    "bench/whole_path.py": (("--messages", "10"), "postfix"),
    "bench/head_of_line.py": (("--slow", "2", "--runs", "1", "--dns-timeout", "0.3"), ""),
    "bench/bulletin.py": (("--subscribers", "20", "--deliver", "10", "--workers", "2"), "postfix"),
    "bench/reminders.py": (("--cases", "10"), ""),
    "bench/form.py": (("--submissions", "3"), ""),
    "bench/oauth_tokens.py": (("--hours", "0.1", "--every", "60", "--runs", "2"), ""),
}


def missing(need: str) -> str:
    """Why a benchmark cannot run here ("" when it can)."""
    if need == "postfix" and not (shutil.which("smtp-sink") or Path("/usr/sbin/smtp-sink").exists()):
        return "Postfix's smtp-sink is not installed (apt-get install postfix)"
    if need == "dovecot":
        if not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()):
            return "dovecot is not installed (apt-get install dovecot-imapd)"
        if os.geteuid() != 0:
            return "the IMAP benchmark runs Dovecot as root"
    return ""


def test_run_all_runs_every_script_this_test_runs():
    listed = re.findall(r'"(bench/\w+\.py)[^"]*"', (ROOT / "bench" / "run_all").read_text())
    assert listed and set(listed) <= set(TINY), set(listed) - set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_the_benchmark_runs_at_a_tiny_size(script):
    arguments, need = TINY[script]
    if need == "corpora":
        if not CORPORA.is_dir():
            pytest.skip(f"the public corpora are not at {CORPORA}")
    elif missing(need):
        if os.environ.get("CI") == "true":
            pytest.fail(missing(need))
        pytest.skip(missing(need))
    result = subprocess.run([sys.executable, script, *arguments], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and "Traceback" not in result.stderr, \
        f"{script} {' '.join(arguments)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script} printed nothing"
