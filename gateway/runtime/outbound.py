"""Delivery: claims due messages from the outbox and hands them to the relay or the spool.

A connection failure or a 4xx reply is retried after growing delays ([relay] retry_delays)
until [relay] retry_deadline_hours has passed; a 5xx reply fails the message for good. Both
outcomes are recorded on the outbox row. Only this module talks SMTP.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import smtplib
import threading
import time
from pathlib import Path
from typing import Callable

from gateway import db, logs
from gateway.clock import Clock
from gateway.config import Settings
from gateway.config.oauth2 import Relay
from gateway.errors import PermanentFailure, TemporaryFailure
from gateway.mail import compose
from gateway.mail.addresses import token_address
from gateway.runtime.relay import open_relay
from gateway.trust.dkim import sign_if_configured

log = logging.getLogger(__name__)
IDLE_CHECK_SECONDS = 5.0   # a relay connection unused this long is checked with NOOP first
LINGER_SECONDS = 30.0      # ... and one unused this long is closed (QUIT): mail arriving one
                           # message at a time would otherwise open a connection for each
BATCH = 50   # messages leased per claim
ENHANCED_RE = re.compile(r"^(5\.\d{1,3}\.\d{1,3})\b")   # RFC 3463, at the start of a reply's text
ACK_WAIT_SECONDS = 60   # an acknowledgement over [limits] acks_per_hour looks again after this
TOKEN_AHEAD_SECONDS = 300   # a relay connection logged in with an OAuth token is renewed this long before it
                            # runs out: when MSAL itself asks for a new token


class RateLimit:
    """At most `per_second` sends across every delivery worker ([relay] max_per_second; 0: none)."""

    def __init__(self, per_second: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.lock = threading.Lock()
        self.monotonic, self.sleep = monotonic, sleep
        self.next_slot = monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.monotonic()
            slot = max(self.next_slot, now)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class Deliverer:
    """One delivery worker; keeps its relay connection open while there is work.

    `copies` renders the rows that carry no message (bulletins) at send time, returning None
    when the copy must not go (the resident unsubscribed); `rate` spaces out every send;
    `relay_down`, when given, is set while the relay cannot be reached (the SMTP door's flow
    control then stops counting the outbox, which cannot drain) and cleared by a delivery."""

    def __init__(self, settings: Settings, clock: Clock, owner: str,
                 copies: Callable[[db.outbox.Delivery], bytes | None] | None = None, rate: RateLimit | None = None,
                 relay_down: threading.Event | None = None, bulletin_rate: RateLimit | None = None):
        self.settings, self.clock, self.owner = settings, clock, owner
        self.copies, self.rate, self.relay_down = copies, rate, relay_down
        self.bulletin_rate = bulletin_rate   # [relay:bulletins] max_per_second, when it is there
        self.stopping: threading.Event | None = None
        self.reported: threading.Event | None = None   # rung when a refusal was stored for the pipeline
        self._open: dict[str, tuple[smtplib.SMTP, float]] = {}   # relay section -> (connection, last used)
        self.tally: Callable[[str], None] | None = None   # told "sent", "retry" or "failed" (the metrics)
        self.beat = time.monotonic()   # when the loop last went round (/healthz)

    def deliver_one(self) -> bool:
        """Claim and deliver what is due, a batch at a time; False when nothing is due.

        Each message is marked sent in its own commit as soon as the relay takes it, so a
        crash can send again at most the one message in hand."""
        rows = db.outbox.claim_outbound_batch(self.owner, self.clock.now(), self.settings.lease_seconds, BATCH)
        if not rows:
            for section, (_, used) in list(self._open.items()):
                if time.monotonic() - used > LINGER_SECONDS:
                    self.close(section)
            return False
        if self.copies is not None and hasattr(self.copies, "prepare"):
            self.copies.prepare([r for r in rows if r.bulletin is not None])
        renewed_at, held = time.monotonic(), {r.id for r in rows}
        for n, row in enumerate(rows):
            if self.stopping is not None and self.stopping.is_set():
                db.outbox.release([r.id for r in rows[n:] if r.id in held])
                break
            if time.monotonic() - renewed_at > self.settings.lease_seconds / 2:
                # Slow going (a slow relay, a busy machine): keep the lease on what is left,
                # and leave alone any row whose lease ran out, which another worker now holds.
                held = db.outbox.renew_leases([r.id for r in rows[n:] if r.id in held], row.lease_owner,
                                          self.clock.now(), self.settings.lease_seconds)
                renewed_at = time.monotonic()
            if row.id not in held:
                log.info("outbound %s: its lease ran out while waiting; another worker has it", row.id)
                continue
            if not self._deliver(row):  # the relay is down: let the rest wait their turn
                db.outbox.release([r.id for r in rows[n + 1:] if r.id in held])
                break
        return True

    def _deliver(self, row: db.outbox.Delivery) -> bool:
        """Send one claimed message and record the outcome; False if the relay is unreachable."""
        raw = bytes(row.raw)
        if row.bulletin is not None:
            copy = self.copies(row) if self.copies else None
            if copy is None:
                db.outbox.mark_skipped(row.id, "no longer subscribed, or suppressed", row.lease_owner)
                return True
            raw = copy
        if row.purpose == "resident_ack" and self._over_ack_cap(row):
            return True
        # Signed here, at send time, outside any transaction: in the pipeline's transaction it
        # held the database's write lock longer (bench/RESULTS.md), and bulletin copies only
        # exist from this moment.
        raw = sign_if_configured(self.settings, raw)
        relay = self.relay_for(row)
        rate = self.bulletin_rate if relay.section == "relay:bulletins" else self.rate
        if rate is not None:
            rate.wait()
        try:
            self._send(row, raw, relay)
        except TemporaryFailure as exc:
            self._retry_later(row, str(exc))
            reachable = relay.section in self._open or not relay.host
            if not reachable and self.relay_down is not None:
                self.relay_down.set()
            return reachable
        except PermanentFailure as exc:
            db.outbox.mark_failed(row.id, str(exc))
            self._tally("failed")
            self._report_refusal(row, raw, exc)
            log.warning("outbound %s to %s failed for good: %s", row.id, row.rcpt_to, exc, extra=self._about(row))
        else:
            db.outbox.mark_sent(row.id, self.clock.now())
            if self.relay_down is not None and self.relay_down.is_set():
                self.relay_down.clear()
                self.relay_back()
            self._tally("sent")
            if row.bulletin is None or log.isEnabledFor(logging.DEBUG):
                log.log(logging.DEBUG if row.bulletin else logging.INFO, "outbound %s (%s) delivered to %s",
                        row.id, row.purpose, row.rcpt_to, extra=self._about(row))
        return True

    def relay_back(self) -> None:
        """The relay can be reached (again, or as this daemon starts): what waits only because
        it could not goes now, not at its next retry (up to hours away after a long outage)."""
        due = db.outbox.retry_deferred_now(self.clock.now())
        if due:
            log.info("%s message(s) deferred because the relay could not be reached or used are tried now", due)

    def _about(self, row: db.outbox.Delivery) -> dict:
        return logs.about(outbound=row.id, message_id=row.message_id,
                          case=db.cases.reference_of(row.case_id) if row.case_id else None)

    def _tally(self, outcome: str) -> None:
        if self.tally is not None:
            self.tally(outcome)

    def _over_ack_cap(self, row: db.outbox.Delivery) -> bool:
        """[limits] acks_per_hour: over it, an acknowledgement waits (not an attempt) and goes
        once the last hour's count allows, oldest first."""
        limit, now = self.settings.acks_per_hour, self.clock.now()
        if not limit or db.outbox.acks_sent_since(now - dt.timedelta(hours=1), limit) < limit:
            return False
        at = now + dt.timedelta(seconds=ACK_WAIT_SECONDS)
        db.outbox.wait_for_ack_slot(row.id, at, at + dt.timedelta(hours=self.settings.retry_deadline_hours),
                                f"waiting: over [limits] acks_per_hour ({limit})")
        log.info("outbound %s: acknowledgement waits, %s already sent in the last hour", row.id, limit)
        return True

    def _report_refusal(self, row: db.outbox.Delivery, raw: bytes, failure: PermanentFailure) -> None:
        """A refusal at send time is a bounce like any other: a delivery report goes to the
        message's VERP address, through the pipeline, which records it on the case, tells
        the team when it was for a resident, and suppresses the address only when the reply
        says the address itself is dead."""
        status = failure.status or "5.0.0"
        report = compose.delivery_report(self.settings.domain, row.rcpt_to, status, str(failure), raw, self.clock.now())
        db.intake.save_inbound(report, "", [self.return_path(row)], "relay", self.clock.now())
        if self.reported is not None:
            self.reported.set()

    def return_path(self, row: db.outbox.Delivery) -> str:
        """The envelope sender: a signed bounces+<id> address (VERP), so a delivery report
        names the very message that failed."""
        s = self.settings
        return token_address("bounces", row.id, s.secret, s.domain)

    def relay_for(self, row: db.outbox.Delivery) -> Relay:
        """[relay:bulletins] for a bulletin copy when there is one; [relay] for all else."""
        if row.bulletin is not None and self.settings.bulletin_relay is not None:
            return self.settings.bulletin_relay
        return self.settings.relay

    def _send(self, row: db.outbox.Delivery, raw: bytes, relay: Relay) -> None:
        if not relay.host:
            try:
                write_spool(self.settings.spool, row, raw, self.return_path(row))
            except OSError as exc:   # retried like a relay that is down, and said plainly
                raise TemporaryFailure(f"cannot write to the spool {self.settings.spool}: "
                                       f"{exc.strerror or exc}") from exc
            return
        try:
            smtp = self._connection(relay)
            smtp.sendmail(self.return_path(row), [row.rcpt_to], raw, mail_options=self._options(smtp, row, raw, relay))
        except TemporaryFailure:
            self.close(relay.section)
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _failure(code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            self.close(relay.section)
            raise _failure(exc.smtp_code, exc.smtp_error) from exc
        except UnicodeError as exc:   # text smtplib cannot put on the wire: never will
            self.close(relay.section)   # it may have stopped half-way through the transaction
            raise PermanentFailure(f"cannot be sent as written: {type(exc).__name__}: {exc}", status="5.6.7") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close(relay.section)
            raise TemporaryFailure(f"relay {relay.where}: {type(exc).__name__}: {exc}") from exc

    def _options(self, smtp: smtplib.SMTP, row: db.outbox.Delivery, raw: bytes, relay: Relay) -> list[str]:
        """SMTPUTF8 for an internationalised address (jérôme@...), where the relay offers it;
        where it does not, the message can never go that way: a permanent failure, said so."""
        head = raw.split(b"\r\n\r\n", 1)[0]
        if row.rcpt_to.isascii() and head.isascii():
            return []
        if not smtp.has_extn("smtputf8"):
            raise PermanentFailure(f"the relay {relay.host} does not offer SMTPUTF8, which the "
                                   f"address {row.rcpt_to} needs (or its headers do)", status="5.6.7")
        return ["SMTPUTF8"]

    def _connection(self, relay: Relay) -> smtplib.SMTP:
        held = self._open.get(relay.section)
        if held is not None:
            smtp, used = held
            if getattr(smtp, "token_expires_at", float("inf")) - time.time() < TOKEN_AHEAD_SECONDS:
                # its login's token is about to run out: a new login with a new token, before
                # the relay drops the connection in the middle of a message
                log.info("%s %s: its OAuth token is running out; connecting again with a new one",
                         relay.section, relay.where)
                self.close(relay.section)
            elif time.monotonic() - used < IDLE_CHECK_SECONDS:
                self._open[relay.section] = (smtp, time.monotonic())
                return smtp  # busy: a dropped connection shows up as a send error
            else:
                try:
                    if smtp.noop()[0] == 250:
                        self._open[relay.section] = (smtp, time.monotonic())
                        return smtp
                except (OSError, smtplib.SMTPException):
                    pass
                self.close(relay.section)
        try:
            smtp = open_relay(self.settings, relay)
        except TemporaryFailure as exc:
            # a configuration matter: say so where people look (a token service that is down is
            # not one: it is retried, and said on /healthz, as a relay that is down)
            if not getattr(exc, "outage", False) and (f"[{relay.section}]" in str(exc) or "[oauth2]" in str(exc)):
                log.error("%s", exc)
            raise
        self._open[relay.section] = (smtp, time.monotonic())
        return smtp

    def close(self, section: str | None = None) -> None:
        """Close the connection to one relay (by section), or to every relay."""
        for name in [section] if section else list(self._open):
            held = self._open.pop(name, None)
            if held is None:
                continue
            try:
                held[0].quit()
            except (OSError, smtplib.SMTPException):
                pass

    def _retry_later(self, row: db.outbox.Delivery, error: str) -> None:
        delays = self.settings.retry_delays
        delay = delays[min(row.attempts, len(delays)) - 1]
        at = self.clock.now() + dt.timedelta(seconds=delay)
        if db.utc(at) > row.deadline:
            db.outbox.mark_failed(row.id, f"gave up after {row.attempts} attempts: {error}", row.lease_owner)
            self._tally("failed")
            log.warning("outbound %s to %s failed: retry deadline passed (%s)", row.id, row.rcpt_to, error,
                        extra=self._about(row))
            return
        db.outbox.reschedule(row.id, at, error, row.lease_owner)
        self._tally("retry")
        log.info("outbound %s to %s deferred for %ss: %s", row.id, row.rcpt_to, delay, error, extra=self._about(row))


def _failure(code: int, reply: bytes | str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"relay answered {code} {text}"
    if not 500 <= code < 600:
        return TemporaryFailure(message)
    enhanced = ENHANCED_RE.match(text.strip())
    return PermanentFailure(message, status=enhanced.group(1) if enhanced else "5.0.0")


def write_spool(folder: Path, row: db.outbox.Delivery, raw: bytes | None = None, return_path: str | None = None) -> Path:
    """Write one message as <folder>/<time>-<id>-<purpose>.eml, atomically and durably."""
    folder.mkdir(parents=True, exist_ok=True)
    created = db.as_datetime(row.created_at)
    name = f"{created:%Y%m%dT%H%M%S}-{row.id:08d}-{row.purpose}.eml"
    envelope = f"Return-Path: <{return_path or row.mail_from}>\nDelivered-To: {row.rcpt_to}\n".encode()
    body = (bytes(row.raw) if raw is None else raw).replace(b"\r\n", b"\n")
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.write(envelope + body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)
    except OSError:   # a full disk, say: leave no half-written file behind
        tmp.unlink(missing_ok=True)
        raise
    return folder / name


def run_loop(deliverer: Deliverer, wake: threading.Event, stop: threading.Event, poll: float) -> None:
    """Deliver until told to stop; sleep on `wake` when nothing is due."""
    deliverer.stopping = stop
    # A "sent" mark lost to a power cut means one message sent twice, never one lost, so this
    # thread's commits need not wait for the disk: process crashes are still safe (WAL).
    db.relaxed_durability_for_this_thread()
    while not stop.is_set():
        deliverer.beat = time.monotonic()
        try:
            busy = deliverer.deliver_one()
        except Exception:  # the database may be briefly unavailable; never let the thread die
            log.exception("delivery worker %s: unexpected error; carrying on", deliverer.owner)
            busy = False
            stop.wait(poll)
        if not busy:
            wake.wait(poll)
            wake.clear()
    deliverer.close()

