"""The danger check reads a bounded amount of a message (so a 10 MB mail cannot stall it), but
what a resident writes at the end of a long mail is read too: a long complaint that ends with
"he is outside my door with a knife" is urgent."""

from __future__ import annotations

from gateway.mail.urgency import MAX_CHARS, assess

COMPLAINT = ("I have been writing to the council about the state of the alley behind the shops for months. "
             "The bins overflow, the lights are out and nobody answers my letters. ")
DANGER = "And now as I write this he is outside my door with a knife and says he will kill me."


def test_danger_at_the_end_of_a_mail_longer_than_the_part_read_whole_is_flagged():
    body = COMPLAINT * (MAX_CHARS // len(COMPLAINT) + 20) + "\n\n" + DANGER
    assert len(body) > MAX_CHARS
    assert assess("Alley\n" + body).urgent


def test_the_same_complaint_without_danger_is_not_flagged():
    body = COMPLAINT * (MAX_CHARS // len(COMPLAINT) + 20) + "\n\nPlease can someone look at it."
    assert not assess("Alley\n" + body).why


def test_ten_megabytes_of_an_ordinary_complaint_are_read_and_not_flagged():
    assert not assess(COMPLAINT * 70_000).why
