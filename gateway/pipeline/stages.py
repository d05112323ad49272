"""The stages: parse, screen, thread, route, notify. Each takes the Context and returns None."""

from __future__ import annotations

import datetime as dt

from gateway import db
from gateway.errors import Defer, Discard, Hold
from gateway.mail import classify, form, urgency
from gateway.mail.addresses import (base_local, looks_like_reply_address, split, verify_message_id,
                                    verify_reply_address, within)
from gateway.mail.parse import parse as parse_bytes
from gateway.pipeline import Context
from gateway.pipeline import notify as notify_module
from gateway.pipeline import alerts, escalation, limits, officer, onboarding, replay, reports
from gateway.trust import verdict


def parse(ctx: Context) -> None:
    ctx.msg = parse_bytes(ctx.raw)
    if not ctx.msg.from_address and ctx.mail_from:
        ctx.msg.from_address = ctx.mail_from.lower()
        ctx.msg.problems.append("From header missing; replying to the envelope sender")
    if ctx.source == "form":   # what the form door wrote is believed only on what it stored
        ctx.form = form.facts(ctx.msg.header(form.HEADER))


MAX_DEFERRALS = 6          # DNS failures waited out before police mail is held as unchecked
DEFER_SECONDS = 30         # the first wait; each next one doubles (about 30 minutes in all)
BUSY_SECONDS = 1           # the wait when another daemon holds the same Message-ID or sender


def authenticate(ctx: Context) -> None:
    """Judge the sender (DKIM, SPF, DMARC, or the trusted server or network). Needs DNS but
    no database, so it runs before the message's transaction. A resident's check is bounded
    by [trust] dns_timeout_seconds in all; police mail may take a few lookups' time more."""
    msg, settings = ctx.msg, ctx.settings
    if ctx.form is not None:   # typed into a web page: nothing to check it by, and not verified
        ctx.verdict = verdict.Verdict(split(msg.from_address)[1], reasons=(form.describe(ctx.form),))
        return
    if ctx.resolver is None:
        ctx.verdict = verdict.Verdict(split(msg.from_address)[1], reasons=("sender not checked",))
        return
    police = within(split(msg.from_address)[1], settings.police_domains)
    timeout = settings.trust.dns_timeout
    seen = verdict.Seen(ctx.peer, ctx.helo, ctx.mail_from, ctx.source)
    ctx.verdict = verdict.check(ctx.raw, msg.from_address, msg.from_problem,
                                msg.headers.get("authentication-results", []), seen, settings.trust, ctx.resolver,
                                budget=3 * timeout if police else timeout)


def screen(ctx: Context) -> None:
    """Drop loops and duplicates; note robots and officers for the stages after."""
    msg, settings = ctx.msg, ctx.settings
    loop = classify.loop(msg, settings.domain, _own_addresses(ctx))
    if loop:
        raise Discard("loop", loop)
    # Two daemons may hold two copies of one message, or two messages of one sender, at once:
    # whoever has them locked goes first, the other waits its turn (and then sees the copy as
    # a duplicate, and counts the sender's cases right).
    per_sender = (settings.new_cases_per_sender_per_hour or settings.acks_per_sender_per_day
                  or settings.auto_replies_per_address_per_day)
    if not db.cases.lock_for_this_transaction(msg.message_id, msg.from_address if per_sender else None):
        raise Defer("another daemon is handling this Message-ID or sender just now", BUSY_SECONDS, counted=False)
    # Signed police mail seen before is not dropped as a copy: it is held as a replay (pipeline.replay).
    if db.cases.message_id_known(msg.message_id) and not replay.by_signature(ctx):
        raise Discard("duplicate", f"Message-ID {msg.message_id} already handled")
    verdict = classify.spam(msg, settings.spam_header, settings.spam_threshold)
    if verdict and not ctx.released:
        raise Hold("quarantine", f"upstream spam verdict: {verdict}")
    if ctx.form is not None and ctx.form.trap and not ctx.released:
        raise Hold("quarantine", "the online form's hidden field, which people never see, was filled in")
    if ctx.form is not None and within(split(msg.from_address)[1], settings.police_domains) and not ctx.released:
        # anyone can type an officer's address into the form: it is not theirs, and not a resident's
        raise Hold("held", "a police address typed on the online form")
    ctx.automatic = classify.automatic(msg, ctx.mail_from)
    if not ctx.automatic and not msg.from_address:
        raise Hold("invalid", "no sender address at all, so no one to answer")
    if msg.from_address in settings.police_addresses:
        ctx.sender_role = "officer"


