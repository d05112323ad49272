"""The pipeline, declared as data: STAGES run in order over one Context. Imports alerts,
trust, mail, render, db, config and promise.dates; imported by the runtime, the reminders
(promise.reminders) and the CLI's case commands.

A stage ends the run on purpose by raising Discard or Hold (the message is kept and its
outcome recorded); any other exception parks the message with the stage's name. The caller
runs the whole pipeline inside one transaction, so a case change and the mail it causes are
committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from gateway import logs
from gateway.clock import Clock
from gateway.config import Settings, Team
from gateway.errors import StageStop
from gateway.mail.parse import ParsedMessage
from gateway.db.cases import Case
from gateway.render import Renderer

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    clock: Clock
    renderer: Renderer
    inbound_id: int
    raw: bytes
    mail_from: str
    rcpt_tos: list[str]
    received_at: dt.datetime
    msg: ParsedMessage | None = None
    kind: str = "invalid"
    automatic: str | None = None
    sender_role: str = "resident"  # resident | officer
    case: Case | None = None
    threaded_by: str = ""
    team: Team | None = None
    routed_by: str = ""
    report: object | None = None   # a delivery report, when the message is one (mail.bounces)
    reply_text: str = ""     # what is relayed to the resident or forwarded to the team
    urgent: list[str] = field(default_factory=list)   # the words that say someone is in danger now
    also_teams: list[Team] = field(default_factory=list)   # other teams written to at once
    notes: list[str] = field(default_factory=list)
    released: bool = False   # let out of quarantine by a person: no spam or flood check
    prepared: bool = False   # the stages that need no database have run (prepare)
    peer: str | None = None  # the SMTP client's address (None: IMAP or injected)
    helo: str | None = None
    source: str = ""         # the door it came in by (smtp, imap, inject, ...): for the sender check only
    resolver: object | None = None   # trust.dns.Resolver; None: senders are not checked
    verdict: object | None = None    # trust.verdict.Verdict, from the authenticate stage
    deferrals: int = 0       # times this message already waited for DNS
    conflict: str = ""       # its reply address and References name different cases
    defer_seconds: float = 0.0
    defer_counted: bool = True
    historic: bool = False   # mail moved in from another system (inject --received): no acknowledgement
    form: object | None = None   # mail.form.Facts: it came by the online form (source "form" only)


def without_message(settings: Settings, clock: Clock, renderer: Renderer, case: Case | None = None,
                    team: Team | None = None) -> Context:
    """A context for mail the gateway sends of its own accord, with no message behind it (a
    reminder, a digest, an administrator's command)."""
    return Context(settings=settings, clock=clock, renderer=renderer, inbound_id=None, raw=b"", mail_from="",
                   rcpt_tos=[], received_at=clock.now(), case=case, team=team)


class StageFailure(Exception):
    """An unexpected error inside a stage; carries the stage's name for the parked record."""

    def __init__(self, stage: str, error: BaseException):
        self.stage = stage
        self.error = error
        super().__init__(f"{stage}: {type(error).__name__}: {error}")


def read(ctx: Context) -> None:
    """Run the first stage alone (parse): whose message it is, known before its sender is
    checked (prepare then runs the rest). Raises StageFailure."""
    from gateway.pipeline.stages import STAGES

    _run_stages(ctx, STAGES[:1])


def prepare(ctx: Context) -> None:
    """Run the leading stages that touch no database (parsing, the sender check), so that a
    caller can do this work before its transaction takes the database's write lock; after
    read(), the parse is not done again. Raises StageFailure."""
    from gateway.pipeline.stages import PURE, STAGES

    _run_stages(ctx, STAGES[1 if ctx.msg is not None else 0:PURE])
    ctx.prepared = True


def run(ctx: Context) -> str:
    """Run every stage not yet run; return the message's kind. Raises StageFailure on a fault."""
    from gateway.pipeline.stages import PURE, STAGES

    return _run_stages(ctx, STAGES[PURE if ctx.prepared else 0:])


def _run_stages(ctx: Context, stages) -> str:
    for stage in stages:
        try:
            stage(ctx)
        except StageStop as stop:
            log.info("inbound %s: %s at %s (%s)", ctx.inbound_id, stop.kind, stage.__name__, stop.reason,
                     extra=logs.about(inbound=ctx.inbound_id, case=ctx.case.reference if ctx.case else None,
                                      message_id=ctx.msg.message_id if ctx.msg is not None else None))
            ctx.defer_seconds = getattr(stop, "seconds", 0.0)
            ctx.defer_counted = getattr(stop, "counted", True)
            ctx.notes.append(stop.reason)
            return stop.kind
        except Exception as exc:
            raise StageFailure(stage.__name__, exc) from exc
    return ctx.kind
