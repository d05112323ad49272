"""Officers answer by pressing Reply; residents hear from the team, never from the officer."""

import pytest

from gateway.mail.trim import trim
from gateway.db.models import Case, CaseEvent, Inbound
from tests.helpers import resident_mail, signed

pytestmark = pytest.mark.database

OUTLOOK_REPLY = """#CMD
Thank you for reporting this. We will patrol Hill Street this week.

PC 1234 Jones
Hightown NPT | pc.jones@police.example | 01234 567890

This email and any attachments are confidential and intended solely for the addressee.

________________________________
From: Ann Resident via Hightown Neighbourhood Policing Team <surgery@surgery.example.org>
Sent: 28 November 2026 12:00
To: Hightown NPT <hightown.npt@police.example>
Subject: [SRG-2026-0001] Bikes on the pavement

New case SRG-2026-0001 for the Hightown Neighbourhood Policing Team.
"""


def officer_reply(harness, body: str, sender: str = "PC Jones <pc.jones@police.example>",
                  message_id: str = "<o1@police.example>", via: str = "reply address", sign: bool = True,
                  signing: tuple[bytes, ...] | None = None, **headers):
    """An officer's reply to the case's first forward, DKIM-signed as police.example signs
    (unless sign=False: a forgery), over the headers `signing` when given."""
    forward = harness.outbox("team_new_case")[0]
    kwargs = {"to": forward["Reply-To"]} if via == "reply address" else {}
    if via == "references":
        kwargs["References"] = forward["Message-ID"]
    msg = resident_mail(body=body, sender=sender, message_id=message_id,
                        subject="RE: [SRG-2026-0001] Bikes on the pavement", **kwargs, **headers)
    if sign and signing:
        from tests.servers.dns import sign as sign_over

        msg = sign_over(msg.as_bytes(), headers=signing)
    elif sign:
        msg = signed(msg)
    return harness.submit(msg, rcpt_tos=[kwargs.get("to", "surgery@surgery.example.org")])


