"""What an administrator sees when a command cannot do what was asked: one line saying why,
no traceback, and the README's exit codes (2: the command line, the config or the
database; 1: some of what was named could not be done)."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import free_port, wait_for, write_config
from tests.integration.test_cli import gateway


def one_line_error(result, code: int) -> str:
    """The error a command printed, checked to be one line, with `code` and no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def initialised(tmp_path, **sections) -> str:
    path = str(write_config(tmp_path, **sections))
    assert gateway("--config", path, "init").returncode == 0
    return path


def test_report_into_a_folder_that_is_not_there_says_so_in_one_line(tmp_path):
    path = initialised(tmp_path)
    result = gateway("--config", path, "report", "--month", "2026-11", "--out", "/nonexistent/dir/r.html")
    line = one_line_error(result, 2)
    assert line == "Error: --out: cannot write /nonexistent/dir/r.html: No such file or directory"


def test_postgresql_down_is_cannot_reach_not_create_it(tmp_path):
    pytest.importorskip("psycopg")
    down = f"postgresql://gw@127.0.0.1:{free_port()}/gateway"   # nothing listens there
    path = str(write_config(tmp_path, gateway={"database": down}))
    for args in (("status",), ("case", "list"), ("init",), ("inspect", str(path))):
        line = one_line_error(gateway("--config", path, *args), 2)
        assert line.startswith(f"Error: cannot reach the database at {down} ([gateway] database): "), (args, line)
        assert "Connection refused" in line and "gateway init" not in line


def test_run_exits_2_when_the_database_cannot_be_reached(tmp_path):
    pytest.importorskip("psycopg")
    down = f"postgresql://gw@127.0.0.1:{free_port()}/gateway"
    result = gateway("--config", str(write_config(tmp_path, gateway={"database": down})), "run")
    assert result.returncode == 2, result.stderr
    assert f"Error: cannot reach the database at {down}" in result.stderr and "Traceback" not in result.stderr


def test_run_on_a_port_in_use_says_so_and_what_to_do_and_exits_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = gateway("--config", str(write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"})), "run")
    assert result.returncode == 2
    assert f"[smtp] listen: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "perhaps a gateway started earlier" in result.stderr and "stop it first" in result.stderr


def test_subscribers_add_that_subscribes_nobody_exits_1_saying_why(tmp_path):
    path = initialised(tmp_path, area__hightown={"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"})
    first = gateway("--config", path, "subscribers", "add", "sian@example.net", "--area", "hightown")
    assert first.returncode == 0 and "1 subscription(s) started" in first.stdout
    again = gateway("--config", path, "subscribers", "add", "sian@example.net", "--area", "hightown")
    assert one_line_error(again, 1) == ("Error: sian@example.net: nothing started "
                                        "(already receives alerts for hightown)")


def test_db_copy_to_a_role_or_database_that_does_not_exist_is_one_line_exit_2(tmp_path):
    from tests.servers import postgres

    postgres.require()
    path = initialised(tmp_path)
    source = f"sqlite:///{tmp_path}/var/gateway.db"
    server = postgres.shared()
    no_role = f"postgresql://nobody@127.0.0.1:{server.port}/postgres"
    line = one_line_error(gateway("--config", path, "db", "copy", source, no_role), 2)
    assert line.startswith(f"Error: cannot reach the database at {no_role} (TARGET): ")
    assert 'role "nobody" does not exist' in line
    no_database = server.url("nosuchdb")
    line = one_line_error(gateway("--config", path, "db", "copy", source, no_database), 2)
    assert 'database "nosuchdb" does not exist' in line


def test_db_copy_refuses_while_a_daemon_uses_the_source(tmp_path, gateway_process):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"})
    source, target = f"sqlite:///{tmp_path}/var/gateway.db", f"sqlite:///{tmp_path}/copy.db"
    daemon = gateway_process(path, port)
    wait_for(lambda: "running)" in gateway("--config", str(path), "status").stdout, 20, what="the heartbeat")
    line = one_line_error(gateway("db", "copy", source, target), 2)
    assert line.startswith(f"Error: a daemon is using {source}: ") and "stop it first" in line
    assert daemon.stop() == 0
    copied = gateway("db", "copy", source, target)
    assert copied.returncode == 0 and "every table's count agrees" in copied.stdout


def test_case_list_says_so_when_there_are_no_cases(tmp_path):
    path = initialised(tmp_path)
    empty = gateway("--config", path, "case", "list")
    assert empty.returncode == 0 and empty.stdout == ""
    assert empty.stderr.strip() == "no cases yet: the first message a resident sends opens one"
    asked = gateway("--config", path, "case", "list", "--team", "rhosddu", "--json")
    assert asked.returncode == 0 and asked.stdout == "" and asked.stderr.strip() == "no cases match what was asked"


def test_the_first_start_makes_the_secret_file_and_says_so_at_info(tmp_path, gateway_process):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"})
    daemon = gateway_process(path, port)
    line = wait_for(lambda: [l for l in daemon.log_text().splitlines() if "secret file" in l], 10,
                    what="the secret file's log line")[0]
    assert " INFO gateway: Made the secret file " in line and "WARNING" not in line
    assert line.endswith("(mode 0600): the gateway's own secrets; keep a copy with your backups")
