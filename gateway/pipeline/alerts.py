"""Mail to the alert service's addresses: subscribe, confirm, unsubscribe, and bulletins sent
by officers. Runs inside the message's transaction; it only writes rows and enqueues.

  alerts@ / subscribe+<area>@   ask to subscribe: a confirmation request goes back
  confirm+<token>@              the resident's reply to that request: the subscription starts
  unsubscribe+<token>@          ends every subscription of that resident at once
  bulletin+<area>@              an officer of the area's team drafts a bulletin: a preview goes back
  publish+<token>@              the officer's reply to the preview: the bulletin goes out
"""

from __future__ import annotations

import re

from gateway import db
from gateway.alerts import bulletins
from gateway.errors import Discard, Hold
from gateway.mail import classify, compose, language
from gateway.mail.addresses import split, token_address, verify_token_address
from gateway.mail.trim import reply_text
from gateway.pipeline import Context, limits
from gateway.pipeline.notify import enqueue_without_case

ALERT_PRIORITY = 4


def alerts(ctx: Context) -> None:
    """The pipeline stage: handle alert-service mail and stop, or let anything else through."""
    target = _alert_address(ctx)
    if target is None:
        return
    purpose, detail = target
    if ctx.automatic:
        raise Discard("auto_reply", f"automatic mail to the alert service: {ctx.automatic}")
    handlers = {"alerts": _subscribe, "subscribe": _subscribe, "confirm": _confirm,
                "unsubscribe": _unsubscribe, "bulletin": _draft, "publish": _publish}
    kind, reason = handlers[purpose](ctx, detail)
    raise Discard(kind, reason)  # handled: nothing more for the case stages to do


def _alert_address(ctx: Context) -> tuple[str, str] | None:
    settings = ctx.settings
    if not settings.areas:
        return None
    for address in ctx.rcpt_tos + ctx.msg.to + ctx.msg.cc:
        local, domain = split(address)
        if domain != settings.domain:
            continue
        purpose, _, detail = local.partition("+")
        if purpose in ("alerts", "subscribe", "bulletin", "confirm", "unsubscribe", "publish"):
            return purpose, detail if purpose in ("subscribe", "bulletin") else address
    return None


def _subscribe(ctx: Context, area_key: str) -> tuple[str, str]:
    settings, msg, now = ctx.settings, ctx.msg, ctx.clock.now()
    areas = [settings.area(area_key)] if settings.area(area_key) else _areas_named(ctx)
    if ctx.verdict is not None and ctx.verdict.forged:   # no confirmation requests to a forged sender
        raise Hold("held", f"subscription request from {msg.from_address}, not verified: {ctx.verdict.why()}")
    lang = language.detect(f"{msg.subject}\n{reply_text(msg)}")
    if not areas:
        _send(ctx, "alerts/no_area", SUBJECTS["no_area"][lang], msg.from_address, lang=lang, areas=settings.areas)
        return "subscribe_unknown_area", "named no known area"
    subscriber, keys = db.people.sign_up(msg.from_address, _echoable_name(ctx), lang, [a.key for a in areas], now)
    pending = [a for a in areas if a.key in keys]
    if not pending:
        _send(ctx, "alerts/already", SUBJECTS["already"][lang], msg.from_address, lang=lang,
              areas=areas, area_names=bulletins.area_names(areas, lang), resident_name=subscriber.name)
        return "subscribe_already", f"{msg.from_address} already subscribed"
    return _ask(ctx, subscriber, pending, lang)


def _ask(ctx: Context, subscriber, pending: list, lang: str) -> tuple[str, str]:
    """Send the confirmation request for these pending areas: at most one per address and
    area a day, within the day's automatic replies (asking thirty times brings one mail)."""
    settings, address, now = ctx.settings, ctx.msg.from_address, ctx.clock.now()
    if not limits.may_reply(ctx, address, "confirmation request"):
        return "subscribe_limited", "over the day's automatic replies to this address"
    asked = db.people.ask_confirmation(subscriber.id, [a.key for a in pending], now, now - limits.DAY)
    if not asked:   # the runner logs this reason, with the message's id
        return "subscribe_asked_already", (f"confirmation for {', '.join(a.key for a in pending)} asked within "
                                           "the last 24 hours: not asked again")
    pending = [a for a in pending if a.key in asked]
    db.audit.append("subscription_asked", "resident (by mail)", now, resident=subscriber.address,
                    summary=f"asked for {', '.join(a.key for a in pending)}; a confirmation was sent")
    confirm = token_address("confirm", subscriber.id, settings.secret, settings.domain)
    _send(ctx, "alerts/confirm_request", SUBJECTS["confirm_request"][lang] + bulletins.area_names(pending, lang),
          address, reply_to=confirm, lang=lang, areas=pending, area_names=bulletins.area_names(pending, lang),
          resident_name=subscriber.name)
    return "subscribe_requested", f"{address} asked for {', '.join(a.key for a in pending)}"


