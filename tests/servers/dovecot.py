"""A throw-away Dovecot IMAP server on a loopback port, with one passwd-file user and a
Maildir in a private folder under /tmp. Under CI=true a missing dovecot is a failure."""

from __future__ import annotations

import grp
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.helpers import free_port
from tests.servers.lifeline import die_with_parent

TEMPLATE = Path(__file__).with_name("dovecot.conf.tmpl")
USER, PASSWORD = "gw", "imap-test-password"


def require_dovecot() -> str:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        message = "dovecot is not installed (Debian: apt-get install dovecot-imapd)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("the Dovecot fixture runs as root (it hands the Maildir to nobody)")
    return binary


def _children(parent: int) -> list[int]:
    """Every descendant of a process, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [parent]
    while frontier:
        current = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == current:
                found.append(pid)
                frontier.append(pid)
    return found


class Dovecot:
    def __init__(self, tls: bool = False, oauth2: tuple[str, Path] | None = None) -> None:
        """`oauth2`: (introspection URL, its CA file): XOAUTH2 logins are checked there by
        Dovecot's oauth2 passdb (the token must be active, carry the IMAP.AccessAsApp role and
        name this mailbox, USER, as one the app may open)."""
        self.binary = require_dovecot()
        # Not under pytest's tmp_path: that lies under a 0700 folder dovecot's users cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.process: subprocess.Popen | None = None
        conf = TEMPLATE.read_text().replace("@ROOT@", str(self.root)).replace("@PORT@", str(self.port))
        if tls:  # a certificate of our own for 127.0.0.1: imaps on tls_port, STARTTLS on port
            self.ca_file = self.root / "cert.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-keyout", str(self.root / "key.pem"), "-out", str(self.ca_file), "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                           check=True, capture_output=True)
            conf = conf.replace("ssl = no", f"ssl = yes\nssl_cert = <{self.ca_file}\nssl_key = <{self.root / 'key.pem'}")
            conf = conf.replace("  inet_listener imaps {\n    port = 0\n  }",
                                f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.tls_port}\n  }}")
        if oauth2:
            conf = self._with_oauth2(conf, *oauth2)
        (self.root / "dovecot.conf").write_text(conf)
        users = self.root / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:65534:65534::{self.root}/home/{USER}\n")
        os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)
        users.chmod(0o640)
        home = self.root / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)

    def _with_oauth2(self, conf: str, introspection_url: str, ca_file: Path) -> str:
        ca = self.root / "oauth-ca.pem"
        shutil.copyfile(ca_file, ca)
        ca.chmod(0o644)
        (self.root / "oauth2.conf.ext").write_text(
            f"introspection_mode = post\nintrospection_url = {introspection_url}\nforce_introspection = yes\n"
            f"username_attribute = email\nactive_attribute = imap_access\nactive_value = granted\n"
            f"tls_ca_cert_file = {ca}\ntimeout_msecs = 5000\n")
        conf = conf.replace("auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer")
        return conf.replace("passdb {\n  driver = passwd-file\n", "passdb {\n  driver = passwd-file\n"
                            "  mechanisms = plain login\n") + (
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {self.root / 'oauth2.conf.ext'}\n}}\n")

    def start(self) -> "Dovecot":
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=die_with_parent())   # gone with the test process
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}\n"
                                       f"{self._log()}")
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self._log()}")

    def stop(self) -> None:
        """Stop the server and every process it started, open IMAP sessions included (the
        master alone leaves running sessions alive, which is not what a restart means)."""
        if self.process and self.process.poll() is None:
            children = _children(self.process.pid)
            self.process.terminate()
            self.process.wait(10)
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.process = None
        # dovecot's children may still hold the port for a moment
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text()[-2000:] if log.exists() else ""

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX", flags: tuple = ()) -> None:
        client = self.client()
        try:
            if flags:
                for raw in messages:
                    client.append(folder, raw, flags=flags)
            else:
                client.multiappend(folder, list(messages))
        finally:
            client.logout()

    def uids(self, folder: str) -> list[int]:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return client.search(["NOT", "DELETED"])
        finally:
            client.logout()

    def config(self, **overrides: str) -> dict[str, str]:
        """An [imap] section for this server."""
        return {"host": "127.0.0.1", "port": str(self.port), "security": "none", "username": USER,
                "password": PASSWORD, "poll_seconds": "2", "timeout_seconds": "10"} | overrides
