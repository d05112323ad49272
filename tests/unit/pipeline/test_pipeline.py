"""The pipeline over a real SQLite database (no sockets): what each kind of mail becomes."""

import pytest

from gateway.mail.addresses import reply_address
from gateway.db.models import Case, CaseEvent, Inbound
from tests.helpers import resident_mail

pytestmark = pytest.mark.database


def kinds() -> list[str]:
    return [row.kind for row in Inbound.select().order_by(Inbound.id)]


def test_a_new_message_opens_a_case_tells_the_team_and_acknowledges(harness):
    harness.submit(resident_mail(body="Cars race down Hill St every night.\nAnn"))
    case = Case.get()
    assert case.reference == "SRG-2026-0001"
    assert (case.team, case.status, case.resident_address) == ("hightown", "open", "ann@example.net")
    assert str(case.due_date) == "2026-12-04"

    forward, = harness.outbox("team_new_case")
    assert forward["To"] == "Hightown Neighbourhood Policing Team <hightown.npt@police.example>"
    assert forward["Subject"] == "[SRG-2026-0001] Bikes on the pavement"
    assert forward["Reply-To"] == reply_address("SRG-2026-0001", harness.settings.secret, "surgery.example.org")
    text = forward.get_body(("plain",)).get_content()
    assert "Ann Resident <ann@example.net>" in text and "Cars race down Hill St every night." in text
    original, = [p for p in forward.iter_attachments()]
    assert original.get_filename() == "original.eml"

    ack, = harness.outbox("resident_ack")
    assert ack["To"] == "Ann Resident <ann@example.net>"
    assert ack["From"] == "Hightown Neighbourhood Policing Team <surgery@surgery.example.org>"
    assert ack["Subject"] == "Re: Bikes on the pavement [SRG-2026-0001]"
    assert ack["In-Reply-To"] == "<a1@example.net>" and ack["References"] == "<a1@example.net>"
    assert ack["Auto-Submitted"] == "auto-replied"
    body = ack.get_content()
    assert "SRG-2026-0001" in body and "Friday 4 December 2026" in body
    assert "dial 999" in body and "101" in body
    assert kinds() == ["resident_new"]


def test_references_are_numbered_and_never_reused(harness):
    for n in range(3):
        harness.submit(resident_mail(message_id=f"<m{n}@example.net>", sender=f"r{n}@example.net"))
    Case.delete().where(Case.reference == "SRG-2026-0003").execute()
    harness.submit(resident_mail(message_id="<m9@example.net>", sender="r9@example.net"))
    assert [c.reference for c in Case.select().order_by(Case.id)] == [
        "SRG-2026-0001", "SRG-2026-0002", "SRG-2026-0004"]


def test_routing_by_address_then_postcode_then_default(harness):
    harness.submit(resident_mail(message_id="<r1@x>", to="rhosddu@surgery.example.org"),
                   rcpt_tos=["rhosddu@surgery.example.org"])
    harness.submit(resident_mail(message_id="<r2@x>", body="Near LL11 2AB there is graffiti."))
    harness.submit(resident_mail(message_id="<r3@x>", body="Somewhere in SW1A 1AA."))
    assert [c.team for c in Case.select().order_by(Case.id)] == ["rhosddu", "rhosddu", "hightown"]
    assert [m["To"].addresses[0].addr_spec for m in harness.outbox("team_new_case")] == [
        "rhosddu.npt@police.example", "rhosddu.npt@police.example", "hightown.npt@police.example"]


def test_a_reply_joins_its_case_by_reply_address_references_or_subject(harness):
    harness.submit(resident_mail())
    ack, = harness.outbox("resident_ack")
    case_address = ack["Reply-To"]
    harness.submit(resident_mail(message_id="<f1@example.net>", to=case_address, subject="more"),
                   rcpt_tos=[case_address])
    harness.submit(resident_mail(message_id="<f2@example.net>", subject="Re: thanks",
                                 In_Reply_To=ack["Message-ID"], References=ack["Message-ID"]))
    harness.submit(resident_mail(message_id="<f3@example.net>", subject="About SRG-2026-0001 again"))
    assert Case.select().count() == 1
    assert kinds() == ["resident_new", "resident_follow_up", "resident_follow_up", "resident_follow_up"]
    follow_ups = harness.outbox("team_follow_up")
    assert len(follow_ups) == 3
    assert follow_ups[0]["Subject"] == "[SRG-2026-0001] Follow-up: more"
    first_forward = harness.outbox("team_new_case")[0]["Message-ID"]
    assert follow_ups[0]["In-Reply-To"] == first_forward
    assert len(harness.outbox("resident_ack")) == 1