def test_an_officer_reply_reaches_the_resident_from_the_team_trimmed(harness):
    harness.submit(resident_mail())
    officer_reply(harness, OUTLOOK_REPLY.replace("#CMD\n", ""))
    answer, = harness.outbox("resident_answer")
    assert answer["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert answer["To"] == "Ann Resident <ann@example.net>"
    assert answer["Subject"] == "Re: Bikes on the pavement [SRG-2026-0001]"
    assert answer["Reply-To"] == harness.outbox("resident_ack")[0]["Reply-To"]
    assert answer["In-Reply-To"] == harness.outbox("resident_ack")[0]["Message-ID"]
    assert "<a1@example.net>" in answer["References"]
    assert answer["Thread-Index"] and answer["Thread-Index"][:28] == harness.outbox("resident_ack")[0]["Thread-Index"][:28]
    text = answer.get_content()
    assert text.startswith("Thank you for reporting this. We will patrol Hill Street this week.")
    assert "police.example" not in answer.as_string()
    for dropped in ("confidential", "From: Ann", "New case", "01234"):
        assert dropped not in text
    assert Case.get().status == "answered"


def test_a_reply_that_kept_only_references_threads_but_an_unsigned_subject_is_not_enough(harness):
    """Issue 23: a subject reference ties police mail only when the DKIM signature covers the
    Subject (then it is the officer's own, as Exchange Online signs); here it does not."""
    harness.submit(resident_mail())
    officer_reply(harness, "Answer by references.", via="references")
    officer_reply(harness, "Answer by subject.", via="subject", message_id="<o2@police.example>",
                  signing=(b"From", b"Date", b"Message-ID"))
    answer, = harness.outbox("resident_answer")
    assert answer.get_content().startswith("Answer by references.")
    held, = harness.outbox("team_held")
    assert "not covered by the sender's signature" in held.get_body(("plain",)).get_content()
    told, = harness.outbox("officer_held")   # authenticated, so the officer hears why
    assert told["To"] == "pc.jones@police.example" and "not covered by the sender's signature" in told.get_content()


def test_a_duplicate_officer_reply_is_relayed_once(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "Once only.")
    officer_reply(harness, "Once only.")
    assert len(harness.outbox("resident_answer")) == 1


def test_a_spoofed_or_foreign_officer_reply_is_held(make_harness):
    harness = make_harness(gateway={"trusted_authserv_id": "mx.police.example"},
                           trust={"authserv_networks": "127.0.0.0/8"})
    harness.submit(resident_mail())
    officer_reply(harness, "Spoofed.", message_id="<x1@x>")
    officer_reply(harness, "Other team.", sender="pc.hughes@police.example", message_id="<x2@x>",
                  Authentication_Results="mx.police.example; dmarc=pass header.from=police.example")
    officer_reply(harness, "Forged server.", message_id="<x3@x>",
                  Authentication_Results="mx.evil.example; dmarc=pass header.from=police.example")
    assert harness.outbox("resident_answer") == []
    assert [r.kind for r in Inbound.select().order_by(Inbound.id)][1:] == ["held", "held", "held"]
    officer_reply(harness, "Genuine.", message_id="<x4@x>",
                  Authentication_Results="mx.police.example; dkim=pass header.d=police.example; spf=pass")
    assert harness.outbox("resident_answer")[0].get_content().startswith("Genuine.")


def test_note_sends_nothing_to_the_resident(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#note\nSpoke to the school; they will send a letter.")
    assert harness.outbox("resident_answer") == []
    note = CaseEvent.get(CaseEvent.kind == "note")
    assert "Spoke to the school" in note.detail
    assert Case.get().status == "open"


def test_close_relays_then_closes_and_the_resident_can_reopen(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#close\nAll sorted, thank you.")
    answer, = harness.outbox("resident_answer")
    assert "All sorted, thank you." in answer.get_content()
    assert "closed case SRG-2026-0001" in answer.get_content()
    assert Case.get().status == "closed"
    harness.submit(resident_mail(message_id="<again@example.net>", subject="It happened again",
                                 In_Reply_To=answer["Message-ID"]))
    assert Case.get().status == "open"
    assert len(harness.outbox("team_follow_up")) == 1


def test_assign_moves_the_case_with_its_history(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#assign rhosddu\nThis is on your patch.")
    assert Case.get().team == "rhosddu"
    moved, = harness.outbox("team_assigned")
    assert moved["To"].addresses[0].addr_spec == "rhosddu.npt@police.example"
    assert "opened: routed to hightown" in moved.get_body(("plain",)).get_content()
    assert next(moved.iter_attachments()).get_content()["Message-ID"] == "<a1@example.net>"
    assert harness.outbox("resident_answer") == []


def test_an_unknown_command_answers_the_officer_only(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#escalate\nPlease.")
    error, = harness.outbox("officer_error")
    assert error["To"] == "pc.jones@police.example"
    assert "Unknown command #escalate" in error.get_content() and "#assign <team>" in error.get_content()
    assert harness.outbox("resident_answer") == []


def test_trimming_never_leaves_nothing():
    assert trim("> only a quote\n> and more") == "> only a quote\n> and more"
    assert trim("Yes.\n\nOn Sat, 28 Nov 2026 at 12:00, Ann <ann@example.net>\nwrote:\n> hi") == "Yes."
    assert trim("Ie.\n\nAr 28 Tach 2026, ysgrifennodd Ann:\n> helo") == "Ie."
    assert trim("Keep\n> a quote\ninside\n\n-- \nsig") == "Keep\n> a quote\ninside"


def test_the_team_mailbox_gets_a_copy_of_what_was_sent_to_the_resident_in_its_thread(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "We will patrol Hill Street this week.")
    copy, = harness.outbox("team_sent_copy")
    forward = harness.outbox("team_new_case")[0]
    assert copy["To"] == "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"
    assert copy["Subject"] == "[SRG-2026-0001] Sent to resident: Bikes on the pavement"
    assert copy["From"].addresses[0].display_name == "Answer sent to the resident via Hightown Neighbourhood Policing Team"
    assert "Ann" not in copy["From"] and "ann@example.net" not in copy["From"]   # not shown as the resident's mail
    assert copy["In-Reply-To"] == forward["Message-ID"]
    text = copy.get_body(("plain",)).get_content()
    assert "by pc.jones@police.example" in text and "The case is now answered." in text
    assert "We will patrol Hill Street this week." in text and "To: Ann Resident <ann@example.net>" in text


def test_the_note_under_assign_reaches_the_new_team(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#assign rhosddu\nBridge St is Rhosddu's patch.")
    passed, = harness.outbox("team_assigned")
    assert passed["To"] == "Rhosddu Neighbourhood Policing Team <rhosddu.npt@police.example>"
    text = passed.get_body(("plain",)).get_content()
    assert "pc.jones@police.example wrote:" in text and "Bridge St is Rhosddu's patch." in text
    assert harness.outbox("resident_answer") == []
