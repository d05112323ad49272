"""Who may speak for a team: every forgery in issue 12 is held, and the genuine replies of
each route (our own DKIM/SPF/DMARC check, a trusted server's Authentication-Results, a
trusted network) go through. DNS answers come from the test world's server on loopback
(tests/servers/dns.py); officers' mail is signed there with dkimpy."""

from __future__ import annotations


import pytest

from gateway.db.models import Case, CaseEvent, Inbound, Outbound
from tests.helpers import resident_mail, signed

pytestmark = pytest.mark.database

A_R = "mx.police.example"


def kinds() -> list[str]:
    return [row.kind for row in Inbound.select().order_by(Inbound.id)]


def start_case(harness):
    harness.submit(resident_mail())
    return harness.outbox("team_new_case")[0]


def officer(harness, forward, body="We will patrol on Friday.", sender="PC Jones <pc.jones@police.example>",
            n=1, to=None, sign="police.example", raw_headers=b"", subject=None, **headers):
    """An officer's reply to the case's forward (by its reply address unless `to`), signed as
    `sign` (None: unsigned); `raw_headers` are put on top as they are, unparsed."""
    to = to or forward["Reply-To"]
    msg = resident_mail(body=body, sender=sender, to=to, message_id=f"<o{n}@police.example>",
                        subject=subject or "RE: " + forward["Subject"], **headers)
    raw = msg.as_bytes()
    if raw_headers:
        raw = raw_headers + raw
    if sign:
        raw = signed(raw, sign)
    harness.submit(raw, mail_from="pc.jones@police.example", rcpt_tos=[to])
    return Inbound.select().order_by(Inbound.id.desc()).first()


def resident_texts(harness) -> str:
    return "\n".join(m.as_string() for m in harness.outbox() if m["To"] and "ann@example.net" in m["To"])


def held_why(harness) -> str:
    return harness.outbox("team_held")[-1].get_body(("plain",)).get_content()


# ---- the shipped configuration: the gateway checks for itself ----------------------------

def test_the_plain_forgery_of_the_issue_is_held_and_nothing_reaches_the_resident(harness):
    forward = start_case(harness)
    raw = (b"From: PC Jones <pc.jones@police.example>\r\nSubject: Re: [SRG-2026-0001]\r\n"
           b"Message-ID: <spoof1@x>\r\n\r\nSPOOFED\r\n")
    harness.submit(raw, mail_from="pc.jones@police.example")
    harness.submit(raw.replace(b"spoof1", b"spoof2").replace(b"SPOOFED", b"#close\r\nSPOOFED"),
                   mail_from="pc.jones@police.example")
    assert kinds() == ["resident_new", "held", "held"]
    assert Case.get().status == "open" and harness.outbox("resident_answer") == []
    why = held_why(harness)
    assert "reference in its subject" in why and "not authenticated" in why
    assert "no DKIM signature from police.example" in why and "SPF fail" in why
    assert harness.outbox("officer_held") == []   # a forged sender gets no backscatter
    assert "SPOOFED" not in resident_texts(harness)
    assert forward["Reply-To"]   # the case address exists; the forger simply did not have it


def test_the_case_address_alone_is_not_enough_either(harness):
    forward = start_case(harness)
    officer(harness, forward, body="SPOOFED with the right address", sign=None)
    assert kinds()[-1] == "held" and harness.outbox("resident_answer") == []
    assert "not authenticated" in held_why(harness)


def test_a_genuine_signed_reply_is_relayed(harness):
    forward = start_case(harness)
    row = officer(harness, forward)
    assert row.kind == "officer_reply"
    answer, = harness.outbox("resident_answer")
    assert answer.get_content().startswith("We will patrol on Friday.")
    assert Case.get().status == "answered"


@pytest.mark.parametrize("signer, why", [
    ("evil.example", "DKIM signature from evil.example, which is not police.example"),
    ("example", "DKIM signature from example, which is not police.example"),   # a public suffix aligns with nothing
])
def test_a_valid_signature_of_another_domain_is_not_the_police(harness, signer, why):
    forward = start_case(harness)
    officer(harness, forward, body="SPOOFED", sign=signer)
    assert kinds()[-1] == "held" and why in held_why(harness)


