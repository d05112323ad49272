"""Intake from an existing mailbox over IMAP: the same store and pipeline as the SMTP door.

Each pass fetches by UID with BODY.PEEK[] (reading marks nothing), stores each message
(committed), and only then moves it to `done_folder` (MOVE, else COPY + \\Deleted + UID
EXPUNGE of those UIDs alone) or, with no done folder, sets \\Seen and remembers the last UID
under the folder's UIDVALIDITY. A crash between the store and the move is harmless: the next
pass hands over the same bytes, the store recognises them (a SHA-256 of the raw message) and
the message is only moved. Work goes in batches bounded by count and bytes, so a mailbox of
any size drains in bounded memory. Connection faults and refused logins are logged and
retried with growing delays; this thread never dies and never touches the SMTP side.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from gateway import db
from gateway.clock import Clock
from gateway.config import Imap, Settings
from gateway.config.oauth2 import OAuth2
from gateway.tokens import TokenError, mailbox_advice, provider

log = logging.getLogger(__name__)
logging.getLogger("imapclient").setLevel(logging.INFO)  # its debug log would show the LOGIN line

RECONNECT_DELAYS = (1, 2, 5, 10, 30, 60, 120, 300)
MAX_BATCH_BYTES = 16 * 1024 * 1024
IDLE_RENEW_SECONDS = 25 * 60          # RFC 2177: re-issue IDLE at least every 29 minutes
TOKEN_AHEAD_SECONDS = 300            # an OAuth login is renewed this long before its token runs out
FAULTS = (OSError, IMAPClientError, ssl.SSLError, socket.timeout, EOFError)


class ImapProblem(Exception):
    """Something about the mailbox that a person must fix: said once per attempt."""


def connect(imap: Imap, oauth: OAuth2 | None = None) -> IMAPClient:
    """Log in (with [imap] auth = oauth2, XOAUTH2 with a token from `oauth`); raise LoginError,
    TokenError, ImapProblem or a connection fault. With oauth2 the client's `token_expires_at`
    says when its login's token runs out."""
    client = open_connection(imap)
    try:
        client.token_expires_at = float("inf")
        if imap.auth == "oauth2":
            client.token_expires_at = oauth2_login(client, imap, oauth)
        else:
            client.login(imap.username, imap.password)
    except BaseException:
        _close(client)
        raise
    return client


def open_connection(imap: Imap) -> IMAPClient:
    """Connected, with TLS as [imap] security says; not yet logged in."""
    context = ssl.create_default_context(cafile=str(imap.ca_file) if imap.ca_file else None)
    client = IMAPClient(imap.host, port=imap.port, ssl=imap.security == "tls",
                        ssl_context=context if imap.security == "tls" else None, timeout=imap.timeout_seconds)
    try:
        if imap.security == "starttls":
            client.starttls(context)
    except BaseException:
        _close(client)
        raise
    return client


def oauth2_login(client: IMAPClient, imap: Imap, oauth: OAuth2 | None) -> float:
    """AUTHENTICATE XOAUTH2 as [imap] username; a refused token is forgotten and a new one
    tried once (revoked, or expired early). Returns the token's expiry (time.time())."""
    if oauth is None:
        raise ImapProblem("[imap] auth = oauth2 needs an [oauth2] section")
    tokens = provider(oauth)
    for attempt in (1, 2):
        token = tokens.token()
        try:
            client.oauth2_login(imap.username, token.value)
            return token.expires_at
        except LoginError as exc:
            if not tokens.refused(token) or attempt == 2:
                raise LoginError(f"{error_text(exc)}; Entra ID gave a token, so "
                                 + mailbox_advice(token, "IMAP.AccessAsApp", imap.username)) from exc
    raise AssertionError("unreachable")


def folder_count(imap: Imap, oauth: OAuth2 | None = None, client: IMAPClient | None = None) -> tuple[int, bool]:
    """For `gateway imap check`: messages in the folder, and whether done_folder exists
    (over `client` when given, logged in already; it is closed after)."""
    client = client or connect(imap, oauth)
    try:
        info = client.select_folder(imap.folder, readonly=True)
        done_exists = bool(imap.done_folder) and client.folder_exists(imap.done_folder)
        return int(info[b"EXISTS"]), done_exists
    finally:
        _close(client)


