"""Secrets nobody ships (issue 23): `gateway init` makes a random secret file, mode 0600, and
`run` uses it; a known or short secret is refused; `gateway secret rotate` signs new mail
with a new secret while addresses signed before keep working for the grace, and not after;
the unsubscribe page shows a masked address and refuses a link signed with `change-me`."""

from __future__ import annotations

import re
import smtplib
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway import config
from gateway.mail.addresses import reply_address, token, verify_reply_address
from tests.conftest import Harness
from tests.helpers import db_rows, free_port, resident_mail, signed, wait_for, write_config
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database
DOMAIN = "surgery.example.org"
OLD = "an-old-signing-secret-0123456789abcdefghij"
NEW = "a-newer-signing-secret-0123456789abcdefghij"
AUDIT = "ab" * 32


def no_secret(folder: Path, **sections) -> Path:
    """A config with no [gateway] secret line, as gateway.ini.example is now."""
    return write_config(folder, **{**sections, "gateway": {"secret": None, **sections.get("gateway", {})}})


def secret_file(folder: Path) -> Path:
    return config.load(folder / "gateway.ini").keyring.file


def test_init_makes_a_private_random_secret_file_and_run_signs_with_it(tmp_path, gateway_process, relay):
    port = free_port()
    path = no_secret(tmp_path, smtp={"listen": f"127.0.0.1:{port}"}, relay={"host": "127.0.0.1", "port": str(relay.port)})
    checked = gateway("--config", str(path), "check-config")
    assert checked.returncode == 0 and "is not made yet: `gateway init`" in checked.stdout
    file = secret_file(tmp_path)
    assert not file.exists()   # reading the config makes nothing
    status = gateway("--config", str(path), "status")
    assert status.returncode == 2 and "`gateway init`" in status.stderr

    made = gateway("--config", str(path), "init")
    assert made.returncode == 0 and f"made the secret file {file} (mode 0600)" in made.stdout
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    secret = config.load(path).secret
    assert len(secret) >= 32 and secret in file.read_text() and "change-me" not in file.read_text()
    again = gateway("--config", str(path), "init")
    assert again.returncode == 0 and "made the secret file" not in again.stdout
    assert config.load(path).secret == secret   # a second init keeps it
    file.rename(tmp_path / "elsewhere")
    missing = gateway("--config", str(path), "status")
    assert missing.returncode == 2 and f"there is no secret file at {file}" in missing.stderr
    assert "restore the secret file from your backup" in missing.stderr   # the database has a trail now
    (tmp_path / "elsewhere").rename(file)

    daemon = gateway_process(path, None)
    wait_for(lambda: _sent(port), 60, what="the daemon to take a message")
    forward = wait_for(lambda: relay.messages("hightown.npt@police.example"), 30, what="the team's copy")[0]
    assert verify_reply_address(forward["Reply-To"], secret, DOMAIN) == "SRG-2026-0001"
    assert daemon.stop() == 0


def test_init_refuses_a_new_secret_for_a_database_with_a_trail_and_says_restore_it(tmp_path):
    path = no_secret(tmp_path)
    assert gateway("--config", str(path), "init").returncode == 0
    file = secret_file(tmp_path)
    file.rename(tmp_path / "backup.secret")   # moved away, as an administrator might
    listed = gateway("--config", str(path), "case", "list")
    assert listed.returncode == 2, listed.stdout + listed.stderr
    assert "restore the secret file from your backup" in listed.stderr and "run `gateway init`" not in listed.stderr
    for command in ("init", "run"):
        refused = gateway("--config", str(path), command)
        assert refused.returncode == 2, (command, refused.stdout + refused.stderr)
        assert (f"there is no secret file at {file} ([gateway] secret_file), but the database" in refused.stderr
                and "restore the secret file from your backup (`gateway init` makes one only for a new "
                "installation)" in refused.stderr), command
        assert not file.exists(), command   # no new, wrong file left in place
    (tmp_path / "backup.secret").rename(file)
    assert gateway("--config", str(path), "case", "list").returncode == 0


@pytest.mark.parametrize("given, why", [("change-me", "'change-me' is a published example value"),
                                        ("x" * 20, "20 bytes is too short (at least 32)")])
