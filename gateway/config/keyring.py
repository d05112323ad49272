"""The gateway's own secrets, in a file nobody ships: the keys that sign reply addresses,
token addresses (confirm, unsubscribe, publish, bounces) and our Message-IDs, and the audit
key that keys the audit trail's hashes and the pseudonyms of residents.

`gateway init` (and the first `gateway run`) makes the file, mode 0600; `gateway secret
rotate` adds a new signing secret. Reading the config never creates it. The format, one
item a line (`#` starts a comment):

    audit-key <64 hex digits>              made once; never rotates
    signing <YYYY-MM-DD> <secret>          one line per signing secret, with the day it was made,
                                           oldest first

The newest signing secret signs; an older one still verifies until `[gateway]
secret_grace_days` after the day the one after it was made (reply addresses sit in
residents' and officers' mailboxes for months).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_NAME = "gateway.secret"
MIN_BYTES = 32
# Values published in this project's examples, tests and documentation, ever: never a secret.
MIN_DISTINCT = 6    # a random secret of 32 characters has 14 (hex) to 25 or more
KNOWN = frozenset({"change-me", "changeme", "secret", "password", "trial-only-secret-not-for-service",
                   "test-secret-0123456789abcdef"})
HEADER = ("# Surgery Gateway secrets: made by `gateway init`; `gateway secret rotate` adds a signing secret.\n"
          "# Keep it private (mode 0600) and back it up with the database: without the audit key the\n"
          "# audit trail cannot be verified. Every daemon sharing one database needs this same file.\n")
_LINE = re.compile(r"^(audit-key)\s+([0-9a-f]{64})$|^(signing)\s+(\d{4}-\d{2}-\d{2})\s+(\S+)$")


class MissingSecret(Exception):
    """A command needs the secret file and it has not been made yet."""


@dataclass(frozen=True)
class Signing:
    made: dt.date
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """[gateway] secret_file, read; `given` is [gateway] secret, for those who set one."""

    file: Path
    grace_days: int = 400
    given: str = field(default="", repr=False)
    signing: tuple[Signing, ...] = ()          # newest first
    audit_key: bytes = field(default=b"", repr=False)

    @property
    def ready(self) -> bool:
        """Whether the file has been read (made by `gateway init` or `gateway run`)."""
        return bool(self.audit_key)

    def _need(self) -> None:
        if not self.ready:
            raise MissingSecret(f"there is no secret file at {self.file} yet: run `gateway init` "
                                "(or start the daemon with `gateway run`), which makes it")

    def current(self) -> str:
        """The secret that signs everything new."""
        self._need()
        return self.given or self.signing[0].secret

    def verifying(self, today: dt.date) -> tuple[str, ...]:
        """Every secret that verifies today: the current one, and those replaced less than
        grace_days ago (a secret is replaced on the day the next one was made)."""
        self._need()
        kept = [self.signing[0].secret] if self.signing else []
        for newer, older in zip(self.signing, self.signing[1:]):
            if today <= newer.made + dt.timedelta(days=self.grace_days):
                kept.append(older.secret)
        return tuple(dict.fromkeys([self.current(), *kept]))


def problem(value: str) -> str | None:
    """Why a value cannot be a secret, or None."""
    if value.lower() in KNOWN:
        return f"{value!r} is a published example value, so anyone can sign with it"
    if len(value.encode()) < MIN_BYTES:
        return f"{len(value.encode())} bytes is too short (at least {MIN_BYTES})"
    guessable = _guessable(value)
    if guessable:
        return f"it is long but guessable ({guessable}): make one with `gateway init` or secrets.token_urlsafe(32)"
    return None


def _guessable(value: str) -> str | None:
    """Why a long value is still easy to guess (a word repeated, few characters, a run of the
    keyboard or the alphabet), or None. Random secrets of 32 bytes or more pass easily."""
    if len(set(value)) < MIN_DISTINCT:
        return f"only {len(set(value))} different characters"
    period = next((p for p in range(1, len(value) // 2 + 1)
                   if all(value[i] == value[i + p] for i in range(len(value) - p))), None)
    if period is not None:
        return f"{value[:period]!r} repeated"
    steps = sum(abs(ord(b) - ord(a)) <= 1 for a, b in zip(value, value[1:]))
    if steps * 2 > len(value):
        return "mostly runs of neighbouring characters"
    return None


def read(keyring: Keyring, problems: list[str]) -> Keyring:
    """The keyring with the file's contents, if the file is there; problems name the key."""
    try:
        text = keyring.file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return keyring
    except (OSError, UnicodeError) as exc:
        problems.append(f"[gateway] secret_file: cannot read {keyring.file}: {getattr(exc, 'strerror', None) or exc}")
        return keyring
    audit, signing = b"", []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        where = f"[gateway] secret_file: {keyring.file} line {number}"
        if not match:
            problems.append(f"{where}: not 'audit-key HEX' or 'signing YYYY-MM-DD SECRET'")
        elif match.group(1):
            audit = bytes.fromhex(match.group(2))
        elif why := problem(match.group(5)):
            problems.append(f"{where}: {why}: run `gateway secret rotate`, then remove that line")
        else:
            signing.append(Signing(dt.date.fromisoformat(match.group(4)), match.group(5)))
    if not audit or not signing:
        problems.append(f"[gateway] secret_file: {keyring.file} needs an audit-key line and a signing line")
        return keyring
    # Newest first; of two made the same day, the later line.
    ordered = [s for _, s in sorted(enumerate(signing), key=lambda p: (p[1].made, p[0]), reverse=True)]
    return replace(keyring, signing=tuple(ordered), audit_key=audit)


def ensure(keyring: Keyring, today: dt.date) -> tuple[Keyring, str]:
    """Make the file if it is not there (with [gateway] secret as its signing secret when one
    is given, else a new random one), or carry a given secret into it; (the keyring as now
    read, what was done, "" for nothing). Only `init` and `run` call this."""
    if not keyring.ready and not keyring.file.exists():
        first = keyring.given or secrets.token_urlsafe(32)
        _write(keyring.file, secrets.token_bytes(32), (Signing(today, first),))
        return _reread(keyring), f"made the secret file {keyring.file} (mode 0600)"
    if keyring.given and keyring.given not in (s.secret for s in keyring.signing):
        _write(keyring.file, keyring.audit_key, (Signing(today, keyring.given), *keyring.signing))
        return _reread(keyring), f"carried [gateway] secret into {keyring.file}"
    return keyring, ""


def rotate(keyring: Keyring, today: dt.date) -> tuple[Keyring, int]:
    """A new signing secret; those past their grace are dropped. (The keyring, how many dropped.)"""
    keyring._need()
    verifying = set(keyring.verifying(today))
    kept = tuple(s for s in keyring.signing if s.secret in verifying)
    _write(keyring.file, keyring.audit_key, (Signing(today, secrets.token_urlsafe(32)), *kept))
    return _reread(keyring), len(keyring.signing) - len(kept)


def _reread(keyring: Keyring) -> Keyring:
    problems: list[str] = []
    fresh = read(replace(keyring, signing=(), audit_key=b""), problems)
    if problems:
        raise OSError("; ".join(problems))
    return fresh


def _write(path: Path, audit_key: bytes, signing: tuple[Signing, ...]) -> None:
    """Write the whole file anew (`signing` newest first; the file lists them oldest first),
    mode 0600 from the first byte, and swap it in at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER, f"audit-key {audit_key.hex()}\n"]
    lines += [f"signing {s.made.isoformat()} {s.secret}\n" for s in reversed(signing)]
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")   # mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("".join(lines))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
