"""Signatures, as the trimmer takes them off the end of a reply's new text.

Pure functions over lines. What goes: a "-- " delimiter and what follows it, "Sent from my ..."
lines, confidentiality footers (the Welsh Language Standards statement among them), the signature
block under a sign-off (the sign-off is the writer's and stays), a closing "Regards,\\nName" when
nothing else is under it (then it is the signature), a few short lines with contact details,
and, when the sender's name is known, a block signed with it. gateway.mail.trim calls
`without_signature` once the quoted history is gone.
"""

from __future__ import annotations

import re

INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u200b\ufeff"), None) | {0xA0: " "}

SIGNATURE_DELIMITER = re.compile(r"^(--\s*|—+)$")
# "Sent from my iPhone", "Get Outlook for Android", "Anfonwyd o fy iPhone": short, no sentence.
MOBILE = re.compile(
    r"^\s*(sent from|sent with|sent using|sent via|get outlook for|envoyé de|envoyé depuis|envoyé avec|"
    r"enviado desde|enviado de|enviado con|enviado do|von meinem|gesendet von|gesendet mit|"
    r"verzonden (met|vanaf|van)|verstuurd (met|vanaf|van)|skickat från|sendt fra|wysłane z|wysłano z|"
    r"anfonwyd o|anfonwyd gyda|cael outlook ar gyfer|inviato da|inviato dal|отправлено с|отправлено из|"
    r"lähetetty)\s+[\w®™'’.()&+ -]{1,40}?\s*(<https?://[^\s>]{1,100}>)?\s*$", re.IGNORECASE)
FOOTER = re.compile(
    r"^\s*(\W{0,3}\s*)?(this (e-?mail|message|communication)( and any (files|attachments)[^.]{0,40})? "
    r"(is|are|may be|may contain|contains?|and its attachments) |the information (contained )?in this "
    r"(e-?mail|message)|confidentiality notice|disclaimer:|privileged (and|&) confidential|"
    r"mae'r e-?bost hwn|rhybudd:|if you (have received|are not the intended)|"
    r"any (views|opinions) (or opinions )?(expressed|presented) (in this (e-?mail|message) )?are (those|solely)|"
    r"(all )?(e-?mails?|communications?) (sent )?(to (and|or) from|from (and|or) to) .{0,60}"
    r"(may|will) be (monitored|recorded)|"
    r"mae'r neges( e-?bost)? hon|mae'r wybodaeth (sydd )?yn yr e-?bost hwn|ymwadiad:|barn yr awdur yw|"
    r"gall negeseuon e-?bost .{0,60}gael eu (monitro|cofnodi)|"
    r"os (nad chi yw'r derbynnydd|ydych wedi derbyn (yr e-?bost|y neges) h[wo]n)|"
    # The Welsh Language Standards statement of Welsh public bodies, in either language.
    r"rydym yn croesawu gohebiaeth|we welcome correspondence in welsh|"
    r"please consider the environment before printing|think before you print|"
    r"ystyriwch yr amgylchedd cyn argraffu|meddyliwch cyn argraffu)", re.IGNORECASE)
VALEDICTION_WORDS = (
    r"kind(est)? regards|best regards|warm(est)? regards|regards|best wishes|best|"
    r"many thanks|sincerely|yours (sincerely|faithfully|truly)|yours|cheers|"
    r"pozdrawiam|z poważaniem|z powazaniem|pozdrowienia|"
    r"med venlig hilsen|venlig hilsen|kærlig hilsen|kh|mvh|vennlig hilsen|med vennlig hilsen|hilsen|"
    r"med vänliga hälsningar|vänliga hälsningar|hälsningar|"
    r"mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|gruß|lg|"
    r"cordialement|bien à vous|salutations|"
    r"saludos|un saludo|atentamente|cumprimentos|atenciosamente|"
    r"met vriendelijke groet(en)?|vriendelijke groet(en)?|groeten|groet|"
    r"cordiali saluti|distinti saluti|saluti|"
    r"cofion( cynnes| gorau)?|yn gywir|gyda dymuniadau gorau|"
    r"с уважением|よろしくお願いします")
VALEDICTION = re.compile(rf"^\s*({VALEDICTION_WORDS})\s*[,.!]?\s*$", re.IGNORECASE)
VALEDICTION_LIKE = re.compile(rf"^\s*(thanks?( you)?( again)?|thx|with (many |best )?thanks|all the best|take care|"
                              rf"(gyda )?diolch( yn fawr)?|(pob )?hwyl( fawr)?|{VALEDICTION_WORDS})"
                              r"\s*[,.!]?\s*$", re.IGNORECASE)
NAME_LINE = re.compile(r"^\s*[^\W\d_][\w.'-]*( [\w.'-]+){0,3}\s*$")
DASH_NAME = re.compile(r"^\s*[-/~]\s?[A-Z][\w.'-]*( [\w.'-]+){0,2}\s*$")
CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|https?://|www\.|(?:\+44\s?|\b0|\(\d{3}\)\s?)\d{2,4}[\s.-]?\d{3}"
                     r"[\s.-]?\d{3,4}\b|\b\d{3}-\d{3}-\d{4}\b")