def _echoable_name(ctx: Context) -> str:
    """The sender's name, kept (and so repeated in mail to them) only when the mail is shown
    to be theirs: a forger must not choose the greeting we send to someone else."""
    return ctx.msg.from_name[:200] if ctx.verdict is not None and ctx.verdict.verified else ""


def _areas_named(ctx: Context) -> list:
    """Areas named in the subject or text, by key, name or a postcode they cover."""
    text = f"{ctx.msg.subject}\n{reply_text(ctx.msg)}"
    found = []
    for area in ctx.settings.areas:
        words = {area.key, area.name.lower(), area.name.lower().removesuffix(" area"), area.name_cy.lower()}
        if any(re.search(rf"\b{re.escape(w)}\b", text.lower()) for w in words if w):
            found.append(area)
    for postcode in classify.postcodes(text):
        for area in ctx.settings.areas:
            if area not in found and any(classify.postcode_matches(postcode, p) for p in area.postcodes):
                found.append(area)
    return found


def _confirm(ctx: Context, address: str) -> tuple[str, str]:
    settings, msg, now = ctx.settings, ctx.msg, ctx.clock.now()
    value = verify_token_address(address, "confirm", settings.secrets, settings.domain)
    subscriber = value and db.people.subscriber(int(value))
    if not subscriber:
        raise Hold("invalid", "a confirmation address that is not one of ours")
    if msg.from_address != subscriber.address:
        raise Hold("held", f"confirmation for {subscriber.address} sent from {msg.from_address}")
    areas = [a for a in (settings.area(key) for key in db.people.confirm(subscriber.id, now)) if a]
    if areas:
        db.audit.append("consented", "resident (by mail)", now, resident=subscriber.address,
                        summary=f"confirmed their subscription to {', '.join(a.key for a in areas)}")
        lang = subscriber.language or "en"
        _send(ctx, "alerts/subscribed", SUBJECTS["subscribed"][lang] + bulletins.area_names(areas, lang),
              subscriber.address, lang=lang, areas=areas, area_names=bulletins.area_names(areas, lang),
              resident_name=subscriber.name,
              unsubscribe=token_address("unsubscribe", subscriber.id, settings.secret, settings.domain))
    return "subscribe_confirmed", f"{subscriber.address}: {', '.join(a.key for a in areas) or 'nothing pending'}"


def _unsubscribe(ctx: Context, address: str) -> tuple[str, str]:
    settings, now = ctx.settings, ctx.clock.now()
    value = verify_token_address(address, "unsubscribe", settings.secrets, settings.domain)
    subscriber = value and db.people.subscriber(int(value))
    if not subscriber:
        raise Hold("invalid", "an unsubscribe address that is not one of ours")
    limits.lock_address(ctx, subscriber.address)   # before any write: its reply is counted
    ended = db.people.unsubscribe(subscriber.id, now)
    if ended:
        db.audit.append("unsubscribed", "resident (by mail)", now, resident=subscriber.address,
                        summary=f"{ended} subscription(s) ended")
    lang = subscriber.language or "en"
    _send(ctx, "alerts/unsubscribed", SUBJECTS["unsubscribed"][lang], subscriber.address, lang=lang,
          resident_name=subscriber.name)
    return "unsubscribed", f"{subscriber.address}: {ended} subscription(s) ended"


def unsubscribed_elsewhere(ctx: Context, subscriber, lang: str) -> bool:
    """The goodbye mail after the web page or a one-click POST ended a resident's
    subscriptions (`ctx` from pipeline.without_message; no message to answer), as the mail
    route sends it, and limited as every automatic reply is. Call inside the transaction
    that ended them. False when the day's automatic replies to that address are used up."""
    limit, now = ctx.settings.auto_replies_per_address_per_day, ctx.clock.now()
    mailbox = limits.mailbox_of(subscriber.address)
    db.cases.lock_for_this_transaction(None, mailbox)   # counted right beside the mail route's replies
    if limit and db.outbox.queued_to_mailbox_since(mailbox, limits.AUTO_REPLIES, now - limits.DAY, limit) >= limit:
        return False
    envelope = compose.Envelope(from_name=SENDER_NAME.get(lang, SENDER_NAME["en"]),
                                from_address=ctx.settings.surgery_address, to_address=subscriber.address,
                                reply_to=ctx.settings.alerts_address, auto_submitted="auto-replied")
    text = ctx.renderer.render("alerts/unsubscribed", lang, resident_name=subscriber.name)
    enqueue_without_case(ctx, "alerts_unsubscribed", envelope, SUBJECTS["unsubscribed"].get(lang, SUBJECTS["unsubscribed"]["en"]),
                         text, ALERT_PRIORITY)
    return True


