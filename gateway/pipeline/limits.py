"""Limits on what the gateway sends of its own accord, so that nobody can use it to bomb an
address or a team's mailbox (issue 23):

- automatic replies (acknowledgements, "no area", confirmation requests, welcomes, ...) to
  one address: at most [limits] auto_replies_per_address_per_day in 24 hours, all kinds
  together; officers who proved who they are (their notices) are not counted;
- "Held:" notices to a team: one per case an hour; the next says how many more were held.

Counted in the database inside the message's transaction (the sender's lock, taken in
stages.screen, or the case's, taken here), so the limits hold across restarts and daemons.
What is not sent is recorded: a case event, or without a case a log line (addresses shown
as [gateway] log_addresses says).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from gateway import db, logs
from gateway.errors import Defer
from gateway.mail.addresses import base_local
from gateway.pipeline import Context

log = logging.getLogger(__name__)

# Outbox purposes that are automatic replies to whoever wrote (never a verified officer).
AUTO_REPLIES = ("resident_ack", "alerts_no_area", "alerts_already", "alerts_confirm_request",
                "alerts_subscribed", "alerts_unsubscribed")
DAY = dt.timedelta(days=1)
HELD_NOTICE_EVERY = dt.timedelta(hours=1)
BUSY_SECONDS = 1


def may_reply(ctx: Context, address: str, what: str, event: str = "not_sent") -> bool:
    """Whether an automatic reply (`what`, in words) may go to `address` now; if not, say so
    on the case (an `event` of that kind) or in the log."""
    limit = ctx.settings.auto_replies_per_address_per_day
    if not limit or _verified_officer(ctx, address):   # 0: no cap
        return True
    # One mailbox, however it is written: victim+1@, victim+2@ ... all reach victim@.
    mailbox = mailbox_of(address)
    lock_address(ctx, address)
    if mailbox != address:
        lock_address(ctx, mailbox)
    now = ctx.clock.now()
    if db.outbox.queued_to_mailbox_since(mailbox, AUTO_REPLIES, now - DAY, limit) < limit:
        return True
    why = (f"no {what} to {address}: it already had {limit} automatic replies in 24 hours "
           "([limits] auto_replies_per_address_per_day)")
    if ctx.case is not None:
        db.cases.add_event(ctx.case, event, now, why[:500], ctx.inbound_id)
    else:
        log.info("inbound %s: %s", ctx.inbound_id, why,
                 extra=logs.about(inbound=ctx.inbound_id, message_id=ctx.msg.message_id))
    return False


def once_a_day(ctx: Context, address: str, purpose: str) -> bool:
    """Whether mail of `purpose` may go to `address` now: none went to its mailbox in the
    last 24 hours (a notice told once a day however often its cause comes back)."""
    lock_address(ctx, address)
    return not db.outbox.queued_to_mailbox_since(mailbox_of(address), (purpose,), ctx.clock.now() - DAY, 1)


def mailbox_of(address: str) -> str:
    """The mailbox an address reaches: lower case, without a +detail (sub-addressing)."""
    local, _, domain = address.lower().rpartition("@")
    return f"{base_local(local)}@{domain}" if local else address.lower()


def _verified_officer(ctx: Context, address: str) -> bool:
    """An officer or team mailbox that proved who it is, writing itself: not a victim."""
    return (address == ctx.msg.from_address and address in ctx.settings.police_addresses
            and ctx.verdict is not None and ctx.verdict.authenticated)


def lock_address(ctx: Context, address: str) -> None:
    """Make sure this transaction holds `address`'s lock (the sender's is taken in
    stages.screen), so that its replies are counted right; call before writing anything
    for a message whose reply goes to someone else than its sender."""
    if ctx.settings.auto_replies_per_address_per_day and address != ctx.msg.from_address \
            and not db.cases.lock_for_this_transaction(None, address):
        raise Defer("another daemon is handling mail to this address just now", BUSY_SECONDS, counted=False)


@dataclass(frozen=True)
class HeldNotice:
    """Whether the team is told of this held message, and of how many held since its last notice."""

    due: bool
    more: int = 0                     # held on the case since the last notice, each without one
    since: dt.datetime | None = None  # when that notice went


def held(ctx: Context, detail: str, tell: bool = False) -> HeldNotice:
    """Record a held message on its case and decide whether its team is told now: once an
    hour per case, the notice counting those held since the last (`tell`: now whatever the
    hour, for a notice with news of its own, itself limited). Call before anything else
    is written for the message (it may defer it while another daemon decides the same)."""
    case, now = ctx.case, ctx.clock.now()
    if not db.cases.lock_case_for_this_transaction(case.id):
        raise Defer("another daemon is holding mail on this case just now", BUSY_SECONDS, counted=False)
    last = db.cases.last_event(case, "held_notice")
    since = db.as_datetime(last.at).replace(tzinfo=dt.timezone.utc) if last else None
    if since is not None and since > now - HELD_NOTICE_EVERY and not tell:
        db.cases.add_event(case, "held", now, f"{detail} (the team was told of held mail at "
                           f"{since:%H:%M} UTC: no notice again within the hour)"[:500], ctx.inbound_id)
        return HeldNotice(False)
    more = db.cases.events_after(case, "held", last.id) if last else 0
    db.cases.add_event(case, "held", now, detail[:500], ctx.inbound_id)
    db.cases.add_event(case, "held_notice", now, "team told" + (f", with {more} more held since the last notice"
                                                                if more else ""), ctx.inbound_id)
    return HeldNotice(True, more, since)
