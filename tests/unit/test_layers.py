"""The layers hold: import-linter's contracts in pyproject.toml ([tool.importlinter]) are kept.
A module that reaches past its layer (the pipeline importing peewee, the database importing
the pipeline) fails this test, and so CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_a_module_that_reaches_past_its_layer_breaks_a_contract(tmp_path):
    """The contracts are not vacuous: a copy of the package whose pipeline imports the models
    is refused."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "gateway", copy / "gateway", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    stage = copy / "gateway" / "pipeline" / "stages.py"
    stage.write_text("from gateway.db.models import Case  # noqa\n" + stage.read_text())
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gateway.pipeline is not allowed to import gateway.db.models" in result.stdout
    assert "gateway.pipeline.stages -> gateway.db.models" in result.stdout