def test_subject_reference_from_a_stranger_does_not_join_the_case(harness):
    harness.submit(resident_mail())
    harness.submit(resident_mail(message_id="<s1@x>", sender="mallory@example.com", subject="SRG-2026-0001"))
    assert Case.select().count() == 2
    assert Case.get_by_id(2).resident_address == "mallory@example.com"


def test_a_stranger_writing_to_a_case_address_is_held(harness):
    harness.submit(resident_mail())
    case_address = harness.outbox("resident_ack")[0]["Reply-To"]
    harness.submit(resident_mail(message_id="<s2@x>", sender="mallory@example.com", to=case_address),
                   rcpt_tos=[case_address])
    assert kinds() == ["resident_new", "held"]
    assert len(harness.outbox("resident_ack")) == 1 and harness.outbox("resident_answer") == []
    notice, = harness.outbox("team_held")
    assert notice["To"] == harness.outbox("team_new_case")[0]["To"]
    assert "held: not the case's resident" in notice.get_body(("plain",)).get_content()
    assert "mallory@example.com" in notice.get_body(("plain",)).get_content()
    assert CaseEvent.select().where(CaseEvent.kind == "held").count() == 1


def test_a_tampered_case_address_is_held_on_the_case_it_names_and_its_team_told(harness):
    harness.submit(resident_mail())
    forged = "reply+srg-2026-0001-aaaaaaaaaaaaaaaa@surgery.example.org"
    harness.submit(resident_mail(message_id="<s3@x>", sender="mallory@example.com", to=forged),
                   rcpt_tos=[forged])
    assert kinds() == ["resident_new", "held"]
    assert Case.select().count() == 1
    notice, = harness.outbox("team_held")
    assert "signature does not match" in notice.get_body(("plain",)).get_content()
    made_up = "reply+srg-2026-0999-aaaaaaaaaaaaaaaa@surgery.example.org"   # names no case
    harness.submit(resident_mail(message_id="<s4@x>", sender="mallory@example.com", to=made_up),
                   rcpt_tos=[made_up])
    assert kinds() == ["resident_new", "held", "invalid"]
    assert len(harness.outbox("team_held")) == 1 and len(harness.outbox("resident_ack")) == 1


def test_the_same_message_id_twice_makes_one_case_and_one_forward(harness):
    harness.submit(resident_mail())
    harness.submit(resident_mail())
    assert Case.select().count() == 1
    assert kinds() == ["resident_new", "duplicate"]
    assert len(harness.outbox("team_new_case")) == 1 and len(harness.outbox("resident_ack")) == 1


def test_automatic_mail_is_stored_but_never_answered(harness):
    harness.submit(resident_mail(message_id="<o1@x>", subject="Out of office", Auto_Submitted="auto-replied"))
    harness.submit(resident_mail(message_id="<o2@x>", Precedence="junk"))
    harness.submit(resident_mail(message_id="<o3@x>", sender="MAILER-DAEMON@mx.example.net"), mail_from="")
    assert Case.select().count() == 0
    assert harness.outbox() == []
    assert kinds() == ["auto_reply", "auto_reply", "bounce"]
    assert all(bytes(row.raw) for row in Inbound.select())


def test_an_auto_reply_to_our_acknowledgement_is_recorded_on_the_case(harness):
    harness.submit(resident_mail())
    ack, = harness.outbox("resident_ack")
    harness.submit(resident_mail(message_id="<oof@x>", subject="Automatic reply: away",
                                 Auto_Submitted="auto-replied", In_Reply_To=ack["Message-ID"]))
    assert kinds() == ["resident_new", "auto_reply"]
    assert Inbound.get_by_id(2).case.reference == "SRG-2026-0001"
    assert len(harness.outbox()) == 2


def test_our_own_mail_coming_back_is_dropped_as_a_loop(harness):
    harness.submit(resident_mail())
    ack, = harness.outbox("resident_ack")
    harness.submit(ack.as_bytes(), mail_from="surgery@surgery.example.org")
    assert kinds() == ["resident_new", "loop"]
    assert len(harness.outbox()) == 2


def test_mail_from_officers_never_opens_a_case(harness):
    harness.submit(resident_mail(sender="PC Jones <pc.jones@police.example>"))
    assert Case.select().count() == 0 and harness.outbox() == []
    assert kinds() == ["held"]  # an officer's mail that answers no case is held, not a case


