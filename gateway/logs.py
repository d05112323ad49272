"""The daemon's log: one line per event, readable by a person ([gateway] log_format = text)
or a machine (json: one object per line), addresses shown as [gateway] log_addresses says.

An event about a message carries the case reference and Message-ID as `extra` fields
(log.info(..., extra=about(case="SRG-2026-0001", message_id="<...>"))): the JSON line has
them as keys, the text line shows them in the message. Subjects and bodies are never
logged (tests/integration/test_operations.py reads a whole conversation's log for them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import sys

ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
FIELDS = ("case", "message_id", "inbound", "outbound")


def about(**fields: object) -> dict:
    """`extra` for a log call: the case reference, Message-ID, inbound or outbound id."""
    return {key: value for key, value in fields.items() if value is not None}


def address_hash(address: str, key: bytes) -> str:
    """A short, stable stand-in for an address: the same address always gives the same one.
    Keyed (HMAC under the audit key, Settings.audit_key), so whoever reads the log cannot
    confirm a guessed address by hashing it."""
    return "addr-" + hmac.new(key, b"log:" + address.lower().encode(), hashlib.sha256).hexdigest()[:10]


def message_id_hash(value: str, key: bytes) -> str:
    """A Message-ID's stand-in in the log (log_addresses = hash): stable and keyed, as address_hash."""
    return "mid-" + hmac.new(key, b"message-id:" + value.encode(), hashlib.sha256).hexdigest()[:10]


class _Addresses:
    def __init__(self, mode: str, key: bytes = b"", own_domain: str = ""):
        # No key, no hash: an unkeyed one would let a guessed address be confirmed.
        self.mode, self.key = ("none" if mode == "hash" and not key else mode), key
        self.own = f"@{own_domain.lower()}>" if own_domain else None   # our Message-IDs: shown whole

    def __call__(self, text: str, keep: tuple[str, ...] = ()) -> str:
        if self.mode == "full" or "@" not in text:
            return text
        kept = {}
        for n, value in enumerate(v for v in keep if v):   # a Message-ID is shown as one (message_id())
            kept[f"\x00{n}\x00"] = self.message_id(value)
            text = text.replace(value, f"\x00{n}\x00")
        text = ADDRESS.sub((lambda m: address_hash(m.group(0), self.key)) if self.mode == "hash" else "<address>", text)
        for marker, value in kept.items():
            text = text.replace(marker, value)
        return text

    def message_id(self, value: str) -> str:
        """A Message-ID as the log shows it: whole only with log_addresses = full. A sender
        chooses their own, and `<ann.jones@example.net>` is as much her address as her From,
        so with hash it is a stable keyed stand-in (the same Message-ID, the same `mid-`). Our
        own (the gateway's domain) are whole: they name no one, and `gateway queue show` has them."""
        if self.mode == "full" or (self.own and value.lower().endswith(self.own)):
            return value
        return message_id_hash(value, self.key) if self.mode == "hash" else "<message-id>"


class TextFormatter(logging.Formatter):
    def __init__(self, addresses: str = "full", process: str = "", key: bytes = b"", own_domain: str = ""):
        super().__init__(f"%(asctime)s %(levelname)s %(name)s{process}: %(message)s")
        self.addresses = _Addresses(addresses, key, own_domain)

    def formatMessage(self, record: logging.LogRecord) -> str:
        keep = (getattr(record, "message_id", None),)
        shown = [f"{key.replace('_', '-')} {getattr(record, key)}" for key in ("case", "message_id")
                 if getattr(record, key, None) is not None and str(getattr(record, key)) not in record.message]
        text = self.addresses(record.message + (f" [{'; '.join(shown)}]" if shown else ""), keep)
        # One line per event: a line break a sender put in a header cannot forge a second one.
        record.message = text.replace("\r", "\\r").replace("\n", "\\n")
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return self.addresses(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    def __init__(self, addresses: str = "full", process: str = "", key: bytes = b"", own_domain: str = ""):
        super().__init__()
        self.addresses, self.process = _Addresses(addresses, key, own_domain), process.strip("[]") or "main"

    def format(self, record: logging.LogRecord) -> str:
        keep = (getattr(record, "message_id", None),)
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "process": self.process,
                "event": self.addresses(record.getMessage(), keep)}
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = self.addresses.message_id(value) if key == "message_id" else value
        if record.exc_info:
            line["error"] = self.addresses(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


QUIET_LIBRARIES = ("peewee", "psycopg", "psycopg.pool")


def configure(level: int, log_format: str = "text", addresses: str = "full", process: str = "",
              key: bytes = b"", own_domain: str = "") -> None:
    """Send the log to standard error (the journal, under systemd) in the chosen form; `key`
    keys the hashes of addresses (log_addresses = hash); Message-IDs of `own_domain` (ours)
    are shown whole."""
    handler = logging.StreamHandler(sys.stderr)
    kind = JsonFormatter if log_format == "json" else TextFormatter
    handler.setFormatter(kind(addresses, process, key, own_domain))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:   # at DEBUG they log each SQL statement with its values: bodies, names, subjects
        logging.getLogger(name).setLevel(max(level, logging.INFO))