def test_a_signed_reply_changed_on_the_way_fails(harness):
    forward = start_case(harness)
    msg = resident_mail(body="We will patrol on Friday.", sender="PC Jones <pc.jones@police.example>",
                        to=forward["Reply-To"], message_id="<o1@police.example>", subject="RE: x")
    raw = signed(msg).replace(b"patrol on Friday", b"never patrol, give me your address")
    harness.submit(raw, rcpt_tos=[forward["Reply-To"]])
    assert kinds()[-1] == "held" and "did not verify" in held_why(harness)
    assert "give me your address" not in resident_texts(harness)


def test_two_from_headers_or_two_addresses_are_held(harness):
    forward = start_case(harness)
    officer(harness, forward, n=1, raw_headers=b"From: x@evil.example\r\n")   # a second From on top
    officer(harness, forward, n=2, sender="<pc.jones@police.example> <x@evil.example>")
    assert kinds()[1:] == ["held", "held"] and harness.outbox("resident_answer") == []


def test_a_police_address_as_display_name_is_only_a_name(harness):
    forward = start_case(harness)
    row = officer(harness, forward, sender="pc.jones@police.example <x@evil.example>", sign="evil.example")
    assert row.kind == "held"
    assert "not the case's resident" in held_why(harness)   # it is x@evil.example's mail, a stranger's


def test_an_unquoted_comma_in_the_name_still_yields_the_officer(harness):
    forward = start_case(harness)
    row = officer(harness, forward, sender="Jones, PC 1234 <pc.jones@police.example>")
    assert row.kind == "officer_reply"


def test_another_teams_officer_is_held_and_told_since_authenticated(harness):
    forward = start_case(harness)
    officer(harness, forward, sender="pc.hughes@police.example")
    assert kinds()[-1] == "held"
    told, = harness.outbox("officer_held")
    assert told["To"] == "pc.hughes@police.example" and "not an officer of the case's team" in told.get_content()


def test_a_reply_address_of_one_case_with_references_of_another_is_held(harness):
    first = start_case(harness)
    harness.submit(resident_mail(sender="bob@example.net", message_id="<b1@example.net>", subject="Noise"))
    second = harness.outbox("team_new_case")[1]
    officer(harness, first, References=second["Message-ID"])
    assert kinds()[-1] == "held" and "References are case SRG-2026-0002's" in held_why(harness)


def test_a_signed_reply_replayed_to_another_cases_address_is_held(harness):
    first = start_case(harness)
    harness.submit(resident_mail(sender="bob@example.net", message_id="<b1@example.net>", subject="Noise"))
    second = harness.outbox("team_new_case")[1]
    msg = resident_mail(body="Answer for the first case.", sender="PC Jones <pc.jones@police.example>",
                        to=first["Reply-To"], message_id="<o1@police.example>", subject="RE: x")
    harness.submit(signed(msg), rcpt_tos=[second["Reply-To"]])   # the envelope says the second case
    assert kinds()[-1] == "held" and "addressed to both case" in held_why(harness)
    assert harness.outbox("resident_answer") == []


def test_only_our_signed_message_ids_tie_police_mail_to_a_case(harness):
    start_case(harness)   # the resident's own Message-ID, <a1@example.net>, belongs to the case
    forward = harness.outbox("team_new_case")[0]
    # No case reference in the subject: a signed Subject naming the case would tie it (issue 23).
    officer(harness, forward, to="surgery@surgery.example.org", References="<a1@example.net>", subject="RE: bikes")
    assert kinds()[-1] == "held"
    officer(harness, forward, n=2, to="surgery@surgery.example.org", References=forward["Message-ID"],
            subject="RE: bikes")
    assert kinds()[-1] == "officer_reply"


def test_a_dns_outage_makes_police_mail_wait_and_then_hold_never_relay(make_harness):
    from gateway.pipeline.stages import MAX_DEFERRALS

    harness = make_harness(team__hightown={"officers": "pc.jones@police.example, pc.owen@servfail.example"})
    forward = start_case(harness)
    row = officer(harness, forward, sender="pc.owen@servfail.example", sign=None)
    row = Inbound.get_by_id(row.id)
    assert (row.state, row.deferrals) == ("queued", 1) and "could not be fetched" in row.error
    for _ in range(MAX_DEFERRALS + 2):
        harness.clock.advance(2 * 3600)
        while harness.worker.process_one():
            pass
    row = Inbound.get_by_id(row.id)
    assert (row.state, row.kind, row.deferrals) == ("done", "held", MAX_DEFERRALS)
    assert "even after waiting" in held_why(harness) and harness.outbox("resident_answer") == []


# ---- police addresses never reach a resident ----------------------------------------------

