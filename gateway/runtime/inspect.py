"""How the gateway reads a message, without changing anything: `gateway inspect`.

With settings, the real pipeline runs inside a transaction that is always rolled back, so the
answer is exactly what the daemon would do now, and the database is left as it was. Without
settings, the message is only parsed and classified. No input makes it raise: a fault becomes
an entry in `problems`.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Callable
from dataclasses import asdict, dataclass, field
from email.utils import parseaddr

from gateway import db, pipeline
from gateway.pipeline import notify
from gateway.clock import Clock
from gateway.config import Settings
from gateway.mail import attachments, bounces, classify, form, language, urgency
from gateway.mail.parse import ParsedMessage, parse
from gateway.mail.trim import reply_text
from gateway.render import Renderer
from gateway.trust.dns import Resolver


TEXT_LINES = 12   # lines of the text `gateway inspect` shows a person before saying how many more


@dataclass
class Reading:
    file: str
    kind: str = "invalid"
    case: str | None = None
    reply_text: str = ""
    auto_submitted: bool = False
    problems: list[str] = field(default_factory=list)
    bounce: dict | None = None      # when kind is bounce: {"recipients": [...], "permanent": bool}
    urgent: bool = False            # someone may be in danger now: the case would be marked urgent
    urgent_why: list[str] = field(default_factory=list)   # the words that made that decision
    attachments_held: list[str] = field(default_factory=list)   # "name: why", for each held back
    sender_check: str = ""          # with a config: the sender check's verdict (DKIM, SPF, DMARC), in words
    language: str = "en"            # the language the gateway would answer in: cy | en
    came_by: str = ""               # "the online form ...", when it came (or says it came) by the form

    def as_text(self, lines: int = TEXT_LINES) -> str:
        """For a person: every field --json has, the text up to `lines` lines, the cut said."""
        out = [f"{self.file}: {self.kind}" + (f" {self.case}" if self.case else "")
               + (" (automatic)" if self.auto_submitted else "")
               + f" [answered in {'Welsh' if self.language == 'cy' else 'English'}]"]
        if self.came_by:
            out.append(f"  came by: {self.came_by}")
        # Every field --json has is shown, an empty one as such: a missing line reads as "not looked at".
        out.append(f"  sender check: {self.sender_check or 'none (no config: not checked)'}")
        out.append(f"  automatic: {'yes' if self.auto_submitted else 'no'}")
        if self.urgent:
            out.append(f"  urgent: yes ({', '.join(self.urgent_why)}): the resident would be told to dial 999")
        else:
            out.append("  urgent: no")
        if self.bounce is not None:
            how = "permanent failure" if self.bounce["permanent"] else "not permanent"
            out.append(f"  bounce: {how} ({self.bounce['type']}, {self.bounce['reason']}) for "
                       + (", ".join(self.bounce["recipients"]) or "no address named")
                       + (f"; delivery {self.bounce['verp']}" if self.bounce.get("verp") else "")
                       + ("; the address would be suppressed" if self.bounce["suppress"] else ""))
        out += [f"  attachment held: {held}" for held in self.attachments_held] or ["  attachments held: none"]
        out += [f"  problem: {p}" for p in self.problems] or ["  problems: none"]
        text = self.reply_text.strip("\n").splitlines()
        out.append("  text:" if text else "  text: none")
        out += [f"    {line}" for line in text[:lines]]
        if len(text) > lines:
            out.append(f"    ... {len(text) - lines} more line(s) (--json shows them all)")
        return "\n".join(out)

    language_set: bool = field(default=False, repr=False)   # the case's own language was found

    def as_dict(self) -> dict:
        row = asdict(self)
        row.pop("language_set")
        if self.kind != "bounce":
            row.pop("bounce")
        return row


class _Rollback(Exception):
    """Raised to leave the inspection transaction without committing anything."""


def inspect(name: str, raw: bytes, settings: Settings | None = None, renderer: Renderer | None = None,
            clock: Clock | None = None) -> Reading:
    reading = Reading(file=name)
    report_of = functools.cache(lambda: bounces.read(raw))   # read a delivery report once at most
    try:
        msg = parse(raw)
        if not msg.from_address and not msg.header("return-path"):
            reading.problems.extend(msg.problems)
            if _report(msg, report_of):  # some bounces are so broken they carry no sender at all
                reading.kind = "bounce"
            else:
                reading.problems.append("no sender at all (no From, no Return-Path): no one to answer")
        elif settings is None:
            _classify(msg, report_of, reading)
        else:
            _thread(raw, msg, reading, settings, renderer, clock)
        if msg.header(form.HEADER) and not reading.came_by:
            reading.came_by = ("the online form, says its X-Surgery-Form header (believed only for a message "
                               "the form itself stored)")
        if not reading.language_set:
            reading.language = language.detect(f"{msg.subject}\n{reply_text(msg)}")
        limits = (settings.max_attachments, settings.max_attachment_bytes) if settings else (20, 20 * 1024 * 1024)
        reading.attachments_held = [f"{a.name}: {a.held}" for a in attachments.judge(msg.attachments, *limits)
                                    if a.held]
        if reading.kind == "bounce":
            report = report_of()
            reading.bounce = {"recipients": report.recipients if report else [],
                              "permanent": bool(report and report.permanent and report.kind != "delay"),
                              "type": report.kind if report else "unreadable",
                              "reason": (report.reason or report.kind) if report else "unreadable",
                              "suppress": bool(report and report.kind == "bounce" and report.permanent
                                               and report.address_is_dead),
                              "verp": _verp(msg, settings)}
    except Exception as exc:  # never crash on any input: say what went wrong instead
        reading.kind = "invalid"
        reading.problems.append(f"could not be read: {type(exc).__name__}: {exc}")
    return reading


@functools.lru_cache(maxsize=4)
def _resolver(servers: tuple, timeout: float) -> Resolver:
    """One resolver (and its cache) for every file of an inspect run."""
    return Resolver(servers, timeout)


def _verp(msg: ParsedMessage, settings: Settings | None) -> str | None:
    """The delivery a report is about, from its VERP address (bounces+<id>-<signature>@...),
    as out:<id>; checked against the secret when there is a config. Reports that name no
    failed address still name the delivery this way."""
    from gateway.mail.addresses import split, verify_token_address

    for name in ("to", "delivered-to", "x-original-to", "envelope-to"):
        for value in msg.headers.get(name, []):
            address = parseaddr(value)[1] or value
            local = split(address)[0]
            if not local.startswith("bounces+"):
                continue
            if settings is None:   # no secret to check it with: the id it claims
                claimed = local.removeprefix("bounces+").split("-")[0]
                return f"out:{claimed}" if claimed.isdigit() else None
            value_id = verify_token_address(address, "bounces", settings.secrets, settings.domain)
            return f"out:{value_id}" if value_id else None
    return None


def _report(msg: ParsedMessage, report_of: Callable[[], bounces.DeliveryReport | None]) -> bool:
    """Whether the message looks like, and reads as, a delivery report (not a read receipt)."""
    report = report_of() if classify.looks_like_report(msg) else None
    return report is not None and report.kind != "receipt"


def _envelope_sender(msg: ParsedMessage) -> str:
    """The Return-Path a delivered file carries, else its From address."""
    return_path = msg.header("return-path")
    if return_path:
        return parseaddr(return_path)[1] or ""
    return msg.from_address


def _classify(msg: ParsedMessage, report_of: Callable[[], bounces.DeliveryReport | None], reading: Reading) -> None:
    reading.problems.extend(msg.problems)
    mail_from = _envelope_sender(msg)
    automatic = classify.automatic(msg, mail_from)
    reading.auto_submitted = automatic is not None
    # Without a config there is no "our domain": only an absurd Received count means a loop.
    if len(msg.headers.get("received", [])) > classify.MAX_RECEIVED:
        reading.kind = "loop"
    elif automatic or classify.looks_like_report(msg):
        report = report_of()
        is_report = report is not None and report.kind != "receipt"
        unreadable_bounce = report is None and classify.is_bounce(msg, mail_from)
        if report is not None and report.kind == "complaint":
            reading.kind = "auto_reply"  # an abuse report: the address is suppressed, no answer
            reading.problems.append(f"abuse report (ARF) about mail to {', '.join(report.recipients) or 'us'}")
        elif is_report or unreadable_bounce:
            reading.kind = "bounce"
        elif automatic:
            reading.kind = "auto_reply"
        else:
            reading.kind = "resident_new"
            reading.reply_text = reply_text(msg, sender=msg.from_name)
    elif not msg.from_address:
        reading.kind = "invalid"
    else:
        reading.kind = "resident_new"
        _read_as_resident(reading, msg, new=True)


def _read_as_resident(reading: Reading, msg: ParsedMessage, new: bool, phrases: tuple[str, ...] = ()) -> None:
    """A resident's words: what would be kept of them, and whether they say someone is in danger
    (in all the text of a new message; in a message already taken in, its own words)."""
    reading.reply_text = reply_text(msg, sender=msg.from_name)
    reading.urgent_why = urgency.assess(f"{msg.subject}\n{msg.text if new else reading.reply_text}", phrases).why
    reading.urgent = bool(reading.urgent_why)


def _would_relay(msg: ParsedMessage, settings: Settings) -> str:
    """The text a held reply would carry to the resident were it let through: trimmed, its
    #commands left out, police addresses removed (as the officer's relay does)."""
    from gateway.mail.scrub import police_addresses_removed
    from gateway.pipeline.officer import COMMAND_RE

    lines = reply_text(msg, sender=msg.from_name).split("\n")
    while lines and (not lines[0].strip() or COMMAND_RE.match(lines[0])):
        lines.pop(0)
    return police_addresses_removed("\n".join(lines).strip(), settings.police_domains)