RULE = re.compile(r"-{4,}")
MAX_SIGNATURE_LINES = 8
MAX_FOOTER_LINES = 20       # lines with text under a "-- " or a footer's first line, at most


def without_signature(lines: list[str], sender: str) -> list[str]:
    """The lines of a reply without its signature, mobile line, footer or closing block."""
    cut = False
    for i, line in enumerate(lines):
        clean = line.translate(INVISIBLE).rstrip()
        # Only when what follows is the size of a signature or footer: a line of prose that
        # reads like one ("This email is to confirm...") in a long answer is not its end.
        if i and (SIGNATURE_DELIMITER.match(clean) or FOOTER.match(clean)) and _has_text(lines[:i]) \
                and sum(1 for rest in lines[i + 1:] if rest.strip()) <= MAX_FOOTER_LINES:
            lines, cut = lines[:i], True
            break
        if MOBILE.match(clean) and _has_text(lines[:i]) and not _has_text(lines[i + 1:i + 3]):
            lines, cut = lines[:i], True
            break
    for _ in range(3):  # a list footer under a signature under the text: peel them one by one
        # A closing "Regards,\nName" is the signature only when nothing of the kind is under it.
        shorter = _without_trailing_block(lines, sender, closing=not cut)
        if len(shorter) == len(lines):
            break
        lines, cut = shorter, True
    return lines


def _without_trailing_block(lines: list[str], sender: str, closing: bool) -> list[str]:
    """Drop a closing block: the signature block under a sign-off, 'Regards,\\nName' when it is
    `closing` the message, '-Name', a few short lines with contact details, or a block signed
    with the sender's name."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        return lines
    filled = [i for i, line in enumerate(lines) if line.strip()]
    tail = filled[-2 * MAX_SIGNATURE_LINES:]
    names = _sender_names(sender)
    for k, i in enumerate(tail):
        clean = lines[i].translate(INVISIBLE).strip()
        block = [lines[j] for j in tail[k:]]   # the lines with text from here to the end
        if filled[0] >= i:   # no text above
            continue
        if RULE.fullmatch(clean) and lines[i - 1].strip() == "" and any(CONTACT.search(b) for b in block):
            return lines[:i]
        if len(block) > MAX_SIGNATURE_LINES:
            continue
        if _signature_under_sign_off(lines, i, block):
            return lines[:i + 2]
        if closing and VALEDICTION.match(clean) and 1 < len(block) <= 5 and all(len(b) <= 100 for b in block[1:]) \
                and (NAME_LINE.match(block[1]) or any(CONTACT.search(b) for b in block)):
            return lines[:i]
        if names and len(clean) <= 60 and any(re.search(rf"\b{re.escape(n)}\b", clean.lower()) for n in names) \
                and len(block) <= MAX_SIGNATURE_LINES:
            start = i
            while start and lines[start - 1].strip() and i - start < 4:
                start -= 1
            if start and VALEDICTION_LIKE.match(lines[start - 1]):
                start -= 1
            if _has_text(lines[:start]):
                return lines[:start]
        if i == tail[-1] and DASH_NAME.match(clean) and len(clean) <= 30:
            return lines[:i]
        if lines[i - 1].strip() == "" and len(block) <= 6 and all(len(b) <= 80 for b in block) \
                and any(CONTACT.search(b) for b in block) and NAME_LINE.match(block[0]) \
                and not any(b.rstrip().endswith((".", "?", "!")) and len(b.split()) > 6 for b in block):
            return lines[:i]
    return lines


def _signature_under_sign_off(lines: list[str], i: int, block: list[str]) -> bool:
    """'Kind regards,\\nSian', then (after a blank line or glued under it) a block of short lines
    that say no sentence (name and rank, team, force, telephone): the sign-off is the writer's,
    the block is not."""
    if not (VALEDICTION_LIKE.match(lines[i]) and len(block) > 2 and NAME_LINE.match(lines[i + 1])
            and i + 2 < len(lines)):
        return False
    return all(_signature_line(b) for b in block[2:])


CONNECTIVES = {"and", "the", "for", "of", "a'r", "ac", "yr", "ext"}


def _signature_line(line: str) -> bool:
    """A line of a signature block: contact details, or a name, rank, role or organisation,
    which have few lower-case words ('The reg was WN21 ABC' is an afterthought, not a role)."""
    line = line.strip()
    if len(line) > 100 or re.match(r"p\.?s\b", line, re.IGNORECASE) or (
            line.endswith((".", "?", "!")) and len(line.split()) >= 3):
        return False
    if CONTACT.search(line) or "|" in line:
        return True
    lower = [w for w in re.findall(r"[^\W\d_][\w'’]*", line) if w[0].islower() and w not in CONNECTIVES]
    return len(lower) < 2


TITLES = {"mr", "mrs", "ms", "miss", "dr", "pc", "psc", "sgt", "insp", "the", "team", "police"}


def _sender_names(sender: str) -> list[str]:
    """Lower-case forms of the sender's name to look for in a signature."""
    sender = sender.strip().lower()
    if not sender:
        return []
    if "@" in sender:
        return [sender]  # an address alone: its local part is too often a common word
    words = [w for w in re.split(r"[\s,]+", sender) if len(w) > 2 and w not in TITLES]
    return [sender] + words


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)
