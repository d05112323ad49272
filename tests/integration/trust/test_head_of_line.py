"""One slow sender stalls no one (issue 23): mail From a domain whose DNS never answers
(silent.example in tests/servers/dns.py reads every query and never replies, as an attacker's
own DNS may) waits for its own sender check, not in front of anybody else's mail; and what
the pipeline relies on still holds: a sender's later mail, or a second copy of a Message-ID,
never overtakes the earlier one, however quick its own check."""

from __future__ import annotations

import smtplib

import pytest

from gateway import db
from gateway.db.models import Case, Inbound, Outbound
from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config

pytestmark = pytest.mark.database

SLOW = 20
KNIFE = "A man with a knife is outside my door right now."
# What is tested is the order mail is handled in around a zone that never answers, not how
# long a lookup is waited for: a one-second lookup budget (the suite's is 2) still leaves the
# twenty silent messages ten seconds of checks, two at a time, behind which the urgent one
# must not wait, at half the time the test spends waiting them out.
TRUST = {"dns_timeout_seconds": "1"}


def test_an_urgent_message_behind_twenty_from_a_silent_domain_goes_first(tmp_path, gateway_process, relay):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)}, trust=TRUST)
    gateway = gateway_process(path, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n in range(SLOW):
            sender = f"r{n}@silent.example"
            smtp.sendmail(sender, ["surgery@surgery.example.org"],
                          resident_mail(sender=sender, message_id=f"<s{n}@silent.example>", subject="Parking",
                                        body="Cars on the pavement again.").as_bytes())
        smtp.sendmail("bob@example.net", ["surgery@surgery.example.org"],
                      resident_mail(sender="bob@example.net", message_id="<knife@example.net>", subject="Help",
                                    body=KNIFE).as_bytes())

    wait_for(lambda: relay.messages("bob@example.net"), 60, what="the urgent message's acknowledgement")
    slow_done = db_rows(tmp_path, "select count(*) from inbound where state = 'done' and mail_from like ?",
                        ("%@silent.example",))
    assert slow_done[0][0] < SLOW   # acknowledged while the slow ones still wait for their DNS
    ack, = relay.messages("bob@example.net")
    assert "DIAL 999 NOW" in ack.get_content()
    team = [m for m in relay.messages("hightown.npt@police.example") if m["Subject"].startswith("[URGENT]")]
    assert len(team) == 1 and KNIFE in team[0].get_body(("plain",)).get_content()

    # ... and every one of the twenty is handled all the same, once.
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(SLOW + 1,)],
             120, what="all the slow messages handled")
    relay.wait(2 * (SLOW + 1), timeout=30)
    # Stopped, it sends nothing more; a second, wrong copy not yet sent is still in its outbox.
    assert gateway.stop() == 0
    assert db_rows(tmp_path, "select count(*) from outbound") == [(2 * (SLOW + 1),)]
    acks = sorted(m["To"] for m in relay.messages() if "silent.example" in (m["To"] or ""))
    assert acks == sorted(f"r{n}@silent.example" for n in range(SLOW))
    assert len(relay.messages()) == 2 * (SLOW + 1)
    assert db_rows(tmp_path, "select kind, count(*) from inbound group by kind") == [("resident_new", SLOW + 1)]
    assert "its lease ran out" not in gateway.log_text()   # the leases were kept while they waited


def test_stopping_gives_back_the_mail_still_waiting_and_the_next_start_handles_it_once(tmp_path, gateway_process,
                                                                                      relay):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}"},
                        relay={"host": "127.0.0.1", "port": str(relay.port)}, trust=TRUST)
    gateway = gateway_process(path, port)
    count = 6
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n in range(count):
            sender = f"r{n}@silent.example"
            smtp.sendmail(sender, ["surgery@surgery.example.org"],
                          resident_mail(sender=sender, message_id=f"<s{n}@silent.example>").as_bytes())
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where lease_owner is not null")[0][0] > 0,
             60, what="the pipeline to take the messages in hand")
    assert gateway.stop() == 0
    # What was not finished is queued and held by no one: the next start takes it at once.
    assert db_rows(tmp_path, "select count(*) from inbound where state = 'queued' and lease_owner is not null") == [(0,)]
    # (and there was such mail: stopped while the checks still waited, not after them all)
    assert db_rows(tmp_path, "select count(*) from inbound where state = 'queued'")[0][0] > 0
    again = gateway_process(path, port)
    wait_for(lambda: db_rows(tmp_path, "select count(*) from inbound where state = 'done'") == [(count,)],
             60, what="every message handled")
    relay.wait(2 * count, timeout=30)
    # Stopped, it sends nothing more; a second, wrong copy not yet sent is still in its outbox.
    assert again.stop() == 0
    assert db_rows(tmp_path, "select count(*) from outbound") == [(2 * count,)]
    assert len(relay.messages()) == 2 * count
    assert db_rows(tmp_path, "select kind, count(*) from inbound group by kind") == [("resident_new", count)]


def store(harness, msg, mail_from: str) -> int:
    return db.intake.save_inbound(msg.as_bytes(), mail_from, ["surgery@surgery.example.org"], "smtp",
                                  harness.clock.now(), peer="127.0.0.1", helo="client.example.net")


def run(harness) -> None:
    while harness.worker.process_one():
        pass


def kinds() -> list[str]:
    return [row.kind for row in Inbound.select().order_by(Inbound.id)]


def test_a_residents_quick_follow_up_waits_for_their_slow_first_message(harness):
    """The first message carries a DKIM signature of a silent domain (its check waits out the
    DNS); the follow-up, which refers to it, is checked at once, but is handled after it."""
    first = resident_mail(message_id="<first@example.net>")
    del first["From"]
    first["DKIM-Signature"] = "v=1; a=rsa-sha256; d=silent.example; s=sel; h=from; bh=AAAA; b=AAAA"
    first["From"] = "Ann Resident <ann@example.net>"
    store(harness, first, "ann@example.net")
    store(harness, resident_mail(message_id="<second@example.net>", References="<first@example.net>",
                                 subject="Re: Bikes on the pavement", body="And again today."), "ann@example.net")
    run(harness)
    assert kinds() == ["resident_new", "resident_follow_up"] and Case.select().count() == 1
    assert Outbound.select().where(Outbound.purpose == "team_follow_up").count() == 1


def test_a_second_copy_of_a_message_id_stays_the_duplicate_when_its_check_is_quicker(harness):
    """Two messages with one Message-ID: the first from a silent domain, the second from a
    domain that answers at once. The first is the case; the second the duplicate."""
    store(harness, resident_mail(sender="ann@silent.example", message_id="<same@x>"), "ann@silent.example")
    store(harness, resident_mail(sender="bob@example.net", message_id="<same@x>"), "bob@example.net")
    run(harness)
    assert kinds() == ["resident_new", "duplicate"]
    assert Case.get().resident_address == "ann@silent.example"