def _thread(raw: bytes, msg: ParsedMessage, reading: Reading, settings: Settings, renderer: Renderer,
            clock: Clock) -> None:
    mail_from = _envelope_sender(msg)
    if msg.message_id:
        earlier = db.intake.first_with_message_id(msg.message_id)
        if earlier is not None:
            reading.kind = earlier.kind or "invalid"
            reading.case = db.cases.case_by_id(earlier.case_id).reference if earlier.case_id else None
            reading.auto_submitted = classify.automatic(msg, mail_from) is not None
            reading.problems.extend(msg.problems)
            reading.problems.append(f"already taken in as inbound {earlier.id} ({earlier.state})")
            reading.sender_check = f"not checked: already taken in as inbound {earlier.id}"
            if reading.kind.startswith("resident"):   # how it was read when it was taken in, not "urgent: no"
                _read_as_resident(reading, msg, new=False, phrases=settings.urgent_phrases)
            if earlier.source == "form":
                reading.came_by = f"the online form, from client address {earlier.peer or 'unknown'}"
            return
    now = clock.now()
    ctx = pipeline.Context(settings=settings, clock=clock, renderer=renderer, inbound_id=None, raw=raw,
                           mail_from=mail_from, rcpt_tos=[], received_at=now.astimezone(dt.timezone.utc),
                           resolver=_resolver(settings.trust.dns_servers, settings.trust.dns_timeout))
    try:
        with db.atomic():
            reading.kind = pipeline.run(ctx)
            reading.sender_check = notify.sender_check(ctx) if ctx.verdict is not None else ""
            if ctx.case is not None:
                reading.language, reading.language_set = ctx.case.language, True
            # A new case exists only once the daemon takes the message in: no reference yet.
            reading.case = ctx.case.reference if ctx.case and reading.kind != "resident_new" else None
            raise _Rollback
    except _Rollback:
        pass
    except pipeline.StageFailure as failure:
        reading.kind = "invalid"
        reading.problems.append(f"would be parked at stage {failure.stage}: "
                                f"{type(failure.error).__name__}: {failure.error}")
    if reading.kind == "quarantine":
        reading.kind = "held"
        reading.problems.append("would be quarantined: an upstream spam verdict (gateway queue release lets it in)")
    if reading.kind == "duplicate":  # a Message-ID we sent ourselves, coming back
        reading.kind = "loop"
        reading.problems.append(f"Message-ID {msg.message_id} is one the gateway sent")
    reading.auto_submitted = ctx.automatic is not None
    reading.reply_text = ctx.reply_text
    if reading.kind == "held" and ctx.notes:   # what a person would ask first: why, and what it said
        reading.problems.append(f"held: {ctx.notes[-1]}")
        if not reading.reply_text and ctx.msg is not None:
            reading.reply_text = _would_relay(ctx.msg, settings)
    reading.urgent, reading.urgent_why = bool(ctx.urgent), list(ctx.urgent)
    if ctx.msg is not None:
        reading.problems[:0] = ctx.msg.problems
