"""Quoted-text trimming, one test per class of reply the trimmer got wrong (issue 24): answers
written inside the quote, under a Gmail/Thunderbird attribution or an Outlook header block, in
English and Welsh; a sentence of the writer's that reads like an attribution; a sign-off above a
signature block; Welsh footers. And the guards: the writer's own ">" lines, dash lines and
"From:" lines stay."""

from gateway.mail.trim import trim


def lines(text: str) -> list[str]:
    """The lines with text, whatever the blank lines between them."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# Answers inside the quote, under an attribution at the top ------------------------------------

def test_answers_inside_a_quote_under_a_gmail_attribution_keep_only_the_answers():
    text = ("On Mon, 7 Dec 2026 at 10:00, PC Jones <pc.jones@police.example> wrote:\n\n"
            "> Hi Ann,\n>\n> Which night was it?\n\nTuesday, about ten.\n\n"
            "> Did you see a car?\n\nA red van, parked by the school.\n\n> Thanks,\n> PC Jones\n\nAnn\n")
    assert lines(trim(text)) == ["Tuesday, about ten.", "A red van, parked by the school.", "Ann"]


def test_answers_inside_a_quote_with_a_quoted_older_attribution_and_a_two_line_question():
    text = ("On 07/12/2026 10:00, PC Jones wrote:\n> Hello,\n>\n"
            "> On Sun, 6 Dec 2026 at 21:15, Ann <ann@example.net> wrote:\n>> Someone tried the doors.\n>\n"
            "> Which way did he go, up the hill or down towards\n> the station?\n\n"
            "Down towards the station.\n\n> PC Jones\n\nThanks,\nAnn\n")
    assert lines(trim(text)) == ["Down towards the station.", "Thanks,", "Ann"]


def test_answers_inside_a_quote_under_a_welsh_thunderbird_attribution():
    text = ("Ar 10/12/2026 11:40, Sian Roberts ysgrifennodd:\n> Helo Gwen,\n>\n> Pryd oedd hyn?\n\n"
            "Nos Fawrth, tua deg.\n\n> Welsoch chi gar?\n\nFan wen.\n\n> Sian\n\nGwen\n")
    assert lines(trim(text)) == ["Nos Fawrth, tua deg.", "Fan wen.", "Gwen"]


# Answers inside the quote, under an Outlook header block, below a note on top -----------------

OUTLOOK_BLOCK = ("-----Original Message-----\nFrom: Ann Resident <ann@example.net> \n"
                 "Sent: Monday, December 7, 2026 9:12 AM\nTo: Hightown NPT <npt@police.example>\n"
                 "Subject: Questions\n\n")


def test_answers_inside_a_quote_under_an_outlook_header_block_are_kept_with_the_note_on_top():
    text = ("Hi Ann,\n\nAnswers below.\n\n" + OUTLOOK_BLOCK +
            "> Is the meeting still on Thursday?\n\nYes, at 7pm in the main hall.\n\n"
            "> Will the council be there?\n\nWe have asked them.\n\n> Thanks,\n> Ann\n\nPC Jones\n")
    assert lines(trim(text)) == ["Hi Ann,", "Answers below.", "Yes, at 7pm in the main hall.",
                                 "We have asked them.", "PC Jones"]


def test_answers_inside_a_quote_under_a_welsh_outlook_header_block():
    header = ("-----Neges Wreiddiol-----\nOddi wrth: Bethan Jones <bethan@example.cymru> \n"
              "Anfonwyd: dydd Mercher, 9 Rhagfyr 2026 12:40\nAt: Morgan, Dylan <dylan@heddlu.example>\n"
              "Pwnc: Cwestiynau\n\n")
    text = "Helo Bethan,\n\nAtebion isod.\n\n" + header + "> Oes rhaid i mi fynd?\n\nNac oes.\n\n> Bethan\n\nDylan\n"
    assert lines(trim(text)) == ["Helo Bethan,", "Atebion isod.", "Nac oes.", "Dylan"]


def test_answers_inside_a_quote_under_a_bare_header_block_without_a_separator():
    text = ("Mr Price,\n\nMy answers are marked below.\n\nFrom: Tom Price <tom@example.net> \n"
            "Sent: Thursday, December 10, 2026 7:58 AM\nTo: Hightown NPT <npt@police.example>\n"
            "Subject: Patrols\n\n> Why did nobody come on Tuesday\n> night?\n\n"
            "Officers were sent to a collision first.\n\nInsp. Helen Marsh\n")
    assert lines(trim(text)) == ["Mr Price,", "My answers are marked below.",
                                 "Officers were sent to a collision first.", "Insp. Helen Marsh"]


def test_an_outlook_header_block_over_unquoted_history_still_keeps_only_the_text_above():
    text = ("Thanks, that is clear.\n\n" + OUTLOOK_BLOCK +
            "Dear Ann,\n\nWe will patrol on Friday.\n> a line of theirs that starts with a quote mark\n"
            "More of the old message.\n")
    assert trim(text) == "Thanks, that is clear."


# A sentence of the writer's that reads like an attribution -----------------------------------

def test_a_sentence_of_the_writers_with_wrote_and_a_colon_is_not_an_attribution():
    text = ("Hi,\n\nOn Monday I rang 101 and nobody called back. On Tuesday I wrote it all down in the "
            "diary as you asked:\n\n22:40, grey Golf, two men inside.\n\nSteve\n\n"
            "On Wed, 9 Dec 2026 at 10:05, PC Jones <pc.jones@police.example> wrote:\n\n> Any news?\n")
    assert lines(trim(text)) == ["Hi,", "On Monday I rang 101 and nobody called back. On Tuesday I wrote it all "
                                 "down in the diary as you asked:", "22:40, grey Golf, two men inside.", "Steve"]


# A sign-off above a signature block: the sign-off is the writer's, the block goes -------------

DISCLAIMER = ("This email and any attachments are confidential and may be legally privileged. If you are "
              "not the intended recipient, please tell the sender and delete it.")
WELSH_DISCLAIMER = ("Mae'r e-bost hwn ac unrhyw atodiadau yn gyfrinachol a gallant fod yn freintiedig yn "
                    "gyfreithiol. Os nad chi yw'r derbynnydd bwriedig, rhowch wybod i'r anfonwr.")
ANSWER = "We will patrol the car park on weekdays for the next fortnight."


def test_a_sign_off_stays_and_the_contact_block_under_it_goes():
    text = (f"{ANSWER}\n\nKind regards,\nSian\n\nPCSO 5520 Sian Roberts\nHightown Neighbourhood Policing Team\n"
            f"Tel: 101 ext 45130\nEmail: sian.roberts@police.example\n\n{DISCLAIMER}\n")
    assert trim(text) == f"{ANSWER}\n\nKind regards,\nSian"


def test_a_sign_off_stays_and_a_block_of_rank_team_and_force_under_it_goes():
    text = (f"{ANSWER}\n\nRegards,\nHelen\n\nInspector Helen Marsh\nHightown & Lowtown Neighbourhood Policing\n"
            f"North Coast Police\n\n{DISCLAIMER}\n")
    assert trim(text) == f"{ANSWER}\n\nRegards,\nHelen"


def test_a_sign_off_stays_above_a_dash_dash_signature():
    text = f"{ANSWER}\n\nRegards\nGareth\n\n-- \nSgt 1187 Gareth Lloyd\nNeighbourhood Sergeant\n101\n"
    assert trim(text) == f"{ANSWER}\n\nRegards\nGareth"


def test_a_sign_off_stays_above_a_one_line_signature():
    text = f"{ANSWER}\n\nCheers,\nSam\n\nSam Okafor | Licensee, The Red Lion | 01632 960118 | www.redlion.example\n"
    assert trim(text) == f"{ANSWER}\n\nCheers,\nSam"


def test_a_welsh_sign_off_stays_above_a_welsh_signature_and_disclaimer():
    text = ("Bydd y cofnodion ar ein tudalen we erbyn diwedd yr wythnos.\n\nCofion,\nSian Roberts\n\n"
            "SCCH 5520 Sian Roberts\nTîm Plismona Cymdogaeth Glanrafon\nHeddlu'r Cymoedd\n101\n\n"
            f"{WELSH_DISCLAIMER}\n")
    assert trim(text) == "Bydd y cofnodion ar ein tudalen we erbyn diwedd yr wythnos.\n\nCofion,\nSian Roberts"


def test_the_welsh_language_statement_goes_with_the_signature():
    text = ("Byddwn yn marcio beiciau yn y neuadd ddydd Sadwrn.\n\nGyda diolch,\nTîm Plismona Glanrafon\n\n"
            "Tîm Plismona Cymdogaeth Glanrafon\nFfôn: 101 | Argyfwng: 999\n\n"
            "Rydym yn croesawu gohebiaeth yn Gymraeg a byddwn yn ymateb yn Gymraeg heb oedi.\n"
            "We welcome correspondence in Welsh and will respond in Welsh without delay.\n")
    assert trim(text) == ("Byddwn yn marcio beiciau yn y neuadd ddydd Sadwrn.\n\nGyda diolch,\n"
                          "Tîm Plismona Glanrafon")


def test_a_postscript_under_a_sign_off_is_the_writers():
    text = f"{ANSWER}\n\nThanks,\nAnn\n\nP.S. The van was there again this morning.\nIt had a new dent.\n"
    assert trim(text) == text.strip()


# Guards: what only looks like history or a signature stays -----------------------------------

def test_dash_lines_inside_the_writers_text_stay():
    text = ("Summary of what we agreed:\n------------------------------\n1. Speedwatch on Saturdays\n"
            "2. A stall at the Co-op\n------------------------------\nI'll send the rota soon.\n\n"
            "Regards\nGareth\n\n-- \nSgt 1187 Gareth Lloyd\n101\n")
    assert trim(text) == text.split("\n\n-- ")[0]


def test_a_from_line_inside_the_writers_text_stays():
    text = ("Here is the wording for the newsletter:\n\nTip of the month\nFrom: Hightown NPT\n"
            "Leave a light on a timer when you go out.\n\nRhian")
    assert trim(text) == text


def test_the_writers_own_quote_marked_lines_stay_above_the_history():
    text = ("Results from Saturday:\n\nTotal vehicles: 212\n> 35mph: 17\n> 40mph: 4\nHighest: 47mph\n\nAlun\n\n"
            "On Sat, 5 Dec 2026 at 08:02, Gareth <gareth@police.example> wrote:\n\n> Good luck today.\n")
    assert trim(text) == text.split("\n\nOn Sat")[0]


def test_an_afterthought_under_a_sign_off_is_the_writers():
    text = f"{ANSWER}\n\nThanks,\nAnn\n\nThe reg was WN21 ABC\nand the van was white\n"
    assert trim(text) == text.strip()


def test_a_link_the_client_wrapped_out_of_the_quote_is_not_an_answer():
    text = ("Blah\n\nOn Monday, 24 September, 2012 at 3:46 PM, bob wrote:\n\n> [Ticket #50] test\n>\n"
            "> View ticket (http://example.com/action\n_nonce=3dd518)\n>\n")
    assert trim(text) == "Blah"


def test_point_by_point_answers_without_blank_lines_under_an_attribution_are_kept():
    text = "On Mon, 7 Dec 2026 at 10:00, PC Jones <pc@police.example> wrote:\n> Which night?\nTuesday.\n> A car?\nNo.\n"
    assert lines(trim(text)) == ["Tuesday.", "No."]


# Mobile lines and footers in both languages ---------------------------------------------------

def test_outlook_mobile_lines_in_welsh_and_with_their_link_go():
    assert trim("Diolch, fe wna i.\n\nCael Outlook ar gyfer Android\n") == "Diolch, fe wna i."
    assert trim("Will do.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n") == "Will do."


def test_welsh_disclaimers_go():
    for footer in ("Mae'r neges hon yn gyfrinachol ac wedi'i bwriadu ar gyfer y derbynnydd yn unig.",
                   "Ymwadiad: Barn yr awdur yw unrhyw farn a fynegir.",
                   "Os ydych wedi derbyn y neges hon mewn camgymeriad, rhowch wybod i ni."):
        assert trim(f"Byddwn yno ddydd Gwener.\n\n{footer}\n") == "Byddwn yno ddydd Gwener."


def test_a_print_footer_goes_and_the_sign_off_above_it_stays():
    for footer in ("Please consider the environment before printing this email.",
                   "Ystyriwch yr amgylchedd cyn argraffu'r e-bost hwn."):
        assert trim(f"{ANSWER}\n\nKind regards,\nTom\n\n{footer}\n") == f"{ANSWER}\n\nKind regards,\nTom"


def test_more_sign_offs_stay_above_their_signature_block():
    for sign_off in ("Take care,", "All the best,", "With thanks,", "Hwyl fawr,", "Diolch yn fawr,"):
        text = f"{ANSWER}\n\n{sign_off}\nAnn\n\nAnn Jones\nChair, Hill Street Residents' Association\n"
        assert trim(text) == f"{ANSWER}\n\n{sign_off}\nAnn"


def test_the_writers_own_quote_marked_lines_right_above_the_attribution_stay():
    text = ("Speeds on Saturday:\n> 35mph: 17\n> 40mph: 4\n\n"
            "On Mon, 7 Dec 2026 at 10:00, PC Jones <pc@police.example> wrote:\n> Send the speeds.\n")
    assert trim(text) == "Speeds on Saturday:\n> 35mph: 17\n> 40mph: 4"


def test_a_quoted_attribution_under_the_text_is_still_history():
    text = ("Will do.\n\n> On 8 Dec 2026, at 10:00, Hightown Neighbourhood Policing Team\n"
            "> <npt@police.example> wrote:\n>\n> Can you send the photo?\n")
    assert trim(text) == "Will do."


def test_a_sign_off_stays_above_a_signature_block_glued_under_it():
    text = f"{ANSWER}\n\nKind regards,\nSian Roberts\nPCSO 5520\nHightown Neighbourhood Policing Team\n101\n"
    assert trim(text) == f"{ANSWER}\n\nKind regards,\nSian Roberts"


def test_a_sign_off_with_the_known_senders_name_still_goes_with_its_block():
    text = f"{ANSWER}\n\nKind regards,\nSian\n\nPCSO 5520 Sian Roberts\nHightown Neighbourhood Policing Team\n101\n"
    assert trim(text, sender="Sian Roberts") == ANSWER


def test_views_and_monitoring_disclaimers_go_in_both_languages():
    for footer in ("Any views or opinions expressed in this email are those of the author alone.",
                   "Emails sent to and from the Force may be monitored and recorded.",
                   "Barn yr awdur yw unrhyw farn a fynegir yn y neges hon.",
                   "Gall negeseuon e-bost i'r Heddlu ac oddi wrtho gael eu monitro a'u cofnodi."):
        assert trim(f"Byddwn yno ddydd Gwener.\n\nDiolch,\nHuw\n\n{footer}\n") == "Byddwn yno ddydd Gwener.\n\nDiolch,\nHuw"