def _officer_of(ctx: Context, area_key: str):
    """(area, team, []) when an authenticated officer of the area's team wrote; else (area,
    None, the reasons not), the sender check first: unauthenticated mail is held for that,
    whatever address it claims."""
    area = ctx.settings.area(area_key)
    team = area and ctx.settings.team(area.team)
    problems = []
    if not _authenticated(ctx):
        problems.append(f"not authenticated: {ctx.verdict.why() if ctx.verdict is not None else 'sender not checked'}")
    if area is None:
        problems.append(f"there is no area {area_key!r}")
    elif not team or ctx.msg.from_address not in team.speakers:
        problems.append(f"{ctx.msg.from_address} is not an officer of {team.name if team else area.team}, "
                        f"the team for area {area.key}")
    return area, (None if problems else team), problems


def _authenticated(ctx: Context) -> bool:
    return ctx.verdict is not None and ctx.verdict.authenticated


def _draft(ctx: Context, area_key: str) -> tuple[str, str]:
    settings, msg, now = ctx.settings, ctx.msg, ctx.clock.now()
    area, team, problems = _officer_of(ctx, area_key)
    if team is None:
        return _refuse(ctx, area_key, problems)
    text = reply_text(msg, sender=msg.from_name)
    bulletin = bulletins.create([area.key], msg.subject or f"Community alert: {area.name}", text,
                                msg.from_address, now, state="draft")
    recipients, suppressed = bulletins.audience([area.key])
    publish = token_address("publish", bulletin.id, settings.secret, settings.domain)
    _send(ctx, "alerts/preview", f"Preview of bulletin {bulletin.id}: {bulletin.subject}", msg.from_address,
          reply_to=publish, bulletin=bulletin, area=area, recipients=recipients, suppressed=suppressed)
    return "bulletin_draft", f"bulletin {bulletin.id} drafted by {msg.from_address} for {area.key}"


def _refuse(ctx: Context, area_key: str, problems: list[str]) -> tuple[str, str]:
    """Only an authenticated police address is told why (a forged sender gets no backscatter)."""
    msg = ctx.msg
    if msg.from_address in ctx.settings.police_addresses and _authenticated(ctx):
        _send(ctx, "alerts/refused", "Bulletin not sent", msg.from_address, area_key=area_key,
              areas=ctx.settings.areas)
    raise Hold("held", f"bulletin for {area_key!r} from {msg.from_address}: {'; '.join(problems)}")


def _publish(ctx: Context, address: str) -> tuple[str, str]:
    settings, msg = ctx.settings, ctx.msg
    value = verify_token_address(address, "publish", settings.secrets, settings.domain)
    bulletin = value and db.bulletins.get(int(value))
    if not bulletin:
        raise Hold("invalid", "a publish address that is not one of ours")
    area, team, problems = _officer_of(ctx, bulletin.areas.split(",")[0])
    if team is None:
        return _refuse(ctx, bulletin.areas, problems)
    if not db.bulletins.publish(bulletin.id):
        return "bulletin_publish_again", f"bulletin {bulletin.id} is already {bulletin.state}"
    recipients, _ = bulletins.audience(bulletin.areas.split(","))
    _send(ctx, "alerts/published", f"Bulletin {bulletin.id} is going out: {bulletin.subject}",
          msg.from_address, bulletin=bulletin, recipients=recipients)
    return "bulletin_published", f"bulletin {bulletin.id} published by {msg.from_address}"


SUBJECTS = {   # what residents see, in both languages (officers' notices are in English)
    "no_area": {"en": "Which area would you like alerts for?", "cy": "Ar gyfer pa ardal hoffech chi rybuddion?"},
    "already": {"en": "You already receive these alerts", "cy": "Rydych eisoes yn derbyn y rhybuddion hyn"},
    "confirm_request": {"en": "Please confirm: community alerts for ", "cy": "Cadarnhewch: rhybuddion cymunedol ar gyfer "},
    "subscribed": {"en": "You will now receive community alerts for ",
                   "cy": "Byddwch nawr yn derbyn rhybuddion cymunedol ar gyfer "},
    "unsubscribed": {"en": "You will receive no more community alerts",
                     "cy": "Ni fyddwch yn derbyn rhagor o rybuddion cymunedol"},
}
SENDER_NAME = {"en": "Community alerts", "cy": "Rhybuddion cymunedol"}


def _send(ctx: Context, template: str, subject: str, to_address: str, reply_to: str | None = None,
          lang: str = "en", **values) -> None:
    """A service message to one person (not part of a case), in their language; an automatic
    reply to a resident only while [limits] auto_replies_per_address_per_day allows."""
    settings, purpose = ctx.settings, template.replace("/", "_")
    if purpose in limits.AUTO_REPLIES and not limits.may_reply(ctx, to_address, template.split("/")[1].replace("_", " ") + " reply"):
        return
    text = ctx.renderer.render(template, lang, **values)
    envelope = compose.Envelope(from_name=SENDER_NAME.get(lang, SENDER_NAME["en"]), from_address=settings.surgery_address,
                                to_address=to_address, reply_to=reply_to or settings.alerts_address,
                                in_reply_to=ctx.msg.message_id, auto_submitted="auto-replied")
    enqueue_without_case(ctx, purpose, envelope, subject, text, ALERT_PRIORITY)