def test_broken_mail_still_reaches_the_team_with_the_original(harness):
    raw = (b"From: Bob <bob@example.net>\nSubject: =?bogus?q?broken?=\nMessage-ID: <b1@x>\n"
           b"Content-Type: text/plain; charset=no-such-charset\n\nCaf\xe9 window smashed\n")
    harness.submit(raw)
    forward, = harness.outbox("team_new_case")
    text = forward.get_body(("plain",)).get_content()
    assert "window smashed" in text and "could not be read perfectly" in text
    attachment, = forward.iter_attachments()
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_content() == raw
    assert len(harness.outbox("resident_ack")) == 1


def test_a_stage_that_breaks_parks_the_message_and_retry_puts_it_back(harness, monkeypatch):
    from gateway import db
    from gateway.pipeline import notify

    def broken(ctx):
        raise RuntimeError("template store unavailable")

    monkeypatch.setattr(notify, "new_case", broken)
    inbound_id = harness.submit(resident_mail())
    row = Inbound.get_by_id(inbound_id)
    assert (row.state, row.stage) == ("parked", "notify")
    assert "template store unavailable" in row.error
    assert Case.select().count() == 0 and harness.outbox() == []
    monkeypatch.undo()
    assert db.intake.retry_parked([inbound_id]) == 1
    while harness.worker.process_one():
        pass
    assert Inbound.get_by_id(inbound_id).kind == "resident_new"
    assert len(harness.outbox()) == 2


def test_in_a_batch_a_message_that_breaks_half_way_rolls_back_alone(harness, monkeypatch):
    from gateway import db
    from gateway.pipeline import notify

    real = notify._acknowledge

    def breaks_for_bob(ctx, due):
        real(ctx, due)   # the case, the team's copy and the acknowledgement are written first
        if ctx.msg.from_address == "bob@example.net":
            raise RuntimeError("disk full while writing")

    monkeypatch.setattr(notify, "_acknowledge", breaks_for_bob)
    ids = [db.intake.save_inbound(resident_mail(sender=f"{name} <{name}@example.net>", message_id=f"<{name}@x>")
                              .as_bytes(), f"{name}@example.net", ["surgery@surgery.example.org"], "smtp",
                              harness.clock.now()) for name in ("ann", "bob", "cai")]
    assert harness.worker.process_one()   # all three claimed and handled in one transaction
    states = [(row.state, row.stage) for row in Inbound.select().where(Inbound.id.in_(ids)).order_by(Inbound.id)]
    assert states == [("done", None), ("parked", "notify"), ("done", None)]
    assert [c.resident_address for c in Case.select().order_by(Case.id)] == ["ann@example.net", "cai@example.net"]
    assert sorted(m["To"].addresses[0].addr_spec for m in harness.outbox("resident_ack")) == [
        "ann@example.net", "cai@example.net"]
    assert not harness.worker.process_one()


def test_one_message_to_two_teams_makes_one_case_and_tells_the_second_team(harness):
    harness.submit(resident_mail(to="hightown@surgery.example.org, rhosddu@surgery.example.org"),
                   rcpt_tos=["hightown@surgery.example.org", "rhosddu@surgery.example.org"])
    case = Case.get()
    assert (Case.select().count(), case.team) == (1, "hightown")
    forward, = harness.outbox("team_new_case")
    assert "hightown.npt@police.example" in forward["To"]
    notice, = harness.outbox("team_copy_elsewhere")
    assert "rhosddu.npt@police.example" in notice["To"]
    assert notice["Subject"] == "[SRG-2026-0001] For Hightown Neighbourhood Policing Team: Bikes on the pavement"
    text = notice.get_body(("plain",)).get_content()
    assert "SRG-2026-0001" in text and "it is with the\r\nHightown" in text
    assert [p.get_filename() for p in notice.iter_attachments()] == ["original.eml"]
    assert len(harness.outbox("resident_ack")) == 1


