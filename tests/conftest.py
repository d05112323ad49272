"""Fixtures: settings and a fresh database in tmp_path, a FakeClock, a real relay on loopback,
and the daemon itself in a subprocess."""

from __future__ import annotations

import email
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from gateway import db
from gateway.clock import FakeClock
from gateway.mail.parse import parse
from gateway.db.models import Outbound
from gateway.render import Renderer
from gateway.runtime.worker import InboundWorker
from tests import helpers
from tests.helpers import ready_settings, free_port, wait_for, write_config
from tests.servers.lifeline import die_with_parent


BACKENDS = tuple(os.environ.get("GATEWAY_TEST_BACKENDS", "sqlite,postgresql").split(","))


def pytest_configure(config):
    config.addinivalue_line("markers", "database: runs once per database backend (SQLite, PostgreSQL)")
    config.addinivalue_line("markers", "sqlite_only: reads or breaks the SQLite file itself")
    config.addinivalue_line("markers", "one_backend: in a `database` file, a test whose subject is not the "
                                       "database (parsing, scrubbing, tokens, form abuse): runs on the first backend only")


def pytest_generate_tests(metafunc):
    node = metafunc.definition
    if node.get_closest_marker("database") and not node.get_closest_marker("sqlite_only"):
        # one_backend: the database only stores what the test is about; running it twice
        # would test the same thing twice (CI's time, issue: the suite near its limit).
        backends = BACKENDS[:1] if node.get_closest_marker("one_backend") else BACKENDS
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(autouse=True)
def backend(request):
    """The database backend this test runs on: SQLite in tmp_path unless parametrized with
    "postgresql", which gives it a fresh database on this process's PostgreSQL server."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        from tests.servers import postgres

        helpers.database_url = postgres.shared().database()
        helpers.new_database = postgres.shared().database
    try:
        yield name
    finally:
        helpers.database_url = helpers.new_database = None
        db.close()


class Harness:
    """The pipeline in-process over a real SQLite database, with a FakeClock."""

    def __init__(self, folder: Path, **sections):
        self.settings = ready_settings(write_config(folder, **sections))
        self.clock = FakeClock()
        db.connect(self.settings.database, audit_key=self.settings.audit_key)
        db.migrate(self.clock.now())
        db.audit.claim_key(self.clock.now())   # as init and run do
        self.worker = InboundWorker(self.settings, self.clock, Renderer(), "test")

    def submit(self, msg, mail_from: str | None = None, rcpt_tos: list[str] | None = None,
               peer: str | None = "127.0.0.1", helo: str | None = "client.example.net") -> int:
        """Store a message as the SMTP door would (from `peer`), then run the pipeline."""
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        if mail_from is None:
            mail_from = parse(raw).from_address
        inbound_id = db.intake.save_inbound(raw, mail_from, rcpt_tos or ["surgery@surgery.example.org"],
                                        "smtp", self.clock.now(), peer=peer, helo=helo)
        while self.worker.process_one():
            pass
        return inbound_id

    def outbox(self, purpose: str | None = None) -> list[email.message.EmailMessage]:
        query = Outbound.select().order_by(Outbound.id)
        if purpose:
            query = query.where(Outbound.purpose == purpose)
        return [email.message_from_bytes(bytes(row.raw), policy=policy.default) for row in query]


@pytest.fixture
def harness(tmp_path) -> Harness:
    return Harness(tmp_path)


@pytest.fixture
def make_harness(tmp_path):
    return lambda **sections: Harness(tmp_path, **sections)


class _Collect:
    def __init__(self, relay: "Relay"):
        self.relay = relay

    async def handle_DATA(self, server, session, envelope):
        self.relay.keep(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content,
                        session.peer)
        return "250 OK"


class Relay:
    """A real SMTP server on loopback playing the outgoing relay; keeps what it receives."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.kept: list[tuple[str, list[str], bytes]] = []   # as taken: parsed only when a test reads it
        self.parsed: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.reading = threading.Lock()   # one reader parses at a time
        self.peers: list[tuple[str, int]] = []   # the connection each message came over
        self.controller: Controller | None = None

    def keep(self, mail_from: str, rcpt_tos: list[str], raw: bytes, peer: tuple[str, int] | None = None) -> None:
        """Keep a message the relay took (from the server's thread). Not parsed here: parsing
        thousands of bulletin copies as they come would slow the relay the daemon waits on."""
        with self.lock:
            self.kept.append((mail_from, list(rcpt_tos), raw))
            if peer is not None:
                self.peers.append(peer)   # one (host, port) per connection

    @property
    def received(self) -> list[tuple[str, list[str], email.message.EmailMessage]]:
        """What the relay has taken so far, in order: (MAIL FROM, RCPT TO list, the message)."""
        with self.reading:
            with self.lock:
                new = self.kept[len(self.parsed):]
            self.parsed.extend((sender, rcpts, email.message_from_bytes(raw, policy=policy.default))
                               for sender, rcpts, raw in new)
            return list(self.parsed)

    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of each message taken so far, without parsing the messages."""
        with self.lock:
            return [(sender, rcpts) for sender, rcpts, _ in self.kept]

    def start(self) -> "Relay":
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        return [m for _, rcpts, m in self.received if to is None or to in rcpts]

    def wait(self, count: int, timeout: float = 15.0) -> list[email.message.EmailMessage]:
        wait_for(lambda: len(self.kept) >= count, timeout, what=f"{count} messages at the relay")
        return self.messages()


@pytest.fixture
def relay():
    server = Relay().start()
    yield server
    server.stop()


class GatewayProcess:
    """`gateway --config PATH run` in a subprocess, as an administrator would start it."""

    def __init__(self, config_path: Path, port: int | None, env: dict[str, str] | None = None,
                 nofile: int | None = None):
        self.config_path, self.port, self.env = config_path, port, env
        self.nofile = nofile   # RLIMIT_NOFILE, soft and hard, for the daemon alone
        self.log = config_path.parent / "gateway.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "GatewayProcess":
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(self.config_path), "run"],
                                     stdout=handle, stderr=subprocess.STDOUT, cwd=self.config_path.parent,
                                     env={**os.environ, **self.env} if self.env else None,
                                     preexec_fn=die_with_parent(then=self._limit if self.nofile else None))
        if self.port:
            wait_for(self._listening, 15, what=f"the gateway to listen on port {self.port}\n{self.log_text()}")
        return self

    def _limit(self) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def gateway_process(tmp_path):
    started: list[GatewayProcess] = []

    def start(config_path: Path, port: int | None, env: dict[str, str] | None = None,
              nofile: int | None = None) -> GatewayProcess:
        process = GatewayProcess(config_path, port, env, nofile)
        started.append(process)   # before it starts: one that never listens is killed too
        return process.start()

    yield start
    for process in started:
        if process.proc and process.proc.poll() is None:
            try:   # SIGTERM first: the daemon stops its pipeline process; SIGKILL would orphan it
                process.stop(timeout=15)
            except subprocess.TimeoutExpired:
                process.proc.kill()
                process.proc.wait()


@pytest.fixture
def dovecot():
    from tests.servers.dovecot import Dovecot

    server = Dovecot().start()
    yield server
    server.remove()


@pytest.fixture
def dovecot_tls():
    from tests.servers.dovecot import Dovecot

    server = Dovecot(tls=True).start()
    yield server
    server.remove()


@pytest.fixture
def browser():
    """Debian's Chromium, headless, driven over the DevTools protocol (tests/servers/chromium.py)."""
    from tests.servers import chromium

    if not chromium.available():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is needed for the browser tests (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    opened = chromium.Browser()
    yield opened
    opened.close()
