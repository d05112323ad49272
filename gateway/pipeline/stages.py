"""The stages: parse, screen, thread, route, notify. Each takes the Context and returns None."""

from __future__ import annotations

import datetime as dt

from gateway import store
from gateway.errors import Discard, Hold
from gateway.mail import classify
from gateway.mail.addresses import base_local, split, verify_reply_address
from gateway.mail.parse import parse as parse_bytes
from gateway.pipeline import Context
from gateway.pipeline import notify as notify_module
from gateway.pipeline import alerts, officer, reports


def parse(ctx: Context) -> None:
    ctx.msg = parse_bytes(ctx.raw)
    if not ctx.msg.from_address and ctx.mail_from:
        ctx.msg.from_address = ctx.mail_from.lower()
        ctx.msg.problems.append("From header missing; replying to the envelope sender")


def screen(ctx: Context) -> None:
    """Drop loops and duplicates; note robots and officers for the stages after."""
    msg, settings = ctx.msg, ctx.settings
    loop = classify.loop(msg, settings.domain, _own_addresses(ctx))
    if loop:
        raise Discard("loop", loop)
    if store.message_id_known(msg.message_id):
        raise Discard("duplicate", f"Message-ID {msg.message_id} already handled")
    verdict = classify.spam(msg, settings.spam_header, settings.spam_threshold)
    if verdict and not ctx.released:
        raise Hold("quarantine", f"upstream spam verdict: {verdict}")
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
            store.add_event(case, kind, now, ctx.automatic, ctx.inbound_id)
        raise Discard(kind, ctx.automatic)
    if ctx.sender_role == "officer":
        _officer(ctx)
        return
    if case and msg.from_address != case.resident_address:
        _hold(ctx, "not the case's resident")
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
    count = store.cases_opened_since(msg.from_address, now - dt.timedelta(hours=1), limit)
    if count < limit:
        return
    ctx.case = store.newest_case_of(msg.from_address)
    store.add_event(ctx.case, "grouped", now, f"new message from {msg.from_address} over the limit of "
                    f"{settings.new_cases_per_sender_per_hour} new cases an hour", ctx.inbound_id)
    if not store.event_since(ctx.case, "flood_notice", now - dt.timedelta(hours=1)):
        store.add_event(ctx.case, "flood_notice", now, "team told", ctx.inbound_id)
        ctx.team = settings.team(ctx.case.team) or settings.default_team
        notify_module.flood(ctx, count)
    raise Hold("held", f"over {settings.new_cases_per_sender_per_hour} new cases an hour from {msg.from_address}")


def _officer(ctx: Context) -> None:
    """An officer's mail counts as the team speaking only on its own team's case, and, where
    a trusted authentication server is configured, only when that server vouches for it."""
    case, msg = ctx.case, ctx.msg
    if not case:
        raise Hold("held", "mail from a police address that belongs to no case")
    team = ctx.settings.team(case.team)
    speaks = team is not None and msg.from_address in team.speakers
    authenticated = classify.authenticated(msg, ctx.settings.trusted_authserv_id)
    if not (speaks and authenticated):
        _hold(ctx, "not an officer of the case's team" if not speaks else "not authenticated by the trusted server")
    store.remember_message_id(msg.message_id, case, "in")
    ctx.kind = "officer_reply"


def _hold(ctx: Context, why: str) -> None:
    """Keep the message on its case, tell the case's team, send nothing to the resident."""
    case, msg = ctx.case, ctx.msg
    store.add_event(case, "held", ctx.clock.now(), f"from {msg.from_address}: {why}", ctx.inbound_id)
    ctx.team = ctx.settings.team(case.team) or ctx.settings.default_team
    notify_module.held(ctx, why)
    raise Hold("held", why)


def _find_case(ctx: Context):
    settings, msg = ctx.settings, ctx.msg
    for address in ctx.rcpt_tos + msg.to + msg.cc:
        reference = verify_reply_address(address, settings.secret, settings.domain)
        if reference and (case := store.case_by_reference(reference)):
            return case, "reply address"
    case = store.case_by_message_ids(msg.thread_ids)
    if case:
        return case, "References"
    for reference in classify.subject_references(msg.subject, settings.reference_prefix):
        case = store.case_by_reference(reference)
        team = case and settings.team(case.team)
        if case and msg.from_address in (case.resident_address, *(team.speakers if team else ())):
            return case, "subject reference"
    return None, ""


def route(ctx: Context) -> None:
    """Choose the team: the case's own; the address written to; a postcode; the default."""
    settings = ctx.settings
    if ctx.case:
        ctx.team = settings.team(ctx.case.team) or settings.default_team
        ctx.routed_by = "existing case"
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


def _own_addresses(ctx: Context) -> set[str]:
    settings = ctx.settings
    return {settings.surgery_address} | {t.address for t in settings.teams}


STAGES = (parse, screen, reports.reports, alerts.alerts, thread, route, notify)
PURE = 1   # the first stages read nothing from the database: pipeline.prepare runs them early