class ImapIntake:
    def __init__(self, settings: Settings, clock: Clock, wake: threading.Event | None = None):
        self.settings, self.imap, self.clock, self.wake = settings, settings.imap, clock, wake
        self.account = f"{self.imap.username}@{self.imap.host}:{self.imap.port}"
        self.state_key = f"{self.account}/{self.imap.folder}"
        self.headers = BytesHeaderParser()

    def run(self, stop: threading.Event, _poll: float | None = None) -> None:
        """Read the mailbox until `stop`; reconnect after any fault with growing delays."""
        failures = 0
        while not stop.is_set():
            client = None
            try:
                client = connect(self.imap, self.settings.oauth2)
                uidvalidity = self._select(client)
                log.info("IMAP: reading %s folder %s", self.account, self.imap.folder)
                failures = 0
                while not stop.is_set():
                    self.drain(client, uidvalidity, stop)
                    if self._token_running_out(client):
                        break   # log in again, with a new token, before the server drops us
                    self._wait_for_mail(client, stop)
                    if not stop.is_set():  # select again: new UIDs, and a UIDVALIDITY change
                        uidvalidity = int(client.select_folder(self.imap.folder)[b"UIDVALIDITY"])
            except LoginError as exc:
                why = f"IMAP login refused for account {self.imap.username!r} at " \
                      f"{self.imap.host}:{self.imap.port}: {error_text(exc)}"
                failures = self._pause(stop, failures, why, logging.ERROR)
            except ImapProblem as exc:
                failures = self._pause(stop, failures, f"IMAP {self.account}: {exc}", logging.ERROR)
            except TokenError as exc:   # nothing was read, so nothing is lost; said on /healthz too
                failures = self._pause(stop, failures, f"IMAP {self.account}: {exc}",
                                       logging.WARNING if exc.outage else logging.ERROR)
            except FAULTS as exc:
                failures = self._pause(stop, failures, f"IMAP connection to {self.imap.host}:{self.imap.port} "
                                                       f"failed or lost: {type(exc).__name__}: {error_text(exc)}",
                                       logging.WARNING)
            except Exception as exc:  # a store fault and the like: nothing is moved, so nothing lost
                log.exception("IMAP intake fault")
                failures = self._pause(stop, failures, f"IMAP intake fault: {type(exc).__name__}", logging.ERROR)
            finally:
                if client is not None:
                    _close(client)

    def _token_running_out(self, client: IMAPClient) -> bool:
        left = getattr(client, "token_expires_at", float("inf")) - time.time()
        if left < TOKEN_AHEAD_SECONDS:
            log.info("IMAP %s: the OAuth token is running out; logging in again with a new one", self.account)
            return True
        return False

    def _pause(self, stop: threading.Event, failures: int, why: str, level: int) -> int:
        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
        log.log(level, "%s; trying again in %s s", why, delay)
        stop.wait(delay)
        return failures + 1

    def _select(self, client: IMAPClient) -> int:
        done = self.imap.done_folder
        if done and not client.folder_exists(done):
            client.create_folder(done)
            log.info("IMAP: created folder %s for processed mail", done)
        try:
            info = client.select_folder(self.imap.folder)
        except IMAPClientError as exc:
            raise ImapProblem(f"cannot open folder {self.imap.folder!r}: {error_text(exc)}") from exc
        return int(info[b"UIDVALIDITY"])

    def drain(self, client: IMAPClient, uidvalidity: int, stop: threading.Event | None = None) -> int:
        """Take in everything waiting in the folder; return how many messages were new."""
        uids = self._waiting(client, uidvalidity)
        taken = 0
        for batch in self._batches(client, uids):
            if stop is not None and stop.is_set():
                break
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            handled, highest = [], 0
            with db.atomic():  # one commit per batch; nothing is moved before it
                for uid in batch:
                    raw = (fetched.get(uid) or {}).get(b"BODY[]")
                    if raw is None:  # expunged by someone else meanwhile
                        continue
                    mail_from, rcpt_tos = self._envelope(raw)
                    _, new = db.intake.save_inbound_once(raw, mail_from, rcpt_tos, "imap", self.clock.now())
                    taken += new
                    handled.append(uid)
                    highest = max(highest, uid)
            if handled and self.wake is not None:
                self.wake.set()
            self._finish(client, handled)
            if handled and not self.imap.done_folder:
                db.intake.set_imap_state(self.state_key, uidvalidity, highest, self.clock.now())
        if taken:
            log.info("IMAP: took in %s message(s) from %s", taken, self.imap.folder)
        return taken

    def _waiting(self, client: IMAPClient, uidvalidity: int) -> list[int]:
        if self.imap.done_folder:  # whatever is still in the folder has not been finished
            return sorted(client.search(["NOT", "DELETED"]))
        state = db.intake.imap_state(self.state_key)
        last = 0
        if state is not None and state.uidvalidity == uidvalidity:
            last = state.last_uid
        elif state is not None:
            log.warning("IMAP: %s UIDVALIDITY changed (%s -> %s); reading the whole folder again, "
                        "already-stored messages are recognised and skipped",
                        self.imap.folder, state.uidvalidity, uidvalidity)
        return sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)

    def _batches(self, client: IMAPClient, uids: list[int]):
        """UIDs in groups of at most batch_size messages and MAX_BATCH_BYTES."""
        for start in range(0, len(uids), self.imap.batch_size):
            chunk = uids[start:start + self.imap.batch_size]
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            batch, total = [], 0
            for uid in chunk:
                size = int((sizes.get(uid) or {}).get(b"RFC822.SIZE", 0))
                if batch and total + size > MAX_BATCH_BYTES:
                    yield batch
                    batch, total = [], 0
                batch.append(uid)
                total += size
            if batch:
                yield batch

    def _finish(self, client: IMAPClient, uids: list[int]) -> None:
        if not uids:
            return
        done = self.imap.done_folder
        if not done:
            client.add_flags(uids, [b"\\Seen"])
        elif client.has_capability("MOVE"):
            client.move(uids, done)
        else:
            client.copy(uids, done)
            client.add_flags(uids, [b"\\Deleted"])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            # without UIDPLUS the copies stay flagged \Deleted (and are skipped): a plain
            # EXPUNGE would also remove what a person deleted by hand

    def _envelope(self, raw: bytes) -> tuple[str, list[str]]:
        """The envelope a delivered message still shows: Return-Path, Delivered-To/X-Original-To."""
        try:
            headers = self.headers.parsebytes(raw[:65536])
            return_path = headers.get("Return-Path")
            mail_from = parseaddr(str(return_path))[1] if return_path is not None else \
                parseaddr(str(headers.get("From", "")))[1]
            rcpts = [a.lower() for _, a in getaddresses([str(v) for v in
                     headers.get_all("Delivered-To", []) + headers.get_all("X-Original-To", [])]) if "@" in a]
        except Exception:  # headers beyond reading: the pipeline will say so
            mail_from, rcpts = "", []
        return mail_from, list(dict.fromkeys(rcpts)) or [self.settings.surgery_address]

    def _wait_for_mail(self, client: IMAPClient, stop: threading.Event) -> None:
        """Until new mail is announced (IDLE) or poll_seconds pass, or `stop`."""
        if self.imap.idle and client.has_capability("IDLE"):
            until_token = getattr(client, "token_expires_at", float("inf")) - TOKEN_AHEAD_SECONDS - time.time()
            deadline = time.monotonic() + max(0.0, min(self.imap.poll_seconds, IDLE_RENEW_SECONDS, until_token))
            client.idle()
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    asked = time.monotonic()
                    responses = client.idle_check(timeout=1)
                    if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                        break
                    # imapclient answers an empty list at once, forever, once the server has
                    # closed the connection: notice that instead of spinning until the deadline.
                    if not responses and time.monotonic() - asked < 0.5 and _closed(client):
                        raise ConnectionError("the IMAP server closed the connection during IDLE")
            finally:
                client.idle_done()
        else:
            stop.wait(max(0.0, min(self.imap.poll_seconds,
                                   getattr(client, "token_expires_at", float("inf")) - TOKEN_AHEAD_SECONDS - time.time())))
            if not stop.is_set():
                client.noop()


def _closed(client: IMAPClient) -> bool:
    """Whether the server has closed the connection (a zero-byte peek at the raw socket)."""
    try:
        return socket.socket.recv(client.socket(), 1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


def error_text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__
