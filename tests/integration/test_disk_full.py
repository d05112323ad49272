"""Issue 13 item 5: a full disk. The daemon's database and spool live on a 4 MB tmpfs; it is
filled, then emptied. While full the door answers 451 and the log names the real error;
once there is room again the gateway recovers by itself; the spool keeps no stray files."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, resident_mail, wait_for, write_config


@pytest.fixture
def small_disk():
    folder = Path(tempfile.mkdtemp(prefix="gw-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a small tmpfs for the disk-full test: {mounted.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:   # unbuffered: nothing left to fail on close
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:   # ENOSPC: the disk is full
            pass
    return filler


def _the_spool_leaves_nothing_half_written(spool: Path) -> None:
    import datetime as dt
    from types import SimpleNamespace

    from gateway.runtime.outbound import write_spool

    row = SimpleNamespace(id=99, purpose="resident_ack", rcpt_to="ann@example.net", mail_from="surgery@x",
                          created_at=dt.datetime(2026, 12, 1), raw=b"x" * 200_000)
    with pytest.raises(OSError):
        write_spool(spool, row)
    assert not list(spool.glob(".*.tmp"))


def send(port: int, n: int) -> tuple[int, bytes]:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            smtp.sendmail("ann@example.net", ["surgery@surgery.example.org"],
                          resident_mail(message_id=f"<full{n}@example.net>", subject=f"Message {n}").as_bytes())
        return 250, b""
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, exc.smtp_error


def test_a_full_disk_is_named_and_the_gateway_recovers_once_there_is_room(small_disk, tmp_path, gateway_process):
    port = free_port()
    path = write_config(tmp_path, gateway={"database": f"sqlite:///{small_disk}/gateway.db",
                                           "spool": str(small_disk / "outbox")},
                        smtp={"listen": f"127.0.0.1:{port}"})
    daemon = gateway_process(path, port)
    assert send(port, 0)[0] == 250
    spool = small_disk / "outbox"
    wait_for(lambda: len(list(spool.glob("*.eml"))) == 2, 15, what="the first case's mail")
    filler = fill(small_disk)
    _the_spool_leaves_nothing_half_written(spool)
    codes = [send(port, n)[0] for n in range(1, 4)]
    assert 451 in codes, codes
    time.sleep(1)
    log = daemon.log_text()
    assert "no space left" in log.lower() or "disk is full" in log.lower(), log[-3000:]
    assert "cannot rollback" not in log
    filler.unlink()
    deadline = time.monotonic() + 30
    code = 0
    while time.monotonic() < deadline:
        code = send(port, 100)[0]
        if code == 250:
            break
        time.sleep(1)
    assert code == 250, daemon.log_text()[-3000:]
    wait_for(lambda: not list(spool.glob(".*.tmp")) and len(list(spool.glob("*resident_ack.eml"))) >= 2, 30,
             what="the spool to catch up with no stray temporary file")
    assert all(f.stat().st_size > 0 for f in spool.iterdir())
