"""A test run that is killed (Ctrl-C, SIGTERM, SIGKILL) leaves no server behind: the
PostgreSQL clusters and daemons the fixtures start end with the test process that started them
(tests/servers/lifeline.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]

POSTGRES = """
    import sys
    from tests.servers import postgres
    server = postgres.shared()
    pid = (server.data / "postmaster.pid").read_text().split()[0]
    print(pid, server.root, flush=True)
    sys.stdin.read()
"""

DAEMON = """
    import sys
    from pathlib import Path
    from tests.conftest import GatewayProcess
    from tests.helpers import free_port, write_config
    port = free_port()
    path = write_config(Path(sys.argv[1]), smtp={"listen": f"127.0.0.1:{port}"})
    daemon = GatewayProcess(path, port).start()
    print(daemon.proc.pid, port, flush=True)
    sys.stdin.read()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone as far as anyone can see; only its parent has not reaped it yet
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"


def start_child(script: str, *argv: str) -> tuple[subprocess.Popen, list[str]]:
    """A test process (python) that starts a server as the fixtures do, and says which."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *argv], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().split()
    assert line, "the child test process started no server"
    return child, line


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_postgres_ends_with_the_test_process(sig):
    from tests.servers import postgres

    postgres.require()
    child, (pid, root) = start_child(POSTGRES)
    assert alive(int(pid))
    child.send_signal(sig)
    child.wait(10)
    wait_for(lambda: not alive(int(pid)), 15, what=f"postgres {pid} to stop after the test process had {sig!r}")
    wait_for(lambda: not Path(root).exists(), 15, what=f"{root} to be removed")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_daemon_ends_with_the_test_process(tmp_path, sig):
    child, (pid, port) = start_child(DAEMON, str(tmp_path))
    assert alive(int(pid))
    child.send_signal(sig)
    child.wait(10)
    wait_for(lambda: not alive(int(pid)), 15, what=f"the daemon {pid} to stop after the test process had {sig!r}")