def test_police_addresses_are_scrubbed_however_written(harness):
    forward = start_case(harness)
    body = ("Please write to sgt.evans@mail.police.example or dc.smith@north-wales.police.uk,\n"
            "or pc.jones\uff20police.example, or hightown.npt%police.example@relay.example,\n"
            "or <mailto:pc.jones%40police.example>. Our public line is 101.")
    officer(harness, forward, body=body)
    answer, = harness.outbox("resident_answer")
    text = answer.get_content()
    assert "Our public line is 101." in text and text.count("[address removed]") == 5
    assert "police" not in text.lower().replace("[address removed]", "")


def test_an_html_only_reply_is_scrubbed_too(harness):
    from email.message import EmailMessage

    forward = start_case(harness)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "PC Jones <pc.jones@police.example>", forward["Reply-To"], "RE: x"
    msg["Message-ID"] = "<html1@police.example>"
    msg.set_content('<p>Write to <a href="mailto:sgt.evans@police.example">sgt.evans&#64;police.example</a>'
                    ' or <b>dc.smith@north-wales.police.uk</b>.</p>', subtype="html")
    harness.submit(signed(msg), rcpt_tos=[forward["Reply-To"]])
    answer, = harness.outbox("resident_answer")
    text = answer.get_content()
    assert text.count("[address removed]") == 2 and "police" not in text.lower().replace("[address removed]", "")


# ---- a trusted receiving server's Authentication-Results ----------------------------------

@pytest.fixture
def by_authserv(make_harness):
    return make_harness(trust={"authserv_id": A_R, "authserv_networks": "127.0.0.0/8"})   # the harness's peer


def vouch(results: str) -> dict:
    return {"Authentication_Results": f"{A_R}; {results}"}


def test_the_trusted_servers_pass_lets_an_unsigned_reply_through(by_authserv):
    forward = start_case(by_authserv)
    assert officer(by_authserv, forward, sign=None, **vouch("dmarc=pass header.from=police.example")).kind == \
        "officer_reply"


@pytest.mark.parametrize("results", [
    "dmarc=pass header.from=evil.example",          # header.from is another domain
    "dkim=pass header.d=example",                    # a public suffix, not aligned
    "dkim=pass header.d=evil-police.example",        # a look-alike
    "spf=pass smtp.mailfrom=pc.jones@police.example",   # SPF alone is not in the rule
])
def test_walking_round_the_trusted_server_is_held(by_authserv, results):
    forward = start_case(by_authserv)
    assert officer(by_authserv, forward, sign=None, **vouch(results)).kind == "held"
    assert by_authserv.outbox("resident_answer") == []


def test_a_forged_pass_below_the_servers_real_fail_is_not_read(by_authserv):
    forward = start_case(by_authserv)
    real = f"Authentication-Results: {A_R}; dmarc=fail (p=reject) header.from=police.example\r\n".encode()
    row = officer(by_authserv, forward, sign=None, raw_headers=real,
                  **vouch("dmarc=pass header.from=police.example"))   # the sender's own, below
    assert row.kind == "held" and "reports dmarc=fail" in held_why(by_authserv)


def test_another_servers_results_count_for_nothing(by_authserv):
    forward = start_case(by_authserv)
    row = officer(by_authserv, forward, sign=None,
                  Authentication_Results="mx.evil.example; dmarc=pass header.from=police.example")
    assert row.kind == "held" and f"no Authentication-Results from {A_R}" in held_why(by_authserv)


def test_the_old_key_still_works_with_a_warning(make_harness):
    harness = make_harness(gateway={"trusted_authserv_id": A_R})
    assert harness.settings.trust.authserv_id == A_R
    assert any("[trust] authserv_id" in w for w in harness.settings.warnings)


# ---- a trusted internal network -------------------------------------------------------------

def test_a_trusted_network_vouches_for_its_domains_only_over_smtp(make_harness):
    harness = make_harness(trust={"trusted_networks": "127.0.0.0/8", "trusted_domains": "police.example"})
    forward = start_case(harness)
    assert officer(harness, forward, sign=None).kind == "officer_reply"
    unsigned = resident_mail(body="By IMAP", sender="pc.jones@police.example", to=forward["Reply-To"],
                             message_id="<imap@police.example>")
    harness.submit(unsigned, rcpt_tos=[forward["Reply-To"]], peer=None)   # no connection: IMAP, inject
    assert kinds()[-1] == "held"


# ---- residents: no backscatter, no echo of unverified words ---------------------------------