def test_check_config_and_run_refuse_a_known_or_short_secret(tmp_path, given, why):
    path = write_config(tmp_path, gateway={"secret": given})
    for command in ("check-config", "run"):
        result = gateway("--config", str(path), command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"[gateway] secret: {why}" in result.stdout + result.stderr, command
    assert not (tmp_path / "var" / "gateway.secret").exists()


def test_a_known_secret_in_the_secret_file_is_refused_too(tmp_path):
    path = no_secret(tmp_path)
    file = secret_file(tmp_path)
    file.parent.mkdir(exist_ok=True)
    file.write_text(f"audit-key {AUDIT}\nsigning 2026-01-01 change-me\n")
    result = gateway("--config", str(path), "check-config")
    assert result.returncode == 2 and f"[gateway] secret_file: {file} line 2: 'change-me' is a published" in result.stdout


def test_the_shipped_configs_have_no_secret_line():
    root = Path(__file__).resolve().parents[3]
    for name in ("gateway.ini.example", "contrib/gateway.trial.ini"):
        text = (root / name).read_text()
        assert not re.search(r"^\s*secret\s*=", text, re.M), name
        assert config.load(root / name).keyring.given == ""


def officer_reply(harness: Harness, to: str, message_id: str) -> None:
    msg = resident_mail(body="We will patrol on Friday.\nPC Jones", sender="PC Jones <pc.jones@police.example>",
                        message_id=message_id, subject="RE: [SRG-2026-0001] Bikes on the pavement", to=to)
    harness.submit(signed(msg), rcpt_tos=[to])


def test_after_a_rotation_old_reply_addresses_still_thread_and_new_mail_is_signed_with_the_new_secret(tmp_path):
    harness = Harness(tmp_path, gateway={"secret": None})
    path = harness.settings.path
    harness.submit(resident_mail())
    old_address = harness.outbox("team_new_case")[0]["Reply-To"]
    before = harness.settings.secret

    rotated = gateway("--config", str(path), "secret", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "New signing secret written to" in rotated.stdout and "still verifies until" in rotated.stdout
    assert stat.S_IMODE(harness.settings.keyring.file.stat().st_mode) == 0o600
    config.apply_reload(harness.settings, config.load(path))   # what SIGHUP does in the daemon
    assert harness.settings.secret != before and before in harness.settings.secrets

    officer_reply(harness, old_address, "<o1@police.example>")
    answer, = harness.outbox("resident_answer")
    assert "We will patrol on Friday." in answer.get_content()
    harness.submit(resident_mail(message_id="<a2@example.net>", sender="bob@example.com", subject="Graffiti"))
    second = harness.outbox("team_new_case")[-1]
    assert second["Reply-To"] == reply_address("SRG-2026-0002", harness.settings.secret, DOMAIN)
    assert verify_reply_address(second["Reply-To"], before, DOMAIN) is None


def test_a_reply_address_signed_with_a_secret_past_its_grace_is_held(tmp_path):
    file = tmp_path / "keys" / "gateway.secret"
    file.parent.mkdir()
    # OLD was replaced on 2021-06-01: 400 days later it stopped verifying.
    file.write_text(f"audit-key {AUDIT}\nsigning 2020-01-01 {OLD}\nsigning 2021-06-01 {NEW}\n")
    file.chmod(0o600)
    harness = Harness(tmp_path, gateway={"secret": None, "secret_file": str(file)})
    assert harness.settings.secret == NEW and harness.settings.secrets == (NEW,)
    harness.submit(resident_mail())
    officer_reply(harness, reply_address("SRG-2026-0001", OLD, DOMAIN), "<o1@police.example>")
    assert harness.outbox("resident_answer") == []
    notice, = harness.outbox("team_held")
    assert "signature does not match" in notice.get_body(("plain",)).get_content()

    longer = config.load(write_config(tmp_path, gateway={"secret": None, "secret_file": str(file),
                                                         "secret_grace_days": "36500"}))
    assert set(longer.secrets) == {NEW, OLD}


def test_the_unsubscribe_page_masks_the_address_and_a_link_signed_with_change_me_is_not_recognised(
        tmp_path, gateway_process):
    http = free_port()
    path = no_secret(tmp_path, http={"listen": f"127.0.0.1:{http}", "base_url": "https://alerts.example.org"},
                     area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    assert gateway("--config", str(path), "init").returncode == 0
    assert gateway("--config", str(path), "subscribers", "add", "sian@example.net", "--area", "hightown").returncode == 0
    subscriber = db_rows(tmp_path, "SELECT id FROM subscriber")[0][0]
    daemon = gateway_process(path, None)
    base = f"http://127.0.0.1:{http}/unsubscribe/"
    wait_for(lambda: _get(base + "1-aaaaaaaaaaaaaaaa") is not None, 60, what="the web page")

    status, page = _get(base + token("unsubscribe", subscriber, config.load(path).secret))
    assert status == 200 and "s***@example.net" in page and "sian@example.net" not in page
    for guess in range(1, 4):   # what anyone could make from the shipped secret
        status, page = _get(base + token("unsubscribe", guess, "change-me"))
        assert status == 404 and "Link not recognised" in page and "example.net" not in page
        assert _post(base + token("unsubscribe", guess, "change-me")) == 404
    assert db_rows(tmp_path, "SELECT state FROM subscription") == [("active",)]
    assert daemon.stop() == 0


def _sent(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(resident_mail())
        return True
    except OSError:
        return False


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url + "?lang=en", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def _post(url: str) -> int:
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
