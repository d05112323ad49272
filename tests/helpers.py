"""Shared test helpers: configs in tmp_path, messages, free loopback ports."""

from __future__ import annotations

import configparser
import socket
import sqlite3
import time
from email.message import EmailMessage
from pathlib import Path

from tests.servers.dns import shared as shared_dns

BASE_CONFIG = {
    "gateway": {
        "domain": "surgery.example.org",
        "surgery_address": "surgery@surgery.example.org",
        "database": "sqlite:///var/gateway.db",
        "secret": "tQ7vR2xW9kLm4pZs8cYd3nHf6bJg5aEu1oTi",   # the test world's: long and random-looking
        "spool": "var/outbox",
        "reference_prefix": "SRG",
    },
    "smtp": {"listen": "", "max_message_bytes": "10485760"},
    "relay": {"host": "", "port": "25", "retry_delays": "1, 1, 2"},
    "worker": {"lease_seconds": "3", "poll_seconds": "0.2", "delivery_workers": "2"},
    # No morning digest unless a test asks: it would add mail to every team mailbox on a
    # working day after 08:00.
    "clock": {"digest_time": "off"},
    "team:hightown": {
        "name": "Hightown Neighbourhood Policing Team",
        "mailbox": "hightown.npt@police.example",
        "address": "hightown@surgery.example.org",
        "officers": "pc.jones@police.example, sgt.evans@police.example",
        "postcodes": "LL13 7, LL13 8",
        "default": "yes",
    },
    "team:rhosddu": {
        "name": "Rhosddu Neighbourhood Policing Team",
        "mailbox": "rhosddu.npt@police.example",
        "address": "rhosddu@surgery.example.org",
        "officers": "pc.hughes@police.example",
        "postcodes": "LL11 2",
    },
}


# The database tests write into their configs: SQLite in the test's folder unless the
# `backend` fixture (tests/conftest.py) has given this test a PostgreSQL database.
database_url: str | None = None
new_database = None   # on PostgreSQL: makes another empty database, for a second installation


def second_installation() -> dict[str, str]:
    """[gateway] keys giving a second gateway in one test a database of its own."""
    return {"database": new_database()} if new_database else {}


def write_config(folder: Path, **sections: dict[str, str]) -> Path:
    """Write gateway.ini in folder: BASE_CONFIG with sections updated (None drops a key)."""
    merged = {name: dict(keys) for name, keys in BASE_CONFIG.items()}
    if database_url:
        merged["gateway"]["database"] = database_url
    # Sender checks ask the test world's DNS server on loopback (tests/servers/dns.py).
    merged["trust"] = {"dns_servers": shared_dns().address, "dns_timeout_seconds": "2"}
    for name, keys in sections.items():
        name = name.replace("__", ":")
        merged.setdefault(name, {})
        for key, value in keys.items():
            if value is None:
                merged[name].pop(key, None)
            else:
                merged[name][key] = value
    lines = []
    for name, keys in merged.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in keys.items())
        lines.append("")
    path = folder / "gateway.ini"
    path.write_text("\n".join(lines))
    return path


def ready_settings(path: Path):
    """config.load, with the secret file made first as `gateway init` (or `run`) makes it."""
    import dataclasses
    import datetime as dt

    from gateway import config
    from gateway.config import keyring

    settings = config.load(path)
    ring, _ = keyring.ensure(settings.keyring, dt.datetime.now(dt.timezone.utc).date())
    return dataclasses.replace(settings, keyring=ring)


def database_of(folder: Path) -> str:
    """The database URL the gateway.ini in `folder` names, a SQLite path made absolute."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(folder / "gateway.ini")
    url = parser["gateway"]["database"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{folder / url[len('sqlite:///'):]}"
    return url


def db_rows(folder: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one SQL statement on the database of the gateway.ini in `folder` (url_rows)."""
    return url_rows(database_of(folder), sql, params)


def url_rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one SQL statement on the database a URL names, as a person with the database's
    own client would (sqlite3 or psycopg, committing at once); its rows. Placeholders are
    written `?`."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):], timeout=30) as conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def database_made(folder: Path) -> bool:
    """Whether the gateway has made its database: the SQLite file, or on PostgreSQL (where
    the empty database is there from the start) its tables."""
    url = database_of(folder)
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).exists()
    return bool(db_rows(folder, "SELECT 1 FROM pg_tables WHERE tablename = 'schema_version'"))


def resident_mail(subject: str = "Bikes on the pavement", body: str = "They ride on the pavement.",
                  sender: str = "Ann Resident <ann@example.net>", to: str = "surgery@surgery.example.org",
                  message_id: str | None = "<a1@example.net>", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; return its value, or fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def signed(msg, domain: str = "police.example") -> bytes:
    """A message DKIM-signed as `domain` signs its mail (the test world's key, served by
    tests/servers/dns.py): how a genuine officer's reply arrives."""
    from tests.servers.dns import sign

    return sign(msg if isinstance(msg, bytes) else msg.as_bytes(), domain)
