"""The systemd unit starts where a site does not use all four secret files (issue 25, item
8): each LoadCredential= has a SetCredential= stand-in (systemd takes it instead of failing
the unit when the file is missing), which the gateway counts as no credential; and `gateway
systemd-unit` writes a unit for this installation that `systemd-analyze verify` passes as
written, loading only the files the config names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import write_config
from tests.integration.test_cli import gateway

ROOT = Path(__file__).resolve().parents[2]


def verify(unit: Path) -> subprocess.CompletedProcess:
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing (.ci/run installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)


def test_every_credential_of_the_shipped_unit_has_a_stand_in_for_a_missing_file():
    from gateway.runtime import unit

    shipped = (ROOT / "contrib" / "surgery-gateway.service").read_text()
    assert shipped == unit.shipped(), "contrib/surgery-gateway.service is what `gateway systemd-unit` writes"
    loaded = re.findall(r"^LoadCredential=([^:\n]+):", shipped, re.MULTILINE)
    stand_ins = re.findall(r"^SetCredential=([^:\n]+):absent$", shipped, re.MULTILINE)
    assert loaded == ["relay-password", "dkim.key", "smtp.key", "imap-password"] and stand_ins == loaded


def test_the_stand_in_counts_as_no_credential_and_the_file_beside_the_config_is_read(tmp_path):
    from gateway.trust.dkim import new_key

    (tmp_path / "dkim.key").write_bytes(new_key(2048)[0])
    path = write_config(tmp_path, dkim={"domain": "surgery.example.org", "selector": "s1", "key_file": "dkim.key"})
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "dkim.key").write_text("absent")   # what systemd writes for SetCredential=dkim.key:absent
    checked = gateway("--config", str(path), "check-config", env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert checked.returncode == 0, checked.stdout


def test_the_generated_unit_loads_only_what_the_config_names_and_verifies_as_written(tmp_path):
    path = write_config(tmp_path, relay={"host": "127.0.0.1", "port": "2525", "username": "gw",
                                         "password_file": "relay-password"})
    (tmp_path / "relay-password").write_text("a long relay password\n")
    out = tmp_path / "surgery-gateway.service"
    made = gateway("--config", str(path), "systemd-unit", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "put relay-password in /etc/surgery-gateway/credentials/" in made.stdout
    text = out.read_text()
    assert re.findall(r"^LoadCredential=.*$", text, re.MULTILINE) == [
        "LoadCredential=relay-password:/etc/surgery-gateway/credentials/relay-password"]
    assert f"--config {path.resolve()} run" in text
    checked = verify(out)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
    again = gateway("--config", str(path), "systemd-unit", "--out", str(out))
    assert again.returncode == 2 and "cannot write" in again.stderr   # never over an installed unit


def test_the_generated_unit_lets_the_daemon_write_where_the_config_puts_its_files(tmp_path):
    data, spool = tmp_path / "data", tmp_path / "mail" / "outbox"
    path = write_config(tmp_path, gateway={"database": f"sqlite:///{data / 'gateway.db'}", "spool": str(spool)},
                        audit={"anchor_file": str(tmp_path / "anchors" / "head.txt")})
    out = tmp_path / "surgery-gateway.service"
    made = gateway("--config", str(path), "systemd-unit", "--out", str(out))
    assert made.returncode == 0, made.stderr
    text = out.read_text()
    assert f"WorkingDirectory=-{data}\n" in text
    # the secret file's default place is beside the database, so its folder is already there
    assert f"ReadWritePaths=-{data} -{spool} -{tmp_path / 'anchors'}\n" in text
    assert "ReadWritePaths=/var/lib" not in text and "WorkingDirectory=/var/lib" not in text
    assert f"Documentation=file://{ROOT / 'README.md'}\n" in text
    checked = verify(out)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
