"""A resident who writes in Welsh, or asks for Welsh, is answered in Welsh."""

from __future__ import annotations

import pytest

from gateway.mail.language import detect
from gateway.db.models import Case
from gateway.promise.dates import in_words
from tests.helpers import resident_mail
from tests.unit.pipeline.test_officer import officer_reply

pytestmark = pytest.mark.database

WELSH = ("Helo, mae pobl ifanc yn reidio beiciau ar y palmant ger yr ysgol bob nos. "
         "Mae hyn yn beryglus i'r plant. Diolch yn fawr.")


def test_the_language_of_a_message():
    assert detect(WELSH) == "cy"
    assert detect("Young people ride bikes on the pavement by the school every night.") == "en"
    assert detect("Bikes on the pavement. Please reply in Welsh.") == "cy"
    assert detect("Mae'n ddrwg gen i, ond atebwch in English os gwelwch yn dda.") == "en"
    assert detect("Helo") == "en"   # too little to tell: English, the default


def test_welsh_dates_need_no_locale():
    import datetime as dt
    assert in_words(dt.date(2026, 12, 4), "cy") == "dydd Gwener 4 Rhagfyr 2026"


def test_a_welsh_message_is_acknowledged_and_answered_in_welsh(harness):
    harness.submit(resident_mail(subject="Beiciau ar y palmant", body=WELSH, sender="Siân <sian@example.net>"))
    assert Case.get().language == "cy"
    ack = harness.outbox("resident_ack")[0].get_content()
    assert ack.startswith("Annwyl Siân,") and "erbyn dydd Gwener 4 Rhagfyr 2026" in ack and "ffoniwch 999 nawr" in ack
    officer_reply(harness, "Byddwn yn patrolio nos Wener.")
    answer = harness.outbox("resident_answer")[0].get_content()
    assert answer.startswith("Byddwn yn patrolio nos Wener.") and "Cyfeirnod yr achos: SRG-2026-0001" in answer


def test_asking_for_welsh_later_switches_the_case(harness):
    harness.submit(resident_mail())
    ack = harness.outbox("resident_ack")[0]
    assert Case.get().language == "en"
    harness.submit(resident_mail(body="Could you answer in Welsh please?", message_id="<w2@x>",
                                 to=ack["Reply-To"]), rcpt_tos=[ack["Reply-To"]])
    assert Case.get().language == "cy"
    officer_reply(harness, "Diolch.")
    assert "Cyfeirnod yr achos" in harness.outbox("resident_answer")[0].get_content()


def test_traps_english_naming_welsh_places_or_greeting_in_welsh_and_welsh_as_texted():
    assert detect("Bore da, there is a car parked on Maes y Dref every night.") == "en"
    assert detect("Hi, Cyngor Bwrdeistref Sirol Wrecsam never came to collect the bins.") == "en"
    assert detect("Diolch for your help with the parking on Ffordd Llan.") == "en"
    assert detect("ma car di parcio tu allan i ty ni bob nos, angan help") == "cy"
    assert detect("Ffordd Llan yn llawn ceir eto") == "cy"


def test_a_welsh_subscriber_hears_in_welsh_and_bulletins_follow_their_language(make_harness):
    from gateway.alerts import bulletins
    from gateway.alerts import subscribers
    from gateway.db.models import Subscriber
    from gateway.runtime.outbound import Deliverer
    from gateway.render import Renderer
    from tests.unit.alerts.test_alerts import AREAS

    harness = make_harness(**AREAS)
    harness.submit(resident_mail(to="alerts@surgery.example.org", sender="Siân <sian@example.net>",
                                 subject="Rhybuddion", body="Hoffwn gael rhybuddion ar gyfer Hightown os gwelwch yn dda",
                                 message_id="<cy-sub@example.net>"), rcpt_tos=["alerts@surgery.example.org"])
    request, = harness.outbox("alerts_confirm_request")
    assert request["Subject"].startswith("Cadarnhewch: rhybuddion cymunedol ar gyfer Hightown")
    assert request.get_content().startswith("Annwyl Siân,")
    assert Subscriber.get(Subscriber.address == "sian@example.net").language == "cy"
    harness.submit(resident_mail(to=request["Reply-To"], sender="sian@example.net", subject="Re: " + request["Subject"],
                                 body="", message_id="<cy-conf@example.net>"), rcpt_tos=[request["Reply-To"]])
    assert harness.outbox("alerts_subscribed")[0]["Subject"].startswith("Byddwch nawr yn derbyn")

    now = harness.clock.now()
    subscribers.add("ann@example.net", ["hightown"], "", now)          # the administrator's: language unknown
    Subscriber.update(language="en").where(Subscriber.address == "ann@example.net").execute()
    subscribers.add("unknown@example.net", ["hightown"], "", now)
    body = "Lock your sheds tonight.\n---- Cymraeg ----\nCloiwch eich siediau heno."
    bulletin = bulletins.create(["hightown"], "Sheds / Siediau", body, "cli", now)
    bulletins.fan_out(bulletin.id, harness.clock, 24, harness.settings.surgery_address)
    Deliverer(harness.settings, harness.clock, "t", copies=bulletins.Copies(harness.settings, Renderer())).deliver_one()
    import email
    from email import policy

    copies = {m["To"]: m.get_content() for m in (email.message_from_bytes(f.read_bytes(), policy=policy.default)
                                                  for f in harness.settings.spool.glob("*bulletin.eml"))}
    assert "Cloiwch eich siediau heno." in copies["sian@example.net"] and "Lock your" not in copies["sian@example.net"]
    assert "Lock your sheds tonight." in copies["ann@example.net"] and "Cloiwch" not in copies["ann@example.net"]
    both = copies["unknown@example.net"]
    assert both.index("Cloiwch eich siediau heno.") < both.index("Lock your sheds tonight.")   # Welsh first
    assert both.startswith("Annwyl breswylydd,")