def test_a_follow_up_reaches_the_team_trimmed_with_the_whole_original_attached(harness):
    harness.submit(resident_mail())
    ack = harness.outbox("resident_ack")[0]
    body = ("They were back last night, three of them.\n\n"
            "On Sat, 28 Nov 2026 at 10:00, Hightown Neighbourhood Policing Team <surgery@surgery.example.org> wrote:\n"
            "> Thank you for your message.\n> Your reference is SRG-2026-0001.\n")
    harness.submit(resident_mail(body=body, message_id="<a2@example.net>", to=ack["Reply-To"],
                                 subject=ack["Subject"]), rcpt_tos=[ack["Reply-To"]])
    follow, = harness.outbox("team_follow_up")
    text = follow.get_body(("plain",)).get_content()
    assert "They were back last night, three of them." in text
    assert "Thank you for your message" not in text and "wrote:" not in text
    original, = follow.iter_attachments()
    assert b"> Thank you for your message." in original.get_content().as_bytes()


def test_emergency_wording_marks_the_case_urgent_and_it_goes_first(harness):
    harness.submit(resident_mail(message_id="<calm@x>", subject="Bins", body="The bins were not collected."))
    harness.submit(resident_mail(message_id="<urgent@x>", sender="bob@example.net", subject="Help",
                                 body="A man with a knife is outside my door right now."))
    calm, urgent = Case.select().order_by(Case.id)
    assert (calm.urgent, urgent.urgent) == (False, True)
    forward = [m for m in harness.outbox("team_new_case") if "Help" in m["Subject"]][0]
    assert forward["Subject"] == "[URGENT] [SRG-2026-0002] Help"
    assert "URGENT: someone may be in danger now (knife, right now)" in forward.get_body(("plain",)).get_content()
    ack = harness.outbox("resident_ack")[-1]
    assert ack["To"] == "bob@example.net" and "DIAL 999 NOW" in ack.get_content()
    from gateway.db.models import Outbound
    first = Outbound.select().where(Outbound.state == "queued").order_by(Outbound.priority, Outbound.id).first()
    assert first.purpose == "team_new_case" and first.case.reference == "SRG-2026-0002"


def test_words_inside_other_words_are_not_emergencies(harness):
    harness.submit(resident_mail(body="The knifelike wind and the gunwale of my boat; Garfield the cat."))
    assert Case.get().urgent is False
    assert "DIAL 999 NOW" not in harness.outbox("resident_ack")[0].get_content()


def test_a_worker_whose_lease_ran_out_undoes_its_work_and_the_new_holder_finishes(harness, caplog):
    """Two workers (two daemons): the first is slow, its lease runs out, the second takes the
    message and opens the case; the first's finish finds the lease gone and rolls back."""
    from gateway import db
    from gateway.render import Renderer
    from gateway.runtime.worker import InboundWorker

    db.intake.save_inbound(resident_mail().as_bytes(), "ann@example.net", ["surgery@surgery.example.org"], "smtp",
                           harness.clock.now(), peer="127.0.0.1")
    slow = InboundWorker(harness.settings, harness.clock, Renderer(), "slow")
    item, = db.intake.claim_inbound("slow", harness.clock.now(), harness.settings.lease_seconds, 1)
    slow.leases = {item.id: item.lease_owner}
    harness.clock.advance(seconds=harness.settings.lease_seconds + 1)
    fast = InboundWorker(harness.settings, harness.clock, Renderer(), "fast")
    assert fast.process_one()
    with caplog.at_level("WARNING"):
        slow.process_together([slow._prepare(item)])
    assert "its lease ran out and another worker has it" in caplog.text
    assert Case.select().count() == 1 and kinds() == ["resident_new"]
    assert len(harness.outbox("team_new_case")) == 1 and len(harness.outbox("resident_ack")) == 1


def test_a_message_another_daemon_is_handling_waits_its_turn(harness, backend):
    """PostgreSQL: while another daemon's transaction holds a Message-ID (its copy of the same
    message), this copy waits a second instead of opening a second case; then it is a duplicate."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no other daemon's transaction to meet")
    import psycopg

    from gateway import db

    other = psycopg.connect(harness.settings.database)   # the other daemon, mid-transaction
    other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("message-id:<a1@example.net>",))
    harness.submit(resident_mail())
    assert kinds() == [None] and Case.select().count() == 0
    row = Inbound.get()
    assert row.state == "queued" and row.deferrals == 0 and "another daemon" in row.error
    other.rollback()
    other.close()
    db.intake.save_inbound(resident_mail().as_bytes(), "ann@example.net", ["surgery@surgery.example.org"], "smtp",
                           harness.clock.now(), peer="127.0.0.1")   # and the first copy, done meanwhile
    harness.clock.advance(seconds=2)
    while harness.worker.process_one():
        pass
    assert sorted(k or "" for k in kinds()) == ["duplicate", "resident_new"] and Case.select().count() == 1