def thread(ctx: Context) -> None:
    """Find the case this message belongs to, by reply address, Message-IDs or subject."""
    ctx.case, ctx.threaded_by = _find_case(ctx)
    case, msg, now = ctx.case, ctx.msg, ctx.clock.now()
    if ctx.automatic:
        receipt = ctx.report is not None and ctx.report.kind == "receipt"
        kind = "bounce" if not receipt and classify.is_bounce(msg, ctx.mail_from) else "auto_reply"
        if case:
            db.cases.add_event(case, kind, now, ctx.automatic, ctx.inbound_id)
        raise Discard(kind, ctx.automatic)
    if ctx.sender_role == "officer":
        _officer(ctx)
        return
    if case and msg.from_address != case.resident_address:
        unlisted = onboarding.unlisted_officer(ctx)   # an officer the config does not know yet
        _hold(ctx, unlisted or "not the case's resident", advise=bool(unlisted))
    ctx.kind = "resident_follow_up" if case else "resident_new"
    if ctx.kind == "resident_new" and not ctx.released:
        _limit_new_cases(ctx)


def _limit_new_cases(ctx: Context) -> None:
    """Over [limits] new_cases_per_sender_per_hour: keep the message on the sender's newest
    case, acknowledge nothing, and tell the team once an hour."""
    settings, msg, now = ctx.settings, ctx.msg, ctx.clock.now()
    limit = settings.new_cases_per_sender_per_hour
    if not limit:  # 0: no limit
        return
    count = db.cases.cases_opened_since(msg.from_address, now - dt.timedelta(hours=1), limit)
    if count < limit:
        return
    ctx.case = db.cases.newest_case_of(msg.from_address)
    db.cases.add_event(ctx.case, "grouped", now, f"new message from {msg.from_address} over the limit of "
                    f"{settings.new_cases_per_sender_per_hour} new cases an hour", ctx.inbound_id)
    if urgency.assess(f"{msg.subject}\n{msg.text}", settings.urgent_phrases).why:
        # Danger now is never held back: anyone can fill a resident's hour by writing in their
        # name. It joins their newest case as a follow-up (flagged, to the team, to the desk).
        ctx.kind, ctx.threaded_by = "resident_follow_up", "sender (over the new-case limit, urgent)"
        return
    if not db.cases.event_since(ctx.case, "flood_notice", now - dt.timedelta(hours=1)):
        db.cases.add_event(ctx.case, "flood_notice", now, "team told", ctx.inbound_id)
        ctx.team = settings.team(ctx.case.team) or settings.default_team
        notify_module.flood(ctx, count)
    raise Hold("held", f"over {settings.new_cases_per_sender_per_hour} new cases an hour from {msg.from_address}")


def _officer(ctx: Context) -> None:
    """Police mail speaks for a team only when both hold: it is tied to the case by something
    only the gateway gave out (the signed reply address, or our signed Message-ID in
    References; for DKIM-signed mail, by what its signature covered, once: pipeline.replay), and its sender is authenticated as that officer (README: "How the gateway
    decides who speaks for a team"). Anything else is held and the team told why; the
    officer hears of it only when authenticated (a forged sender gets no backscatter)."""
    case, msg, judged = ctx.case, ctx.msg, ctx.verdict
    if judged.temporary and not judged.authenticated and ctx.deferrals < MAX_DEFERRALS:
        raise Defer(f"sender check incomplete ({judged.why()})", DEFER_SECONDS * 2 ** ctx.deferrals)
    problems = _officer_problems(ctx)
    if not case:
        if judged.authenticated:
            notify_module.officer_notice(ctx, "It belongs to no case: reply to a case's email to answer a resident.")
        raise Hold("held", "; ".join(problems + ["mail from a police address that belongs to no case"]))
    if problems:
        _hold(ctx, "; ".join(problems), tell_officer=judged.authenticated)
    if not replay.first_use(ctx):   # another daemon acted on the same signature just now
        _hold(ctx, replay.REPLAY, tell_officer=True)
    db.cases.remember_message_id(msg.message_id, case, "in")
    ctx.kind = "officer_reply"


