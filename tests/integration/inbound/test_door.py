"""The SMTP door holds (issue 23): one client cannot take every session, idle sessions are
closed, refusals are summed up in the log instead of written one by one, and running out of
file descriptors neither floods the log nor stops the daemon. The daemon runs as an
administrator starts it; clients connect from their own loopback addresses (127.0.0.2 is
the crowd, 127.0.0.3 the resident)."""

from __future__ import annotations

import smtplib
import socket
import time
from pathlib import Path

from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config

CROWD, RESIDENT = "127.0.0.2", "127.0.0.3"


def start(gateway_process, tmp_path: Path, nofile: int | None = None, trust: dict | None = None, **smtp: str):
    port = free_port()
    config = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}", **smtp}, trust=trust or {})
    gateway = gateway_process(config, None, nofile=nofile)
    gateway.port = port   # waited for here, longer than the fixture would: a busy machine starts slowly
    wait_for(gateway._listening, 60, what=f"the gateway to listen on port {port}")
    return gateway, port


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(source, 0))


def reply(sock: socket.socket) -> bytes:
    """One line from the server (b"" once it has closed the connection)."""
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


def greeted(port: int, source: str) -> socket.socket:
    sock = connect(port, source)
    assert reply(sock).startswith(b"220 "), f"no greeting for {source}"
    return sock


def send_as_resident(port: int, subject: str = "Bikes on the pavement") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=15, source_address=(RESIDENT, 0)) as smtp:
        smtp.send_message(resident_mail(subject=subject, message_id=None))


def stored(folder: Path) -> int:
    return db_rows(folder, "SELECT count(*) FROM inbound")[0][0]


def test_the_21st_connection_from_one_client_gets_421_while_a_resident_is_served(gateway_process, tmp_path):
    gateway, port = start(gateway_process, tmp_path)
    held = [greeted(port, CROWD) for _ in range(20)]
    extra = connect(port, CROWD)
    assert reply(extra).startswith(b"421 4.7.0 Too many connections from your address")
    assert reply(extra) == b""   # and closed at once
    send_as_resident(port)       # while the crowd still holds its 20
    assert stored(tmp_path) == 1
    for sock in held + [extra]:
        sock.close()


def test_a_trusted_relay_is_held_to_the_total_alone(gateway_process, tmp_path):
    """The force's own MTA in [trust] trusted_networks may open more than 20 sessions."""
    gateway, port = start(gateway_process, tmp_path,
                          trust={"trusted_networks": f"{CROWD}/32", "trusted_domains": "police.example"})
    held = [greeted(port, CROWD) for _ in range(25)]
    assert reply(connect(port, "127.0.0.4")).startswith(b"220 ")
    for sock in held:
        sock.close()


def test_over_max_connections_the_next_gets_421_until_one_ends(gateway_process, tmp_path):
    gateway, port = start(gateway_process, tmp_path, max_connections="10")
    held = [greeted(port, f"127.0.1.{n}") for n in range(1, 11)]   # ten clients, one session each
    extra = connect(port, "127.0.1.11")
    assert reply(extra).startswith(b"421 4.7.0 Too many connections")
    held.pop().close()
    wait_for(lambda: reply(connect(port, "127.0.1.11")).startswith(b"220 "), 10,
             what="a session to be taken once one has ended")
    for sock in held:
        sock.close()


def test_a_silent_or_trickling_session_is_closed_after_the_idle_timeout(gateway_process, tmp_path):
    gateway, port = start(gateway_process, tmp_path, idle_timeout_seconds="1")
    silent = greeted(port, CROWD)
    assert reply(silent).startswith(b"421 4.4.2")
    assert reply(silent) == b""
    trickle = greeted(port, CROWD)
    trickle.settimeout(0.3)
    sent, closed = b"", False
    for byte in b"EHLO trickle.example.net\r\n":   # a byte every 0.3 s: never a whole command in 1 s
        try:
            if trickle.recv(100):
                closed = True
                break
        except socket.timeout:
            pass
        trickle.sendall(bytes([byte]))
        sent += bytes([byte])
    assert closed and not sent.endswith(b"\r\n"), sent