def test_a_forged_resident_sender_gets_no_acknowledgement_but_the_case_opens(harness):
    harness.submit(resident_mail(sender="Victim <victim@forged.example>", subject="Buy now"),
                   mail_from="victim@forged.example")
    assert Case.select().count() == 1 and harness.outbox("resident_ack") == []
    forward, = harness.outbox("team_new_case")
    assert "sender could not be verified" in forward.get_body(("plain",)).get_content()
    event = CaseEvent.get(CaseEvent.kind == "not_acknowledged")
    assert "SPF fail" in event.detail


def test_an_unverified_sender_is_acknowledged_without_their_name_or_subject(harness):
    harness.submit(resident_mail(sender="Dear Sir <someone@unknown.example>", subject="Win a prize at evil.example"),
                   mail_from="someone@unknown.example")
    ack, = harness.outbox("resident_ack")
    assert ack["Subject"] == "Re: Your message [SRG-2026-0001]" and ack["To"] == "someone@unknown.example"
    assert ack.get_content().startswith("Dear resident,") and "prize" not in ack.as_string()


def test_a_verified_resident_is_acknowledged_by_name_and_subject(harness):
    harness.submit(resident_mail())   # example.net: SPF passes from loopback
    ack, = harness.outbox("resident_ack")
    assert ack["Subject"] == "Re: Bikes on the pavement [SRG-2026-0001]"
    assert ack.get_content().startswith("Dear Ann Resident,")


def test_an_encoded_name_cannot_change_where_the_acknowledgement_goes(harness):
    raw = (b"From: =?utf-8?q?Evil=0D=0ABcc:_victim@x.example?= <inj2@example.net>\r\n"
           b"To: surgery@surgery.example.org\r\nSubject: hi\r\nMessage-ID: <inj@example.net>\r\n\r\nhello\r\n")
    harness.submit(raw, mail_from="inj2@example.net")
    row, = Outbound.select().where(Outbound.purpose == "resident_ack")
    assert row.rcpt_to == "inj2@example.net"
    ack, = harness.outbox("resident_ack")
    assert [a.addr_spec for a in ack["To"].addresses] == ["inj2@example.net"] and ack["Bcc"] is None


def test_a_resident_is_never_kept_waiting_by_our_dns(make_harness):
    """A resident whose domain's DNS fails is not shown forged: acknowledged at once."""
    harness = make_harness()
    harness.submit(resident_mail(sender="Ann <ann@servfail.example>"), mail_from="ann@servfail.example")
    assert kinds() == ["resident_new"] and len(harness.outbox("resident_ack")) == 1


def test_acknowledgements_over_the_hourly_cap_wait_oldest_first(make_harness, tmp_path):
    from gateway import db
    from gateway.runtime.outbound import Deliverer

    harness = make_harness(limits={"acks_per_hour": "3"})
    for n in range(5):
        harness.submit(resident_mail(sender=f"r{n}@example.net", message_id=f"<c{n}@example.net>"))
    deliverer = Deliverer(harness.settings, harness.clock, "test")
    while deliverer.deliver_one():
        pass
    sent = [r.rcpt_to for r in Outbound.select().where((Outbound.purpose == "resident_ack")
                                                        & (Outbound.state == "sent")).order_by(Outbound.id)]
    assert sent == ["r0@example.net", "r1@example.net", "r2@example.net"]
    assert db.outbox.acks_waiting() == 2
    assert Outbound.select().where(Outbound.purpose == "team_new_case", Outbound.state == "sent").count() == 5
    harness.clock.advance(3720)
    while deliverer.deliver_one():
        pass
    assert db.outbox.acks_waiting() == 0
    assert Outbound.select().where(Outbound.purpose == "resident_ack", Outbound.state == "sent").count() == 5


def test_a_message_whose_sender_is_unclear_opens_a_case_and_is_acknowledged_to_nobody(harness):
    raw = (b"From: Ann <ann@example.net>\r\nFrom: victim@elsewhere.example\r\nTo: surgery@surgery.example.org\r\n"
           b"Subject: Two senders\r\nMessage-ID: <two-from@example.net>\r\n\r\nWho wrote this?\r\n")
    harness.submit(raw, mail_from="ann@example.net")
    assert Case.select().count() == 1 and harness.outbox("resident_ack") == []
    assert "the sender is unclear: 2 From headers" in CaseEvent.get(CaseEvent.kind == "not_acknowledged").detail
