"""Automatic mail as the big providers send it gets no answer; people who mention it do."""

from __future__ import annotations

import pytest

from gateway.mail.classify import auto_replies_unwanted, automatic
from gateway.mail.parse import parse
from tests.helpers import resident_mail

pytestmark = pytest.mark.database

ROBOTS = {
    "Exchange out-of-office": dict(subject="Automatic reply: Bikes on the pavement", Auto_Submitted="auto-generated",
                                   X_Auto_Response_Suppress="All"),
    "Outlook in Welsh": dict(subject="Ateb Awtomatig: Beiciau ar y palmant"),
    "Gmail vacation responder": dict(subject="Re: Bikes", Auto_Submitted="auto-replied"),
    "Yahoo and older systems": dict(subject="Re: Bikes", X_Autoreply="yes"),
    "vacation(1)": dict(subject="Re: Bikes", Precedence="junk"),
    "a mailing list": dict(subject="[residents] meeting", List_Id="<residents.lists.example.org>"),
    "a newsletter": dict(subject="Our offers", List_Unsubscribe="<mailto:leave@news.example.com>"),
    "a no-reply sender": dict(subject="Your parcel", sender="no-reply@shop.example.com"),
    "a plain out-of-office": dict(subject="Out of Office: Bikes on the pavement"),
    "an Exchange inbox rule's reply": dict(subject="RE: Bikes", X_MS_Exchange_Inbox_Rules_Loop="ann@example.net"),
    "an Exchange agent's message": dict(subject="Bikes", X_MS_Exchange_Generated_Message_Source="Mailbox Rules Agent"),
}

PEOPLE = {
    "mentions out of office": dict(subject="Out of office hours noise from the pub",
                                   body="The pub is noisy out of office hours, every night."),
    "an automatic reply in the text": dict(subject="Gate left open", body="I got an automatic reply: is anyone there?"),
    "auto-submitted no": dict(subject="Bikes", Auto_Submitted="no"),
    # Exchange's request not to be sent automatic mail says nothing about who wrote this one.
    "asks for no auto-replies": dict(subject="Bikes", X_Auto_Response_Suppress="All"),
    "asks for no delivery reports": dict(subject="Bikes", X_Auto_Response_Suppress="DR, RN, NRN"),
}


@pytest.mark.parametrize("name", ROBOTS)
def test_robots_are_recognised(name):
    msg = parse(resident_mail(**ROBOTS[name]).as_bytes())
    assert automatic(msg, msg.from_address), name


@pytest.mark.parametrize("name", PEOPLE)
def test_people_are_not_taken_for_robots(name):
    msg = parse(resident_mail(**PEOPLE[name]).as_bytes())
    assert automatic(msg, msg.from_address) is None, name


def test_an_out_of_office_gets_no_acknowledgement_but_a_mention_does(harness):
    harness.submit(resident_mail(message_id="<ooo@x>", **ROBOTS["Exchange out-of-office"]))
    assert harness.outbox("resident_ack") == [] and harness.outbox("team_new_case") == []
    harness.submit(resident_mail(message_id="<person@x>", **PEOPLE["mentions out of office"]))
    assert len(harness.outbox("resident_ack")) == 1


@pytest.mark.parametrize("value,unwanted", [("All", True), ("OOF, AutoReply", True), ("autoreply", True),
                                            ("DR, NDR, RN, NRN", False), ("", False)])
def test_x_auto_response_suppress_is_read_as_exchange_means_it(value, unwanted):
    """A request about which automatic mail the sender will take: our acknowledgement is an
    automatic reply, so All, AutoReply or OOF stop it; receipts and reports do not."""
    headers = {"X_Auto_Response_Suppress": value} if value else {}
    msg = parse(resident_mail(**headers).as_bytes())
    assert automatic(msg, msg.from_address) is None
    assert bool(auto_replies_unwanted(msg)) is unwanted


def test_a_person_who_asks_for_no_auto_replies_gets_a_case_and_no_acknowledgement(harness):
    harness.submit(resident_mail(X_Auto_Response_Suppress="All"))
    assert len(harness.outbox("team_new_case")) == 1 and harness.outbox("resident_ack") == []
    from gateway.db.models import CaseEvent
    event = CaseEvent.get(CaseEvent.kind == "not_acknowledged")
    assert event.detail == "the sender asked for no automatic replies (X-Auto-Response-Suppress: All)"