def test_a_slow_but_steady_message_is_not_cut_off(gateway_process, tmp_path):
    """Idle means silent: commands every half second, and a message sent at 2.5 KB/s for three
    seconds, keep a session with a 1 s idle timeout open."""
    gateway, port = start(gateway_process, tmp_path, idle_timeout_seconds="1")
    sock = greeted(port, RESIDENT)
    for line in (b"EHLO slow.example.net", b"NOOP", b"NOOP", b"NOOP", b"MAIL FROM:<ann@example.net>",
                 b"RCPT TO:<surgery@surgery.example.org>", b"DATA"):
        time.sleep(0.5)
        sock.sendall(line + b"\r\n")
        answer = reply(sock)
        while answer[3:4] == b"-":   # EHLO's lines
            answer = reply(sock)
        assert answer[:1] in (b"2", b"3"), (line, answer)
    sock.sendall(resident_mail(message_id=None).as_bytes().replace(b"\n", b"\r\n"))
    for _ in range(15):   # 500 bytes every 0.2 s: 2.5 KB/s, for three seconds
        time.sleep(0.2)
        sock.sendall(b"y" * 498 + b"\r\n")
    sock.sendall(b".\r\n")
    assert reply(sock).startswith(b"250 "), "the message was cut off"
    assert stored(tmp_path) == 1


def test_many_refusals_make_one_summary_line_in_the_log(gateway_process, tmp_path):
    gateway, port = start(gateway_process, tmp_path)
    held = [greeted(port, CROWD) for _ in range(20)]
    for _ in range(60):
        refused = connect(port, CROWD)
        assert reply(refused).startswith(b"421 4.7.0")
        refused.close()
    for sock in held:
        sock.close()
    assert gateway.stop() == 0
    lines = [line for line in gateway.log_text().splitlines() if CROWD in line or "refused" in line]
    assert len(lines) == 1, lines
    assert "refused 60 connections in the last minute (60 over the per-client limit" in lines[0]
    assert "most from 127.0.0.2 (60)" in lines[0]


def open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_out_of_file_descriptors_it_logs_little_and_serves_again(gateway_process, tmp_path):
    """Under RLIMIT_NOFILE 256 (the hard limit too, so it cannot raise it), with limits that
    let one client take every descriptor: it says at start what to change, runs out, logs
    one line about it, and takes mail again once the crowd has gone."""
    gateway, port = start(gateway_process, tmp_path, nofile=256, max_connections_per_client="500")
    crowd = []
    for _ in range(300):   # paced, so each is taken while descriptors last (the rest queue)
        crowd.append(connect(port, CROWD))
        time.sleep(0.01)
    wait_for(lambda: open_files(gateway.proc.pid) >= 255, 20, what="the daemon to run out of descriptors")
    time.sleep(3)   # asyncio alone would have written thousands of tracebacks by now
    for sock in crowd:
        sock.close()

    def served() -> bool:
        try:
            send_as_resident(port)
            return True
        except (OSError, smtplib.SMTPException):
            return False
    wait_for(served, 30, interval=0.5, what="the resident to be served once descriptors are free")
    assert gateway.stop() == 0
    log = gateway.log_text()
    assert len(log) < 50_000, f"{len(log)} bytes of log"
    assert "Too many open files" in log and log.count("could not accept a connection") == 1
    assert "[smtp] max_connections = 500 needs about 756: raise LimitNOFILE=" in log   # said at start
    assert "Traceback" not in log


def test_a_session_kept_alive_by_noop_or_probing_recipients_is_closed(gateway_process, tmp_path):
    """Found by an independent attack: NOOP every 20 s kept 500 sessions past the idle
    timeout, holding the door against everyone; and 20,000 RCPTs to addresses not ours wrote
    20,000 log lines. NOOP is allowed ten times a session, RCPT a thousand, and a session's
    refused recipients make one line."""
    gateway, port = start(gateway_process, tmp_path)
    sock = greeted(port, CROWD)
    sock.sendall(b"EHLO crowd.example\r\n")
    while not reply(sock).startswith(b"250 "):
        pass
    for _ in range(10):
        sock.sendall(b"NOOP\r\n")
        assert reply(sock).startswith(b"250")
    sock.sendall(b"NOOP\r\n")
    assert reply(sock).startswith(b"421 4.7.0 NOOP sent too many times")
    assert reply(sock) == b""   # closed
    sock = greeted(port, CROWD)
    sock.sendall(b"HELO crowd.example\r\nMAIL FROM:<x@crowd.example>\r\n")
    reply(sock), reply(sock)
    for n in range(1000):
        sock.sendall(f"RCPT TO:<nobody{n}@elsewhere.example>\r\n".encode())
        assert reply(sock).startswith(b"550")
    sock.sendall(b"RCPT TO:<nobody@elsewhere.example>\r\n")
    assert reply(sock).startswith(b"421 4.7.0 RCPT sent too many times")
    sock.close()
    assert gateway.stop() == 0
    refused = [line for line in gateway.log_text().splitlines() if "refused recipient" in line]
    assert len(refused) == 1, len(refused)
