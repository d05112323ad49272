"""The secret file (gateway/config/keyring.py): made once, rotated, read, and the grace."""

from __future__ import annotations

import datetime as dt
import stat

import pytest

from gateway.config import keyring

TODAY = dt.date(2026, 12, 3)


def test_ensure_makes_the_file_once_and_rotate_keeps_the_audit_key_and_the_old_secret_for_its_grace(tmp_path):
    ring = keyring.Keyring(file=tmp_path / "state" / "gateway.secret", grace_days=400)
    made, done = keyring.ensure(ring, TODAY)
    assert done.startswith("made the secret file") and stat.S_IMODE(made.file.stat().st_mode) == 0o600
    assert len(made.current()) >= 32 and len(made.audit_key) == 32
    assert keyring.ensure(made, TODAY) == (made, "")
    rotated, dropped = keyring.rotate(made, TODAY + dt.timedelta(days=10))
    assert dropped == 0 and rotated.audit_key == made.audit_key and rotated.current() != made.current()
    assert rotated.verifying(TODAY + dt.timedelta(days=410)) == (rotated.current(), made.current())
    assert rotated.verifying(TODAY + dt.timedelta(days=411)) == (rotated.current(),)
    lines = [line.split()[0] for line in made.file.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["audit-key", "signing", "signing"]   # oldest first
    later, dropped = keyring.rotate(rotated, TODAY + dt.timedelta(days=500))
    assert dropped == 1 and len(later.signing) == 2


def test_a_given_secret_signs_and_is_carried_into_the_file(tmp_path):
    given = "a-secret-given-in-the-ini-0123456789abcdef"
    made, _ = keyring.ensure(keyring.Keyring(file=tmp_path / "gateway.secret", given=given), TODAY)
    assert made.current() == given and given in made.file.read_text()


def test_known_and_short_secrets_are_named():
    assert "published example value" in keyring.problem("Change-Me")
    assert keyring.problem("trial-only-secret-not-for-service")
    assert keyring.problem("x" * 31) == "31 bytes is too short (at least 32)"
    assert keyring.problem("tQ7vR2xW9kLm4pZs8cYd3nHf6bJg5aEu") is None   # 32 bytes, random
    assert "guessable" in keyring.problem("x" * 32)   # 32 bytes, but one letter: see below


@pytest.mark.parametrize("value", ["a" * 36, "passwordpasswordpasswordpassword", "changemechangemechangemechangeme",
                                   "change-me-change-me-change-me-change-me", "0123456789abcdef0123456789abcdef",
                                   "abcdefghijklmnopqrstuvwxyz0123456789"])
def test_a_long_but_guessable_secret_is_refused(value):
    """Found by an independent attack: each of these passed `check-config` for being 32 bytes."""
    assert "guessable" in keyring.problem(value)


def test_random_secrets_pass():
    import secrets
    assert not [v for v in (secrets.token_urlsafe(32) for _ in range(2000)) if keyring.problem(v)]
    assert not [v for v in (secrets.token_hex(16) for _ in range(2000)) if keyring.problem(v)]
