"""Erasure: a resident's data removed at their request (`gateway erase`), and a record of it
kept in the audit trail.

Besides the database (gateway/db/privacy.py erase), the spool: the folder of .eml files
delivery writes when no relay is set ([gateway] spool). A file goes when it names the
resident: their address anywhere in its headers or text (so mail to them, and a team's copy
quoting them), or the reference of one of their erased cases (an officer's answer copied to
the team, a held reply). Each file is read as it is and decoded (a base64 or quoted-
printable body hides words from a plain search of its bytes).
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import re
from email import policy
from pathlib import Path

from gateway import db
from gateway.config import Settings
from gateway.privacy.access import sent_by

log = logging.getLogger(__name__)


def erase(settings: Settings, address: str, now: dt.datetime, actor: str) -> db.privacy.Erased:
    """Erase what the database holds about `address`, then the spool files naming them."""
    address = address.strip().lower()
    done = db.privacy.erase(address, sent_by(address), now, actor)
    done.spool_files = len(sweep_spool(settings.spool, address, done.references))
    return done


def sweep_spool(folder: Path, address: str, references: list[str]) -> list[Path]:
    """Delete the spool files naming the address or one of the case references; those deleted."""
    if not folder.is_dir():
        return []
    patterns = [re.compile(r"(?<![\w.+-])" + re.escape(address) + r"(?![\w-]|\.\w)", re.IGNORECASE)]
    patterns += [re.compile(r"(?<![A-Za-z0-9])" + re.escape(ref) + r"(?![0-9])", re.IGNORECASE) for ref in references]
    gone = []
    for path in sorted(folder.glob("*.eml")):
        try:
            raw = path.read_bytes()
            if names(raw, patterns):
                path.unlink()
                gone.append(path)
        except OSError as exc:   # delivery wrote or moved it meanwhile: say so, go on
            log.warning("erase: could not read or delete spool file %s: %s", path, exc.strerror or exc)
    return gone


def names(raw: bytes, patterns: list[re.Pattern]) -> bool:
    """Whether a message matches any pattern: in its bytes, or in its headers and text parts decoded."""
    plain = raw.decode("utf-8", errors="replace")
    if any(p.search(plain) for p in patterns):
        return True
    try:
        decoded = _decoded(raw)
    except Exception:   # a file the email package cannot take apart: its bytes were searched
        return False
    return any(p.search(decoded) for p in patterns)


def _decoded(raw: bytes) -> str:
    """Every header and text part of a message (attached messages too), decoded."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = [f"{name}: {value}" for name, value in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
        elif part.get_content_type() == "message/rfc822":
            parts.extend(f"{name}: {value}" for name, value in part.get_payload(0).items())
    return "\n".join(parts)
