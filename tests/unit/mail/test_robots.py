"""Automatic mail as the big providers send it gets no answer; people who mention it do."""

from __future__ import annotations

import pytest

from gateway.mail.classify import automatic
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
}

PEOPLE = {
    "mentions out of office": dict(subject="Out of office hours noise from the pub",
                                   body="The pub is noisy out of office hours, every night."),
    "an automatic reply in the text": dict(subject="Gate left open", body="I got an automatic reply: is anyone there?"),
    "auto-submitted no": dict(subject="Bikes", Auto_Submitted="no"),
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