def _officer_problems(ctx: Context) -> list[str]:
    """Every reason to hold police mail, the sender check first: unauthenticated mail is held
    for that, whatever else it claims (its From address is only a claim)."""
    case, msg, judged = ctx.case, ctx.msg, ctx.verdict
    problems = []
    if not judged.authenticated:
        waited = " (DNS gave no answer, even after waiting)" if judged.temporary else ""
        problems.append(f"not authenticated{waited}: {judged.why()}")
    if ctx.conflict:
        problems.append(ctx.conflict)
    # A DKIM-signed message is tied by what its signature covered (replay.problems); other routes as before.
    if case and not replay.by_signature(ctx) and ctx.threaded_by not in ("reply address", "References"):
        problems.append("tied to the case only by the reference in its subject, which anyone can write")
    if case and ctx.threaded_by in ("subject reference", "References") and not _written_to_gateway(ctx):
        problems.append(NOT_SENT_TO_US)
    problems += replay.problems(ctx)
    team = ctx.settings.team(case.team) if case else None
    if case and (team is None or not ctx.settings.may_speak_for(team, msg.from_address)):
        problems.append(f"{msg.from_address} is not an officer of the case's team")
    return problems


NOT_SENT_TO_US = ("addressed to none of the gateway's addresses: an officer's mail about the case that was not "
                  "sent to the gateway")


def _written_to_gateway(ctx: Context) -> bool:
    """Whether To or Cc names the surgery address, a team address or the case's reply
    address. An officer's internal mail about a case (To: a colleague; Exchange does not
    sign To) carries the case in its subject and a valid signature: anyone with a copy could
    send it to surgery@ and have it relayed to the resident as the team's answer."""
    settings, own = ctx.settings, {a.lower() for a in _own_addresses(ctx)}
    for address in ctx.msg.to + ctx.msg.cc:
        local, domain = split(address)
        if f"{base_local(local)}@{domain}" in own or verify_reply_address(
                address, settings.secrets, settings.domain) == ctx.case.reference:
            return True
    return False


def _hold(ctx: Context, why: str, tell_officer: bool = False, made_up: bool = False, advise: bool = False) -> None:
    """Keep the message on its case, tell the case's team (once an hour per case: the
    next notice counts those held meanwhile), send nothing to the resident. Made-up case
    addresses (case references are easy to guess) are told once an hour per team, not per
    case: forty cases' addresses made up must not make forty notices."""
    case, msg, now = ctx.case, ctx.msg, ctx.clock.now()
    ctx.team = ctx.settings.team(case.team) or ctx.settings.default_team
    if made_up and not db.cases.claim_notice(f"made-up:{ctx.team.key}:{db.utc(now):%Y%m%d%H}", case.id, now):
        db.cases.add_event(case, "held", now, f"from {msg.from_address}: {why} (the team was told of a made-up "
                           "case address this hour: no notice again within the hour)"[:500], ctx.inbound_id)
        raise Hold("held", why)
    advice = onboarding.advice(ctx) if advise else {}   # the INI line to add: once an address a day
    notice = limits.held(ctx, f"from {msg.from_address}: {why}", tell=bool(advice))
    if notice.due:
        notify_module.held(ctx, why, notice.more, notice.since, advice=advice)
    if advice:
        onboarding.tell_officer(ctx, advice)
    if tell_officer:
        notify_module.officer_notice(ctx, f"Your message on case {case.reference} was held: {why}.")
    raise Hold("held", why)


