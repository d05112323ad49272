"""Replay-proof police mail (issue 23). A genuine officer message is signed once but can be
sent again by anyone who holds a copy: with a header added, with unsigned headers rewritten
to point at another case, or with text appended past an l= signature. So police mail that
is authenticated by its DKIM signature acts on a case only when:

- no header that RFC 5322 allows once appears twice (which instance would be read?);
- the signature covers the whole body (no text past an l= length) and the Content-Type
  header (which says how the body is read: an unsigned one can turn the same signed bytes
  into other text, by making a part an attachment, HTML or another charset);
- the case it names is named by a header instance the signature covered: the case's reply
  address in To or Cc, our Message-ID in In-Reply-To or References, or the case reference
  as the first reference in the Subject (Exchange Online signs only From, Date, Subject and
  Message-ID, and keeps the reference in the Subject);
- neither the signature nor its signed Message-ID was acted on before (held as a replay);
  each is remembered in the message's transaction when it is acted on (db.replay).

Mail authenticated another way (SPF, a trusted server's Authentication-Results, a trusted
network) has no signature of ours to read: the older rules in stages._officer_problems
apply to it (the reply address, or our signed Message-ID in References), and only the
duplicate-header rule is added.
"""

from __future__ import annotations

from gateway import db
from gateway.mail import classify
from gateway.mail.addresses import verify_message_id, verify_reply_address
from gateway.pipeline import Context
from gateway.trust.signed import named_by

SINGLE = ("from", "sender", "reply-to", "to", "cc", "subject", "message-id", "in-reply-to", "references", "date")
REPLAY = "a replay of a message already acted on (the same signed message was sent to the gateway again)"


def by_signature(ctx: Context) -> bool:
    """Whether the message is police mail authenticated by an aligned DKIM signature."""
    judged = ctx.verdict
    return (getattr(judged, "method", "") == "dkim" and bool(judged.aligned)
            and ctx.msg.from_address in ctx.settings.police_addresses)


def problems(ctx: Context) -> list[str]:
    """Why this police message may not act on its case, in words for the team's copy."""
    found = [f"it has {len(ctx.msg.headers[name])} {_title(name)} headers, where a message may have only one "
             "(so it may have been altered after it was sent)"
             for name in SINGLE if len(ctx.msg.headers.get(name, ())) > 1]
    if not by_signature(ctx):
        return found
    aligned = ctx.verdict.aligned
    if not any("content-type" in s.names for s in aligned):
        found.append("its signature does not cover its Content-Type, which says how its text is to be read, so "
                     "what it says may have been changed after it was sent")
    if all(s.past_length for s in aligned):
        found.append("its signature covers only the first part of the text (DKIM l=), and more text follows "
                     "that anyone could have added")
    if ctx.case and not _tied(ctx):
        found.append(f"the parts of it that name case {ctx.case.reference} (To, Cc, In-Reply-To, References or "
                     "Subject) are not covered by the sender's signature, so they may have been changed after "
                     "it was sent")
    if db.replay.known(_marks(ctx)):
        found.append(REPLAY)
    return found


def first_use(ctx: Context) -> bool:
    """Remember the signature and its signed Message-ID as acted on; False if another
    message (or another daemon, just now) already acted on either."""
    if not by_signature(ctx):
        return True
    return db.replay.first_use(_marks(ctx), ctx.clock.now(), ctx.inbound_id)


def _tied(ctx: Context) -> bool:
    """Whether what the signature covered names this message's case."""
    case, settings = ctx.case, ctx.settings
    signed = named_by(ctx.verdict.aligned)
    if any(verify_reply_address(a, settings.secret, settings.domain) == case.reference for a in signed.addresses):
        return True
    for message_id in signed.thread_ids:
        if verify_message_id(message_id, settings.secret, settings.domain):
            found = db.cases.case_by_message_ids([message_id])
            if found is not None and found.id == case.id:
                return True
    # The first reference only: a subject that mentions another case too ("[SRG-2026-0002]
    # ... like SRG-2026-0001") must not let a copy be pointed at the one mentioned.
    return any(refs[:1] == [case.reference] for refs in
               (classify.subject_references(s, settings.reference_prefix) for s in signed.subjects))


def _marks(ctx: Context) -> list[tuple[str, str]]:
    aligned = ctx.verdict.aligned
    marks = [("signature", s.stamp) for s in aligned if s.stamp]
    marks += [("message-id", db.replay.digest(m)) for m in named_by(aligned).message_ids]
    return list(dict.fromkeys(marks))


def _title(name: str) -> str:
    return "-".join("ID" if part == "id" else part.capitalize() for part in name.split("-"))
