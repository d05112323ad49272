"""The alert service's mail, through the pipeline on a real database (no sockets)."""

from __future__ import annotations

import email
from email import policy

import pytest

from gateway import db
from gateway.alerts import bulletins
from gateway.alerts.bulletins import Copies
from gateway.db.models import Bulletin, Outbound, Subscription
from gateway.render import Renderer
from tests.helpers import resident_mail, signed

pytestmark = pytest.mark.database

AREAS = {"area__hightown": {"name": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
         "area__rhosddu": {"name": "Rhosddu", "team": "rhosddu", "postcodes": "LL11 2"}}


def make(make_harness, **extra):
    return make_harness(**AREAS, **extra)


def subscribe(harness, sender="Ann Resident <ann@example.net>", n=1, **kwargs):
    harness.submit(resident_mail(to="alerts@surgery.example.org", sender=sender, message_id=f"<sub{n}@x>", **kwargs),
                   rcpt_tos=["alerts@surgery.example.org"])


def confirm(harness, sender="Ann Resident <ann@example.net>", n=1):
    request = harness.outbox("alerts_confirm_request")[-1]
    harness.submit(resident_mail(to=request["Reply-To"], sender=sender, subject="Re: " + request["Subject"],
                                 message_id=f"<conf{n}@x>", body="yes"), rcpt_tos=[request["Reply-To"]])


def test_subscribing_needs_a_confirming_reply(make_harness):
    harness = make(make_harness)
    subscribe(harness, subject="Alerts please", body="For Hightown, thanks.")
    request, = harness.outbox("alerts_confirm_request")
    assert request["To"] == "ann@example.net" and request["Reply-To"].startswith("confirm+")
    assert "Hightown" in request.get_content() and "simply reply" in request.get_content()
    assert Subscription.get().state == "pending"
    confirm(harness)
    assert Subscription.get().state == "active"
    done, = harness.outbox("alerts_subscribed")
    assert "unsubscribe+" in done.get_content()


def test_a_postcode_names_the_area_and_no_area_gets_the_list(make_harness):
    harness = make(make_harness)
    subscribe(harness, subject="Sign me up", body="I live at LL11 2AB.")
    assert [s.area for s in Subscription.select()] == ["rhosddu"]
    subscribe(harness, sender="bob@example.net", n=2, subject="Alerts", body="Please send me alerts.")
    answer, = harness.outbox("alerts_no_area")
    assert answer["To"] == "bob@example.net"
    assert "Hightown (postcodes LL13 7)" in answer.get_content() and "Rhosddu" in answer.get_content()


def test_a_confirmation_from_someone_else_or_a_forged_token_starts_nothing(make_harness):
    harness = make(make_harness)
    subscribe(harness, body="Hightown")
    confirm(harness, sender="mallory@example.com", n=2)
    forged = "confirm+1-aaaaaaaaaaaaaaaa@surgery.example.org"
    harness.submit(resident_mail(to=forged, message_id="<f@x>"), rcpt_tos=[forged])
    assert Subscription.get().state == "pending"


def test_a_bulletin_copy_is_personal_and_unsubscribing_by_mail_stops_the_next(make_harness):
    harness = make(make_harness, http={"listen": "127.0.0.1:8099", "base_url": "https://alerts.example.org"})
    subscribe(harness, body="Hightown")
    confirm(harness)
    bulletin = bulletins.create(["hightown"], "Car crime on Hill Street", "Lock your cars tonight.", "cli",
                                harness.clock.now())
    bulletins.fan_out(bulletin.id, harness.clock, 1, "surgery@surgery.example.org")
    row, = Outbound.select().where(Outbound.bulletin == bulletin.id)
    copies = Copies(harness.settings, Renderer())
    copy = email.message_from_bytes(copies(row), policy=policy.default)
    assert copy["To"] == "ann@example.net" and copy["Precedence"] == "bulk"
    assert copy["Auto-Submitted"] == "auto-generated" and copy["List-Id"] == "Hightown alerts <hightown.alerts.surgery.example.org>"
    unsubscribe_url, mailto = [part.strip(" <>") for part in copy["List-Unsubscribe"].split(",")]
    assert unsubscribe_url.startswith("https://alerts.example.org/unsubscribe/1-")
    assert mailto.startswith("mailto:unsubscribe+1-")
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert copy["Reply-To"] == "area+hightown@surgery.example.org"
    text = copy.get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Ann Resident,\n\nLock your cars tonight.") and "dial 999" in text
    assert text.rstrip().endswith(f"or open {unsubscribe_url}")

    address = mailto.removeprefix("mailto:").split("?")[0]
    harness.submit(resident_mail(to=address, message_id="<u@x>", subject="unsubscribe"), rcpt_tos=[address])
    assert Subscription.get().state == "ended"
    assert len(harness.outbox("alerts_unsubscribed")) == 1
    assert copies(row) is None  # queued before, not sent after
    # The resident's own consent, and its withdrawal, are in the audit trail (for their export).
    trail = [(r.action, r.actor, r.summary) for r in db.audit.records(resident="ann@example.net")]
    assert trail == [("subscription_asked", "resident (by mail)", "asked for hightown; a confirmation was sent"),
                     ("consented", "resident (by mail)", "confirmed their subscription to hightown"),
                     ("unsubscribed", "resident (by mail)", "1 subscription(s) ended")]


def test_an_officer_bulletin_waits_for_the_preview_reply_and_a_stranger_is_refused(make_harness):
    harness = make(make_harness)
    subscribe(harness, body="Hightown")
    confirm(harness)
    stranger = resident_mail(to="bulletin+hightown@surgery.example.org", sender="mallory@example.com",
                             subject="Free money", message_id="<s@x>")
    harness.submit(stranger, rcpt_tos=["bulletin+hightown@surgery.example.org"])
    assert Bulletin.select().count() == 0 and harness.outbox("alerts_refused") == []

    draft = resident_mail(to="bulletin+hightown@surgery.example.org", sender="PC Jones <pc.jones@police.example>",
                          subject="Burglaries in Hightown", body="Please lock your sheds.\n\nPC Jones",
                          message_id="<b1@police.example>")
    harness.submit(signed(draft), rcpt_tos=["bulletin+hightown@surgery.example.org"])
    preview, = harness.outbox("alerts_preview")
    assert preview["To"] == "pc.jones@police.example" and "1 resident(s)" in preview.get_content()
    assert Bulletin.get().state == "draft"
    harness.submit(signed(resident_mail(to=preview["Reply-To"], sender="PC Jones <pc.jones@police.example>",
                                        subject="Re: " + preview["Subject"], message_id="<b2@police.example>")),
                   rcpt_tos=[preview["Reply-To"]])
    assert Bulletin.get().state == "enqueuing" and len(harness.outbox("alerts_published")) == 1
    assert Bulletin.get().body == "Please lock your sheds."


def test_a_reply_to_a_bulletin_opens_a_case_for_the_areas_team(make_harness):
    harness = make(make_harness)
    harness.submit(resident_mail(to="area+rhosddu@surgery.example.org", message_id="<r@x>",
                                 subject="Re: Car crime"), rcpt_tos=["area+rhosddu@surgery.example.org"])
    forward, = harness.outbox("team_new_case")
    assert "rhosddu.npt@police.example" in forward["To"]
