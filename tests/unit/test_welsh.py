"""A resident who writes in Welsh, or asks for Welsh, is answered in Welsh."""

from __future__ import annotations

from gateway.mail.language import detect
from gateway.models import Case
from gateway.workdays import in_words
from tests.helpers import resident_mail
from tests.unit.test_officer import officer_reply

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
    assert in_words(dt.date(2026, 12, 4), "cy") == "Dydd Gwener 4 Rhagfyr 2026"


def test_a_welsh_message_is_acknowledged_and_answered_in_welsh(harness):
    harness.submit(resident_mail(subject="Beiciau ar y palmant", body=WELSH, sender="Siân <sian@example.net>"))
    assert Case.get().language == "cy"
    ack = harness.outbox("resident_ack")[0].get_content()
    assert ack.startswith("Annwyl Siân,") and "Dydd Gwener 4 Rhagfyr 2026" in ack and "ffoniwch 999 nawr" in ack
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
