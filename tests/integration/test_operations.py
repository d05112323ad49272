"""Issue 17, operations: the daemon as systemd and Prometheus see it. A test socket as
$NOTIFY_SOCKET hears READY, WATCHDOG and STOPPING; /healthz says ok; /metrics, parsed with
prometheus-client's own parser, moves with the mail sent; the log of a whole conversation
holds no subject or body; SIGHUP with a changed template changes the next acknowledgement,
and with a broken config keeps the old one; the unit file passes systemd-analyze verify."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import config
from gateway.logs import address_hash, message_id_hash
from tests.helpers import free_port, resident_mail, signed, wait_for, write_config
from tests.integration.test_daemon import send

ROOT = Path(__file__).resolve().parents[2]


class NotifySocket:
    """What systemd listens on: an abstract Unix datagram socket, its name as $NOTIFY_SOCKET."""

    def __init__(self):
        self.name = f"gateway-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.heard: list[str] = []

    @property
    def address(self) -> str:
        return "@" + self.name

    def until(self, field: str, timeout: float = 20.0) -> list[str]:
        """Every datagram up to the first holding `field` (e.g. READY=1)."""
        self.sock.settimeout(timeout)
        while not any(field in line.split("\n") for line in self.heard):
            self.heard.append(self.sock.recv(4096).decode())
        return self.heard


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def value(figures: dict, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def daemon(tmp_path, gateway_process, relay, env=None, **sections):
    port, http = free_port(), free_port()
    sections.setdefault("smtp", {})["listen"] = f"127.0.0.1:{port}"
    sections.setdefault("relay", {}).update(host="127.0.0.1", port=str(relay.port))
    sections["http"] = {"listen": f"127.0.0.1:{http}", "base_url": "https://alerts.surgery.example.org"}
    path = write_config(tmp_path, **sections)
    return gateway_process(path, port, env), port, http


def test_systemd_hears_ready_watchdog_and_stopping_and_metrics_move_with_the_mail(tmp_path, gateway_process, relay):
    notify = NotifySocket()
    gateway, port, http = daemon(tmp_path, gateway_process, relay,
                                 env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "2000000"},
                                 gateway={"log_format": "json", "log_addresses": "hash"})
    heard = notify.until("READY=1")
    assert heard[0].startswith("READY=1\nSTATUS=taking mail (SMTP 127.0.0.1:")
    healthy = urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10)
    assert healthy.status == 200 and healthy.read() == b"ok\n"
    before = scrape(http)
    assert value(before, "gateway_messages_in_total", outcome="resident_new") == 0
    assert value(before, "gateway_up") == 1.0

    subjects = ["Bikes on the pavement", "Broken street light"]
    bodies = ["They ride on the pavement outside number 12.", "The lamp by the school has been out a week."]
    send(port, resident_mail(subject=subjects[0], body=bodies[0]))
    send(port, resident_mail(subject=subjects[1], body=bodies[1], sender="Bob <bob@example.com>",
                             message_id="<b1@example.com>"), sender="bob@example.com")
    relay.wait(4)
    forward = relay.messages("hightown.npt@police.example")[0]
    answer_text = "We will patrol the street this week."
    reply = signed(resident_mail(body=answer_text, sender="PC Jones <pc.jones@police.example>",
                                 to=forward["Reply-To"], subject="RE: " + forward["Subject"],
                                 message_id="<outlook-1@police.example>", In_Reply_To=forward["Message-ID"]))
    send(port, reply, sender="pc.jones@police.example", rcpts=[forward["Reply-To"]])
    relay.wait(6)   # two to the team, two acknowledgements, the answer, the team's copy of it

    def moved() -> bool:
        now = scrape(http)
        return (value(now, "gateway_messages_in_total", outcome="resident_new") == 2
                and value(now, "gateway_messages_in_total", outcome="officer_reply") == 1
                and value(now, "gateway_delivery_attempts_total", outcome="sent") == 6)
    wait_for(moved, 15, what="the counters to move")
    after = scrape(http)
    assert value(after, "gateway_messages_out_total", purpose="resident_ack", outcome="sent") == 2
    assert value(after, "gateway_messages_out_total", purpose="resident_answer", outcome="sent") == 1
    assert value(after, "gateway_cases", status="open") == 1 and value(after, "gateway_cases", status="answered") == 1
    assert value(after, "gateway_queue_depth", queue="inbound") == 0
    assert value(after, "gateway_queue_depth", queue="outbound") == 0
    assert value(after, "gateway_pipeline_restarts_total") == 0
    assert ("gateway_cases_overdue", ()) in after and ("gateway_acks_waiting", ()) in after
    # Every figure the example alert rules use is one the daemon serves.
    rules = (ROOT / "contrib" / "prometheus-alerts.yml").read_text()
    used = set(re.findall(r"\b(gateway_[a-z_]+)", "\n".join(re.findall(r"expr: (.*)", rules))))
    served = {name for name, _ in after} | {"gateway_bounces_total"}   # none yet: no bounce has come
    assert used and used <= served, used - served
    notify.until("WATCHDOG=1", timeout=5)

    assert gateway.stop() == 0
    assert notify.until("STOPPING=1")[-1].startswith("STOPPING=1")
    log = gateway.log_text()
    for words in subjects + bodies + [answer_text]:
        assert words not in log, words   # a subject or a body in the log
    key = config.load(tmp_path / "gateway.ini").audit_key   # the secret file `run` made
    assert "ann@example.net" not in log and address_hash("ann@example.net", key) in log
    events = [json.loads(line) for line in log.splitlines() if line.strip()]
    handled = [e for e in events if e.get("inbound") and e.get("case")]
    assert {e["case"] for e in handled} == {"SRG-2026-0001", "SRG-2026-0002"}
    # Senders' own Message-IDs can be their addresses: the log keeps a keyed stand-in of each.
    assert {e["message_id"] for e in handled} >= {message_id_hash(m, key) for m in (
        "<a1@example.net>", "<b1@example.com>", "<outlook-1@police.example>")}
    assert "<a1@example.net>" not in log
    assert {e["process"] for e in events} == {"main", "pipeline"}


def test_sighup_rereads_the_templates_and_a_broken_config_is_refused_and_the_old_kept(tmp_path, gateway_process,
                                                                                      relay):
    folder = tmp_path / "templates" / "resident"
    folder.mkdir(parents=True)
    template = folder / "acknowledgement.en.txt.j2"
    template.write_text("First version: your case is {{ reference }}.\n")
    gateway, port, http = daemon(tmp_path, gateway_process, relay,
                                 gateway={"templates": "templates", "log_addresses": "none"})
    config_path = gateway.config_path

    def ack(n: int) -> str:
        sender = f"resident{n}@example.net"
        send(port, resident_mail(sender=sender, message_id=f"<m{n}@example.net>"), sender=sender)
        wait_for(lambda: relay.messages(sender), 15, what=f"the acknowledgement to {sender}")
        return relay.messages(sender)[0].get_content()

    assert ack(1).startswith("First version: your case is SRG-2026-0001.")
    template.write_text("Second version: {{ reference }}, due {{ due_date }}.\n")
    assert ack(2).startswith("First version")   # an edit on disk alone changes nothing
    gateway.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "pipeline: configuration reloaded" in gateway.log_text(), 15, what="the reload")
    assert ack(3).startswith("Second version: SRG-2026-0003, due ")

    good = config_path.read_text()
    config_path.write_text(good + "\n[limits]\nacks_per_hour = -4\n")
    template.write_text("Third version.\n")
    gateway.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in gateway.log_text(), 15, what="the refusal")
    log = gateway.log_text()
    assert "reload refused: [limits] acks_per_hour: must be from 0 to 1000000, not -4" in log
    assert ack(4).startswith("Second version: SRG-2026-0004")   # the old config, templates and all
    assert urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10).status == 200
    assert gateway.stop() == 0
    assert "resident1@example.net" not in gateway.log_text() and "<address>" in gateway.log_text()


def test_healthz_says_503_and_why_when_the_pipeline_process_is_gone(tmp_path, gateway_process, relay):
    gateway, _, http = daemon(tmp_path, gateway_process, relay)
    wait_for(lambda: "gw-pipeline" in _children(gateway.proc.pid), 15, what="the pipeline process")
    child = int(_children(gateway.proc.pid)["gw-pipeline"])
    os.kill(child, signal.SIGKILL)
    with pytest.raises(urllib.error.HTTPError) as refused:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10) and False, 5,
                 interval=0.05, what="a 503")
    assert refused.value.code == 503 and b"pipeline process: not running" in refused.value.read()
    # The daemon restarts it (after a second) and is healthy again.
    wait_for(lambda: _ok(http), 20, what="healthy again")
    assert value(scrape(http), "gateway_pipeline_restarts_total") == 1
    assert gateway.stop() == 0


def _ok(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).status == 200
    except urllib.error.HTTPError:
        return False


def _children(pid: int) -> dict[str, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if rest[1] == str(pid):
                found[name] = entry.name
    return found


def test_the_unit_file_passes_systemd_analyze_verify_and_is_hardened(tmp_path):
    unit = (ROOT / "contrib" / "surgery-gateway.service").read_text()
    for line in ("Type=notify", "WatchdogSec=60", "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/surgery-gateway", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "LoadCredential=relay-password:/etc/surgery-gateway/credentials/relay-password", "LimitNOFILE=8192"):
        assert re.search(rf"^{re.escape(line)}$", unit, re.MULTILINE), line
    readme = (ROOT / "README.md").read_text()
    assert "contrib/surgery-gateway.service" in readme and "Type=simple" not in readme
    assert "[Service]" not in readme   # the README points at the unit instead of keeping a copy of its own
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing (.ci/run installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    # As installed: ExecStart names the gateway command of this virtual environment.
    installed = tmp_path / "surgery-gateway.service"
    installed.write_text(unit.replace("/opt/surgery-gateway/.venv/bin/gateway", str(Path(sys.executable).parent / "gateway")))
    checked = subprocess.run(["systemd-analyze", "verify", str(installed)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
