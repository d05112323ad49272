"""Issue 25, item 5: Welsh where residents see names. [team:KEY] and [area:KEY] name_cy reach
Welsh-language residents in acknowledgements, answers and bulletins; `bulletin send
--subject-cy` gives a bulletin a Welsh subject (both, Welsh first, where the reader's language
is unknown); "erbyn dydd Iau"; "A, B ac C" before a vowel; check-config warns of a team or
area without a Welsh name. Asserted on the mail as it leaves and on the command's output."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest

from gateway.alerts import bulletins, subscribers
from gateway.db.models import Outbound, Subscriber
from gateway.render import Renderer
from tests.helpers import resident_mail, write_config
from tests.integration.test_cli import gateway
from tests.unit.pipeline.test_officer import officer_reply
from tests.unit.test_welsh import WELSH

pytestmark = pytest.mark.database

HIGHTOWN_CY = "Tîm Plismona Cymdogaeth Hightown"
WELSH_NAMES = {
    "team__hightown": {"name_cy": HIGHTOWN_CY},
    "area__hightown": {"name": "Hightown", "name_cy": "Hightown", "team": "hightown", "postcodes": "LL13 7"},
    "area__rhosddu": {"name": "Rhosddu", "name_cy": "Rhosddu", "team": "rhosddu", "postcodes": "LL11 2"},
    "area__acton": {"name": "Acton", "name_cy": "Acton", "team": "hightown", "postcodes": "LL12 7"},
    "area__gwersyllt": {"name": "Gresford", "name_cy": "Gresffordd", "team": "rhosddu", "postcodes": "LL12 8"},
}


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")


def test_a_welsh_resident_reads_the_teams_welsh_name_and_erbyn_dydd_iau(make_harness):
    harness = make_harness(**WELSH_NAMES)
    harness.clock._now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)   # a Thursday: due Thursday
    harness.submit(resident_mail(subject="Beiciau ar y palmant", body=WELSH, sender="Siân <sian@example.net>"))
    ack, = harness.outbox("resident_ack")
    assert ack["From"] == f"{HIGHTOWN_CY} <surgery@surgery.example.org>"
    text = text_of(ack)
    assert f"Diolch am ysgrifennu at {HIGHTOWN_CY}." in text and "Neighbourhood Policing Team" not in text
    assert "Gallwch ddisgwyl ymateb erbyn dydd Iau 3 Rhagfyr 2026." in text
    officer_reply(harness, "Byddwn yn patrolio nos Wener.")
    answer, = harness.outbox("resident_answer")
    assert answer["From"] == f"{HIGHTOWN_CY} <surgery@surgery.example.org>"
    assert f"\n{HIGHTOWN_CY}\nCyfeirnod yr achos: SRG-2026-0001" in text_of(answer)


def test_an_english_resident_still_reads_the_english_name(make_harness):
    harness = make_harness(**WELSH_NAMES)
    harness.submit(resident_mail())
    ack, = harness.outbox("resident_ack")
    assert ack["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert "Hightown Neighbourhood Policing Team" in text_of(ack)
    assert "Tîm" not in text_of(ack)


def test_welsh_lists_of_areas_take_ac_before_a_vowel(make_harness):
    # Without name_cy (the Welsh reads the names as they are): the grammar alone.
    harness = make_harness(**{key: {k: v for k, v in keys.items() if k != "name_cy"}
                              for key, keys in WELSH_NAMES.items() if key.startswith("area__")})
    harness.submit(resident_mail(to="alerts@surgery.example.org", sender="Siân <sian@example.net>",
                                 subject="Rhybuddion", message_id="<cy1@example.net>",
                                 body="Hoffwn gael rhybuddion ar gyfer Hightown, Rhosddu ac Acton os gwelwch yn dda"),
                   rcpt_tos=["alerts@surgery.example.org"])
    request, = harness.outbox("alerts_confirm_request")
    assert request["Subject"] == "Cadarnhewch: rhybuddion cymunedol ar gyfer Hightown, Rhosddu ac Acton"
    assert "ar gyfer Hightown, Rhosddu ac Acton\n" in text_of(request)
    harness.submit(resident_mail(to="alerts@surgery.example.org", sender="Gwen <gwen@example.net>",
                                 subject="Rhybuddion", message_id="<cy2@example.net>",
                                 body="Hoffwn gael rhybuddion ar gyfer Acton a Gresford os gwelwch yn dda"),
                   rcpt_tos=["alerts@surgery.example.org"])
    second = harness.outbox("alerts_confirm_request")[1]
    assert second["Subject"] == "Cadarnhewch: rhybuddion cymunedol ar gyfer Acton a Gresford"


def _copies(harness, bulletin_id: int) -> dict[str, email.message.EmailMessage]:
    copies = bulletins.Copies(harness.settings, Renderer())
    rows = Outbound.select().where(Outbound.bulletin == bulletin_id)
    return {m["To"]: m for m in (email.message_from_bytes(copies(r), policy=policy.default) for r in rows)}


def test_a_bulletin_sent_with_subject_cy_reaches_each_reader_in_their_language(make_harness, tmp_path):
    harness = make_harness(**WELSH_NAMES)
    now = harness.clock.now()
    for address, language in (("sian@example.net", "cy"), ("ann@example.net", "en"), ("new@example.net", None)):
        subscribers.add(address, ["hightown"], "", now)
        if language:
            Subscriber.update(language=language).where(Subscriber.address == address).execute()
    body = tmp_path / "body.txt"
    body.write_text("Lock your sheds tonight.\n---- Cymraeg ----\nCloiwch eich siediau heno.\n")
    sent = gateway("--config", str(tmp_path / "gateway.ini"), "bulletin", "send", "--area", "hightown",
                   "--subject", "Shed thefts", "--subject-cy", "Dwyn o siediau", "--body", str(body), "--yes")
    assert sent.returncode == 0, sent.stderr
    copies = _copies(harness, 1)
    welsh, english, unknown = copies["sian@example.net"], copies["ann@example.net"], copies["new@example.net"]
    assert welsh["Subject"] == "Dwyn o siediau"
    assert welsh["From"] == f"{HIGHTOWN_CY} <surgery@surgery.example.org>"
    assert f"\n{HIGHTOWN_CY}\n" in text_of(welsh) and "Neighbourhood" not in text_of(welsh)
    assert english["Subject"] == "Shed thefts"
    assert english["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert unknown["Subject"] == "Dwyn o siediau / Shed thefts"   # Welsh first
    text = text_of(unknown)
    assert text.index(f"\n{HIGHTOWN_CY}\n") < text.index("\nHightown Neighbourhood Policing Team\n")


def test_a_welsh_bulletin_names_its_areas_in_welsh_with_ac(make_harness):
    harness = make_harness(**WELSH_NAMES)
    now = harness.clock.now()
    subscribers.add("sian@example.net", ["gwersyllt", "acton"], "", now)
    Subscriber.update(language="cy").where(Subscriber.address == "sian@example.net").execute()
    bulletin = bulletins.create(["gwersyllt", "acton"], "Road closed", "Mae'r ffordd ar gau.", "cli", now)
    bulletins.fan_out(bulletin.id, harness.clock, 1, "surgery@surgery.example.org")
    copy = _copies(harness, bulletin.id)["sian@example.net"]
    assert "rhybuddion cymunedol ar gyfer Gresffordd ac Acton." in text_of(copy).replace("\n", " ")


def test_check_config_warns_of_each_team_and_area_without_a_welsh_name(tmp_path):
    path = write_config(tmp_path, **WELSH_NAMES)
    result = gateway("--config", str(path), "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("warning: [team:rhosddu] name_cy: no Welsh name: Welsh-language residents read "
            "'Rhosddu Neighbourhood Policing Team' in Welsh mail") in result.stdout
    assert "[team:hightown] name_cy" not in result.stdout and "[area:" not in result.stdout