def _find_case(ctx: Context):
    settings, msg = ctx.settings, ctx.msg
    officer = ctx.sender_role == "officer"
    by_token = None
    for address in ctx.rcpt_tos + msg.to + msg.cc:
        reference = verify_reply_address(address, settings.secrets, settings.domain)
        if reference and (case := db.cases.case_by_reference(reference)):
            if by_token is not None and case.id != by_token.id and officer:
                # e.g. a signed reply replayed with another case's address as the envelope recipient
                ctx.conflict = f"it is addressed to both case {by_token.reference} and case {case.reference}"
            by_token = by_token or case
        elif looks_like_reply_address(address, settings.domain) and not reference and not ctx.automatic:
            _bad_token(ctx, address)
    # Police mail is tied by our own signed Message-IDs only (a resident's are known to others).
    ours = [m for m in msg.thread_ids if verify_message_id(m, settings.secrets, settings.domain)]
    by_references = db.cases.case_by_message_ids(ours if officer else msg.thread_ids)
    if by_token is not None:
        if officer and by_references is not None and by_references.id != by_token.id:
            ctx.conflict = (f"its reply address is case {by_token.reference}'s but its References are case "
                            f"{by_references.reference}'s")
        return by_token, "reply address"
    if by_references is not None:
        return by_references, "References"
    for reference in classify.subject_references(msg.subject, settings.reference_prefix):
        case = db.cases.case_by_reference(reference)
        team = case and settings.team(case.team)
        if case and (msg.from_address == case.resident_address or (team and settings.may_speak_for(team, msg.from_address))):
            return case, "subject reference"
    return None, ""


def _bad_token(ctx: Context, address: str) -> None:
    """A reply address of ours with a signature that does not match: tampered with, or made
    up. Held on the case it names (whose team is told), or, naming none, held alone."""
    local = split(address)[0]
    reference = local.partition("+")[2].rpartition("-")[0].upper()
    case = db.cases.case_by_reference(reference) if reference else None
    why = f"written to {address}, a case address whose signature does not match (altered or made up)"
    if case is None:
        raise Hold("invalid", why)
    ctx.case = case
    _hold(ctx, why, made_up=True)


def route(ctx: Context) -> None:
    """Choose the team: the case's own; the address written to; a postcode; the default."""
    settings = ctx.settings
    if ctx.case:
        ctx.team = settings.team(ctx.case.team) or settings.default_team
        ctx.routed_by = "existing case"
        return
    chosen = settings.area(ctx.form.area) if ctx.form is not None and ctx.form.area else None
    if chosen and settings.team(chosen.team):   # the resident chose it from the form's list
        ctx.team, ctx.routed_by = settings.team(chosen.team), f"area chosen on the form ({chosen.name})"
        return
    by_address = {t.address: t for t in settings.teams}
    written_to = []
    for address in ctx.rcpt_tos + ctx.msg.to + ctx.msg.cc:
        local, domain = split(address)
        area = settings.area(local.partition("+")[2]) if local.startswith("area+") and domain == settings.domain else None
        if area and settings.team(area.team):  # a reply to a bulletin: that area's team
            ctx.team, ctx.routed_by = settings.team(area.team), f"reply to the {area.name} alerts"
            return
        team = by_address.get(f"{base_local(local)}@{domain}")
        if team and team not in written_to:
            written_to.append(team)
    if written_to:
        ctx.team, ctx.routed_by = written_to[0], f"written to {written_to[0].address}"
        ctx.also_teams = written_to[1:]
        return
    best: tuple[int, object, str] | None = None
    for postcode in classify.postcodes(f"{ctx.msg.subject}\n{ctx.msg.text}"):
        for team in settings.teams:
            for prefix in team.postcodes:
                if classify.postcode_matches(postcode, prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), team, postcode)
        if best:
            ctx.team, ctx.routed_by = best[1], f"postcode {best[2]}"
            return
    ctx.team, ctx.routed_by = settings.default_team, "default team"


def notify(ctx: Context) -> None:
    """Open or update the case and queue the mail it calls for, in the same transaction."""
    if ctx.kind == "resident_new":
        notify_module.new_case(ctx)
    elif ctx.kind == "officer_reply":
        officer.officer_reply(ctx)
    else:
        notify_module.follow_up(ctx)
    if ctx.urgent and ctx.kind != "officer_reply":
        escalation.at_once_if_closed(ctx)


def _own_addresses(ctx: Context) -> set[str]:
    settings = ctx.settings
    return {settings.surgery_address} | {t.address for t in settings.teams}


STAGES = (parse, authenticate, screen, reports.reports, alerts.alerts, thread, route, notify)
PURE = 2   # the first stages read nothing from the database: pipeline.prepare runs them early
