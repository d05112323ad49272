"""Our mail proves it is ours (DKIM), and the connections carry TLS: STARTTLS at the SMTP
door, and a relay that requires STARTTLS and a login (a real aiosmtpd server)."""

from __future__ import annotations

import email
import smtplib
import ssl
import subprocess
import sys
import threading
from email import policy

import dkim
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gateway import config
from gateway.db.models import Outbound
from gateway.runtime.outbound import Deliverer
from gateway.trust.dns import Resolver
from tests.helpers import free_port, resident_mail, wait_for, write_config
from tests.servers.dns import shared as shared_dns
from tests.servers.tls import make_certificates

pytestmark = pytest.mark.database


def gateway(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, **kwargs)


def dns_lookup(name: bytes, timeout: float = 5) -> bytes | None:
    records = Resolver((("127.0.0.1", shared_dns().port),), 2).txt(name.decode())
    return records[0].encode() if records else None


@pytest.fixture
def dkim_key(tmp_path):
    """A key made by `gateway dkim-keygen`, its record published in the test world's DNS."""
    path = write_config(tmp_path)
    made = gateway("--config", str(path), "dkim-keygen", "--selector", "gwtest")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "dkim.key").stat().st_mode & 0o777 == 0o600
    record = made.stdout.split("IN TXT ( ", 1)[1].rsplit(" )", 1)[0]
    shared_dns().zone.replace("gwtest._domainkey.surgery.example.org", "".join(record.replace('" "', "").strip('"')))
    again = gateway("--config", str(path), "dkim-keygen", "--selector", "gwtest")
    assert again.returncode == 1 and "already exists" in again.stderr   # never overwritten by accident
    return tmp_path / "dkim.key"


def test_every_outgoing_message_is_dkim_signed_and_verifies(make_harness, dkim_key, tmp_path):
    harness = make_harness(dkim={"domain": "surgery.example.org", "selector": "gwtest", "key_file": "dkim.key"})
    harness.submit(resident_mail())
    Deliverer(harness.settings, harness.clock, "t").deliver_one()
    files = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(files) == 2   # the team's copy and the acknowledgement
    for file in files:
        raw = file.read_bytes().split(b"\n", 2)[2].replace(b"\n", b"\r\n")   # without the spool's envelope lines
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dns_lookup), file.name
        message = email.message_from_bytes(raw, policy=policy.default)
        assert "d=surgery.example.org" in message["DKIM-Signature"] and "s=gwtest" in message["DKIM-Signature"]


def test_check_config_reads_the_dkim_key_and_names_what_is_wrong(tmp_path):
    (tmp_path / "bad.key").write_text("not a key")
    path = write_config(tmp_path, dkim={"domain": "surgery.example.org", "selector": "s", "key_file": "bad.key"})
    result = gateway("--config", str(path), "check-config")
    assert result.returncode == 2 and "[dkim] key_file:" in result.stdout and "not a PEM private key" in result.stdout
    path = write_config(tmp_path, dkim={"domain": "surgery.example.org", "key_file": "missing.key"})
    result = gateway("--config", str(path), "check-config")
    assert "[dkim] selector: is required" in result.stdout and "[dkim] key_file: cannot read" in result.stdout


def test_a_secret_file_is_found_in_the_credentials_directory(tmp_path, dkim_key, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    dkim_key.rename(credentials / "dkim.key")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write_config(tmp_path, dkim={"domain": "surgery.example.org", "selector": "gwtest", "key_file": "dkim.key"})
    assert config.load(path).dkim.key_file == credentials / "dkim.key"


def test_the_smtp_door_offers_starttls(tmp_path, gateway_process):
    ca, cert, key = make_certificates(tmp_path)
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}", "tls_cert": cert.name, "tls_key": key.name})
    gateway_process(path, port)
    context = ssl.create_default_context(cafile=str(ca))
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo()
        client.sendmail("ann@example.net", ["surgery@surgery.example.org"], resident_mail().as_bytes())
    wait_for(lambda: len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 2, 15, what="the case's mail")


class _Keep:
    def __init__(self):
        self.received = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((session.auth_data, envelope.rcpt_tos, session.ssl is not None))
        return "250 OK"


@pytest.fixture
def submission_relay(tmp_path):
    """A relay as Microsoft 365 or a smarthost on 587 behaves: STARTTLS, then AUTH, required."""
    ca, cert, key = make_certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, data):
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (b"gw@police.example", b"s3cret pass")
        return AuthResult(success=good, handled=False)   # aiosmtpd answers 535 itself

    keep = _Keep()
    port = free_port()
    relay = Controller(keep, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                       auth_required=True, auth_require_tls=True, authenticator=authenticator)
    relay.start()
    yield port, ca, keep
    relay.stop()


def _deliver_once(tmp_path, port, ca, password: str):
    (tmp_path / "relay-password").write_text(password + "\n")
    from tests.conftest import Harness

    harness = Harness(tmp_path, relay={"host": "127.0.0.1", "port": str(port), "security": "starttls",
                                       "username": "gw@police.example", "password_file": "relay-password",
                                       "ca_file": str(ca), "retry_delays": "60"})
    harness.submit(resident_mail())
    deliverer = Deliverer(harness.settings, harness.clock, "t")
    deliverer.deliver_one()
    deliverer.close()
    return harness


def test_the_relay_is_reached_over_starttls_with_a_login(tmp_path, submission_relay):
    port, ca, keep = submission_relay
    _deliver_once(tmp_path, port, ca, "s3cret pass")
    assert len(keep.received) == 2
    assert all(over_tls for _, _, over_tls in keep.received)
    assert Outbound.select().where(Outbound.state == "sent").count() == 2


def test_a_refused_login_names_the_key_and_the_mail_waits(tmp_path, submission_relay, caplog):
    port, ca, keep = submission_relay
    with caplog.at_level("ERROR"):
        _deliver_once(tmp_path, port, ca, "wrong")
    assert keep.received == []
    assert "[relay] username gw@police.example" in caplog.text and "s3cret" not in caplog.text
    rows = list(Outbound.select().order_by(Outbound.id))
    assert rows and all(r.state == "queued" and "refused the login" in r.last_error for r in rows[:1])


def test_an_untrusted_relay_certificate_is_refused(tmp_path, submission_relay):
    port, _, keep = submission_relay
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_certificates(tmp_path / "other")
    _deliver_once(tmp_path, port, other_ca, "s3cret pass")
    assert keep.received == []
    row = Outbound.select().order_by(Outbound.id).first()
    assert row.state == "queued" and "certificate is not trusted" in row.last_error


def test_check_config_refuses_a_password_in_clear_and_a_missing_password_file(tmp_path):
    path = write_config(tmp_path, relay={"host": "smtp.office365.com", "port": "587", "username": "gw@police.example",
                                         "password_file": "nowhere"})
    result = gateway("--config", str(path), "check-config")
    assert result.returncode == 2
    assert "[relay] password_file: cannot read" in result.stdout
    assert "[relay] security: none would send the relay password in clear" in result.stdout
