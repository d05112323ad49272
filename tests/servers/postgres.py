"""A throw-away PostgreSQL server on a loopback port: initdb into a folder under /tmp (as the
`postgres` user when run as root: initdb refuses root), one server per test process, a fresh
database per test. fsync is off: these clusters hold nothing worth keeping. Under CI=true a
missing PostgreSQL is a failure."""

from __future__ import annotations

import atexit
import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.servers.lifeline import Watchdog

USER = "gw"


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing() -> str | None:
    """Why there can be no PostgreSQL here, or None when there can."""
    if binaries() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install -e '.[test]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root with no postgres user to run initdb as"
    return None


def require() -> None:
    why = missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


class Postgres:
    """One cluster; `database()` hands out a new empty database's URL."""

    def __init__(self, durable: bool = False) -> None:
        """`durable`: commits survive the server crashing (synchronous_commit on), for tests
        that kill it; otherwise commits are acknowledged before they reach the log."""
        require()
        self.durable = durable
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
        self.port = free_port()
        self.data = self.root / "data"
        self._names = itertools.count(1)
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self.watchdog: Watchdog | None = None

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *argv], capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "Postgres":
        # before the server exists: a test process killed at any moment after leaves none behind
        self.watchdog = Watchdog([[*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "stop",
                                   "-m", "immediate"]], self.root)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-instructions")
        self.pg_ctl("start", "-w", "-o", self.options(), "-l", str(self.root / "log"))
        atexit.register(self.remove)
        return self

    def options(self) -> str:
        commit = "on" if self.durable else "off"
        return (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit={commit} "
                "-c full_page_writes=off -c max_connections=200")

    def pg_ctl(self, *argv: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *argv)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode, "-w")

    def start_again(self) -> None:
        self.pg_ctl("start", "-w", "-o", self.options(), "-l", str(self.root / "log"))

    def restart(self) -> None:
        """As after a crash: every connection is cut, and the server comes back."""
        self.pg_ctl("restart", "-m", "immediate", "-w", "-o", self.options(), "-l", str(self.root / "log"))

    def url(self, name: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        if self.watchdog:
            self.watchdog.fire()
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


_shared: Postgres | None = None


def shared() -> Postgres:
    """This test process's cluster, started on first use."""
    global _shared
    if _shared is None:
        _shared = Postgres().start()
    return _shared
