"""Quoted-text trimming on the replies officers and residents really send."""

from gateway.mail.trim import trim, trim_html

OUTLOOK = """Dear Ms Resident,

We have spoken to the council and a patrol will visit on Friday.

Kind regards,
PC 1234 Jones
Hightown Neighbourhood Policing Team | 01978 123456 | pc.jones@police.example

________________________________
From: Hightown NPT <surgery@surgery.example.org>
Sent: 28 November 2026 10:00
To: Hightown NPT <hightown.npt@police.example>
Subject: [SRG-2026-0001] Bikes on the pavement

They ride on the pavement.
"""


def test_outlook_reply_keeps_only_the_new_text():
    assert trim(OUTLOOK, sender="PC Jones") == (
        "Dear Ms Resident,\n\nWe have spoken to the council and a patrol will visit on Friday.")


def test_gmail_attribution_over_two_lines_and_bottom_quotes():
    text = "Thanks, that helps.\n\nOn Sat, 28 Nov 2026 at 12:00, Ann Resident <ann@example.net>\nwrote:\n> hi\n"
    assert trim(text) == "Thanks, that helps."


def test_welsh_attribution_and_signature_off_a_phone():
    text = "Diolch yn fawr.\n\nAnfonwyd o fy iPhone\n\nAr 28 Tach 2026, am 10:00, Tîm Plismona <s@x.org> ysgrifennodd:\n> Helo"
    assert trim(text) == "Diolch yn fawr."


def test_german_outlook_header_block():
    text = "Alles klar.\n\nVon: Ann <ann@example.net>\nGesendet: Samstag, 28. November 2026 10:00\nAn: Team\nBetreff: Test\n\nAlt"
    assert trim(text) == "Alles klar."


def test_confidentiality_footer_goes():
    text = ("Patrol booked for Friday.\n\nThis email and any attachments are confidential and intended "
            "solely for the addressee. If you have received it in error, tell the sender.")
    assert trim(text) == "Patrol booked for Friday."


def test_an_ordinary_sentence_about_a_phone_is_kept():
    text = "Here is my answer.\n\nSent from my desk, which is easier than my phone."
    assert trim(text) == text


def test_forwarded_mail_is_kept_whole():
    text = "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, 4 Sep 2012\nSubject: x\nTo: a@b.c\n\nText"
    assert trim(text) == text


def test_point_by_point_answers_keep_their_quotes():
    text = "See below.\n> Is it every night?\nYes, after ten.\n> Which street?\nHill Street."
    assert trim(text) == text


def test_html_blockquotes_are_history():
    markup = ("<div>Yes, Friday.</div><div>On Sat, 28 Nov 2026, Ann &lt;ann@example.net&gt; wrote:</div>"
              "<blockquote>Will someone come?</blockquote>")
    assert trim_html(markup) == "Yes, Friday."


def test_never_trims_to_nothing():
    assert trim("> only a quote\n> and more") == "> only a quote\n> and more"
    assert trim_html("<blockquote>Only quoted</blockquote>") == "Only quoted"


import pytest  # noqa: E402


@pytest.mark.parametrize("text, kept", [
    ("Dank je wel!\n\nOp 16 aug. 2014 05:13 schreef \"Jan Jansen\" <jan@example.nl> het\nvolgende geschreven:\n\n"
     "> Hoi,\n> vraag\n", "Dank je wel!"),
    ("Danke!\n\nAm Fr., 28. Apr. 2017 um 11:53 Uhr schrieb Hans Muster <\nhans@example.de>:\n\n> Hallo\n", "Danke!"),
    ("Danke!\n\nHans Muster <hans@example.de> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:\n\n> Hallo\n", "Danke!"),
    ("Thanks, will do.\n\n2016-03-03 17:21 GMT+01:00 Some One <some.one@example.com>:\n\n> Can you check?\n",
     "Thanks, will do."),
    ("D'accord.\n\nEnvoyé depuis mon iPhone\n", "D'accord."),
    ("Iawn.\n\nAnfonwyd o fy iPhone\n", "Iawn."),
    ("Thanks for that.\n\u1427\n", "Thanks for that."),
])
def test_attributions_wrapped_in_more_languages_mobile_lines_and_invisible_marks(text, kept):
    assert trim(text) == kept


def test_a_quote_answered_inline_is_kept():
    text = "First, about the bins:\n> They were not collected\nThey will be on Friday.\n"
    assert trim(text) == text.strip()


def test_a_long_answer_with_a_footer_like_line_in_its_prose_is_kept_whole():
    """A 100-line answer whose line 69 reads like a footer or a signature delimiter lost lines
    69 to 100: only a tail the size of a signature or footer goes."""
    for line_69 in ("This email is to confirm what we agreed on the phone.", "Disclaimer: we cannot promise a date.",
                    "--"):
        lines = [f"{i}. We will patrol Hill Street on Friday and speak to the neighbours." for i in range(1, 101)]
        lines[68] = line_69
        assert trim("\n".join(lines), sender="PC Jones") == "\n".join(lines)


def test_a_real_footer_under_an_answer_still_goes():
    footer = ("This email and any attachments are confidential. If you have received it in error,\n"
              "please tell the sender and delete it.")
    assert trim(f"We will patrol on Friday.\n\n{footer}") == "We will patrol on Friday."
