"""Quoted-text trimming: keep what the writer just wrote, drop the history under it.

Pure functions over text. The model (after Mailgun's talon and GitHub's email_reply_parser):
each line is text, blank, quoted (">") or a *splitter*: the line a client writes above the
history it quotes ("On ... wrote:" in many languages, "-----Original Message-----", an
Outlook "From: / Sent: / To: / Subject:" block, a date-and-address attribution, Outlook's
line of underscores). The reply is the text above the first splitter or quote, and the
writer's own unquoted lines between and after the ">" quotes under it: answers written point
by point inside the quote, a sign-off under it, a bottom-posted reply. History that is not
quoted (an Outlook header block over the old message) holds none of the writer's words. A ">"
quote inside the writer's text above the history is theirs and stays. Then the signature goes
(gateway.mail.signature): a "-- " delimiter, "Sent from my ..." lines, confidentiality
footers, a signature block under a sign-off (the sign-off stays), a closing "Regards,\\nName"
with nothing under it, and, when the sender's name is known, a block signed with it.
Forwarded messages are kept whole: what was forwarded is the point of them.

Never trims to nothing: if nothing would be left, the whole text is kept.
bench/trim_corpus.py measures it against public corpora (figures in bench/RESULTS.md).
"""

from __future__ import annotations

import re

from gateway.mail.signature import INVISIBLE, without_signature

WROTE = (r"wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|schreef|het volgende geschreven|"
         r"ha scritto|escreveu|skrev|napisał\(a\)|napisała|napisał|ysgrifennodd|написал\(а\)|"
         r"написала|написал|kirjoitti|napsal|írta|yazdı|写道|のメッセージ|が書きました")
# "On <date>, <name> wrote:" and its translations, possibly dressed in dashes ("---- X wrote ----").
ATTRIBUTION = re.compile(rf"^[\s>-]*\S.{{0,400}}?\b({WROTE})[^\n]{{0,80}}?(:|-{{2,}})\s*$",
                         re.IGNORECASE | re.DOTALL)
ATTRIBUTION_START = re.compile(
    r"^[\s-]*(on|am|le|el|op|il|em|den|på|w dniu|ar|el día|dne|в|\d)\b", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b\d{1,2}:\d{2}\b|"
                  r"\b(19|20)\d{2}\b", re.IGNORECASE)
# "26.06.2014, 14:41, "Alexander L" <abc@example.com>:" and "2011/4/7 Nathan <n@example.com>"
DATED_ADDRESS = re.compile(r"^\s*(\w{3},?\s+)?\d{1,4}[./\s-]\s*\w{1,9}[./\s-]\s*\d{1,4}\b.{0,120}"
                           r"(<?[\w.+'-]+@[\w-]+(\.[\w-]+)+>?)\s*:?\s*$", re.IGNORECASE)
SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|reply message|antwort nachricht|ursprüngliche nachricht|"
    r"message d'origine|mensaje original|oorspronkelijk bericht|oprindelig meddelelse|"
    r"opprinnelig melding|ursprungligt meddelande|alkuperäinen viesti|původní zpráva|"
    r"wiadomość oryginalna|oryginalna wiadomość|исходное сообщение|messaggio originale|"
    r"mensagem original|neges wreiddiol|[\w ]{0,30}message[\w ]{0,10})\s*-{2,}\s*$", re.IGNORECASE)
FORWARD = re.compile(r"^\s*(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré|"
                     r"mensaje reenviado|doorgestuurd bericht|videresendt meddelelse|"
                     r"vidarebefordrat meddelande|neges wedi'i hanfon ymlaen)\s*-{2,}|"
                     r"begin forwarded message:)\s*$", re.IGNORECASE)
UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
HEADER_NAMES = (
    "from|sent|date|to|subject|cc|reply-to|"
    "von|gesendet|datum|an|betreff|"                    # de
    "de|envoyé|date|à|objet|"                            # fr
    "van|verzonden|aan|onderwerp|"                       # nl
    "da|inviato|inviato il|a|oggetto|"                   # it
    "enviado|enviado el|para|asunto|assunto|"            # es, pt
    "fra|sendt|til|emne|"                                # da, no
    "från|skickat|till|ämne|"                            # sv
    "od|wysłano|wysłane|do|temat|data|"                  # pl
    "от|отправлено|дата|кому|тема|"                      # ru
    "差出人|送信日時|宛先|件名|"                          # ja
    "lähettäjä|lähetetty|vastaanottaja|aihe|"            # fi
    "oddi wrth|gan|anfonwyd|at|pwnc|dyddiad")            # cy
HEADER = re.compile(rf"^\s*[*>]?\s*({HEADER_NAMES})\s*:\*?\s*(\S|$)", re.IGNORECASE)
HEADER_ANCHOR = re.compile(
    r"^\s*[*>]?\s*(from|date|sent|von|de|van|da|fra|från|od|от|差出人|lähettäjä|oddi wrth|gan|"
    r"datum|dyddiad|gesendet|envoyé|verzonden|wysłano|отправлено|送信日時)\s*:", re.IGNORECASE)

MAX_LINES = 5000            # a pathological message is scanned only this far


def trim(text: str, sender: str = "") -> str:
    """The new text of a reply, without quoted history, signature or footer.

    `sender` is the writer's name or address when known; a closing block signed with it goes.
    """
    return _trim(text, sender) or text.strip()


def trim_html(markup: str, sender: str = "") -> str:
    """The new text of an HTML reply: blockquotes read as quoted lines, then `trim`."""
    from gateway.mail.parse import html_to_text
    return _trim(html_to_text(markup, quotes=True), sender) or html_to_text(markup)


def reply_text(msg, sender: str = "") -> str:
    """The new text of a parsed message, from its HTML when it has no plain text."""
    return trim_html(msg.html, sender) if msg.html else trim(msg.text, sender)


def _trim(text: str, sender: str) -> str:
    lines = _split_shared_lines(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")[:MAX_LINES]
    kinds = _inline_quotes_as_text(lines, [_kind(lines, i) for i in range(len(lines))])
    history = _first(kinds, ("splitter", "quote"))
    if "forward" in kinds[:history]:          # a forward: sign the note above it off, keep the rest
        at = kinds.index("forward")
        return "\n".join(without_signature(lines[:at], sender) + [""] + lines[at:]).strip()
    reply = _reply_lines(lines, kinds)
    reply = without_signature(reply, sender)
    # Trailing lines with no letter or digit: rules, and the invisible marks some clients
    # leave under a reply (Gmail's U+1427, for one).
    while reply and (not reply[-1].strip() or re.fullmatch(r"\s*[-_=*]{3,}\s*", reply[-1])
                     or re.fullmatch(r"\s*[^\x00-\x7f]\s*", reply[-1].translate(INVISIBLE))):
        reply.pop()
    return "\n".join(reply).strip()


def _split_shared_lines(text: str) -> str:
    """'bla-bla--- On Wed, ... wrote:' -> two lines, so the splitter stands on its own."""
    return re.sub(r"(?m)(?<=\S)(-{3,}\s*On\s.{0,200}?\bwrote:)", r"\n\1", text)


def _kind(lines: list[str], i: int) -> str:
    line = lines[i].translate(INVISIBLE)
    stripped = line.strip()
    if not stripped:
        return "blank"
    if FORWARD.match(line):
        return "forward"
    if stripped.startswith(">") and not _attribution(lines, i):
        return "quote"
    if SEPARATOR.match(line) or UNDERSCORES.match(line) or _attribution(lines, i) or _header_block(lines, i):
        return "splitter"
    return "text"


def _inline_quotes_as_text(lines: list[str], kinds: list[str]) -> list[str]:
    """A ">" quote with the writer's text right above it, and more of their text or the start
    of the history (an unquoted attribution or header block) below it, is the writer's: quoted
    inside the reply (answering point by point, or a log they pasted), not history. Only above
    the history: a quote after an attribution, or in a message that starts with one, is what
    the writer answered (their answers between the quotes are kept by `_answers`)."""
    history = _first(kinds, ("splitter",))
    if _first(kinds, ("text",)) > _first(kinds, ("quote", "splitter")):
        return kinds
    i = 0
    while i < history:
        if kinds[i] != "quote":
            i += 1
            continue
        end = i
        while end < len(kinds) and kinds[end] in ("quote", "blank"):
            end += 1
        before = next((k for k in reversed(kinds[:i]) if k != "blank"), None)
        below = kinds[end] if end < len(kinds) else "end"
        if before == "text" and (below == "text" or below == "splitter" and not lines[end].lstrip().startswith(">")):
            kinds[i:end] = ["text" if k == "quote" else k for k in kinds[i:end]]
        i = end
    return kinds


def _attribution(lines: list[str], i: int) -> bool:
    line = lines[i].translate(INVISIBLE)
    if len(line) > 400:
        return False
    # The cheap tests first: most lines are none of these, and the patterns are long.
    ends = line.rstrip().endswith((":", "--"))
    if ends and ATTRIBUTION.match(line) and not _prose_after_verb(line) and (
            ATTRIBUTION_START.match(line) or EMAIL.search(line) or DATE.search(line)
            or re.match(r"^[\s-]*-{2,}", line)):
        return True
    # A date-and-address attribution, which clients wrap after "<" or before the address.
    has_at = ["@" in part for part in lines[i:i + 3]]
    for width in (1, 2, 3):
        if not any(has_at[:width]):
            continue
        joined = "".join(part.translate(INVISIBLE).strip() + ("" if part.rstrip().endswith("<") else " ")
                         for part in lines[i:i + width]).strip()
        if DATED_ADDRESS.match(joined) and (width == 1 or joined.endswith(":")):
            return True
    if line.rstrip().endswith(":") and EMAIL.search(line) and DATE.search(line) and len(line) < 200:
        return True
    # Any attribution the client wrapped over two or three lines (Dutch "... schreef ... het" /
    # "volgende geschreven:", German "... schrieb am Fr., 28." / "Apr. 2017 um 11:53 Uhr:"), told
    # by what follows: the quoted history itself.
    if _wrapped_attribution(lines, i):
        return True
    # "On <date>, <name>" wrapped by the client over several short lines up to "... wrote:"
    if ATTRIBUTION_START.match(line) and DATE.search(line) and not line.rstrip().endswith((".", "?", "!")):
        joined = line
        for nxt in lines[i + 1:i + 6]:
            nxt = nxt.translate(INVISIBLE)
            if nxt.lstrip().startswith(">") and not re.match(r"^\s*>\s*wrote:", nxt):
                return False
            joined = f"{joined} {nxt.strip()}"
            if re.search(rf"\b({WROTE})\b\s*:?\s*$", nxt.strip(), re.IGNORECASE):
                return len(joined) < 500
    return False


def _prose_after_verb(line: str) -> bool:
    """'... I wrote it down in the log book like you suggested:' is the writer's sentence: after
    the verb an attribution has at most a name and an address ('schrieb Hans <h@x.de>:')."""
    match = ATTRIBUTION.match(line)
    tail = line[match.end(1):].rstrip().rstrip(":-").strip() if match else ""
    return len(tail.split()) >= 5 and not re.search(r"[@<\d]", tail)


def _wrapped_attribution(lines: list[str], i: int) -> bool:
    first = lines[i].translate(INVISIBLE)
    if not first.strip() or first.lstrip().startswith(">") or (i and lines[i - 1].strip()):
        return False   # an attribution stands apart: at the top, or after a blank line
    if not (ATTRIBUTION_START.match(first) or EMAIL.search(first) or DATE.search(first)):
        return False
    for width in (2, 3):
        block = [part.translate(INVISIBLE) for part in lines[i:i + width]]
        if len(block) < width or any(not part.strip() or part.lstrip().startswith(">") for part in block):
            return False
        joined = "".join(part.strip() + ("" if part.rstrip().endswith("<") else " ") for part in block).strip()
        if not joined.endswith(":") or len(joined) > 500:
            continue
        after = next((line for line in lines[i + width:i + width + 3] if line.strip()), "")
        if after.lstrip().startswith(">") and ATTRIBUTION.match(joined) and (
                ATTRIBUTION_START.match(joined) or EMAIL.search(joined) or DATE.search(joined)):
            return True
    return False


def _header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style header block starts here: a From/Date/Sent line and at least one more
    header line among the next few (blank lines between them allowed)."""
    if not HEADER_ANCHOR.match(lines[i].translate(INVISIBLE)):
        return False
    seen = 0
    for nxt in lines[i + 1:i + 9]:
        nxt = nxt.translate(INVISIBLE)
        if HEADER.match(nxt):
            seen += 1
            if seen >= 2 or (seen >= 1 and re.search(r"\b(sent|subject|to|gesendet|betreff)\s*:", nxt, re.I)):
                return True
    return False


def _reply_lines(lines: list[str], kinds: list[str]) -> list[str]:
    cut = _first(kinds, ("splitter", "quote"))
    if cut == len(lines):
        return lines
    answers = _answers(lines, kinds, cut)
    if any(k == "text" for k in kinds[:cut]):
        return lines[:cut] + answers
    if answers:   # bottom-posted, or answered point by point under the attribution
        return answers
    # Nothing above the history and nothing under a quote: a header block on top of the text.
    after = cut
    while after < len(lines) and kinds[after] in ("splitter", "quote", "blank"):
        after += 1
    if kinds[cut] == "splitter" and "quote" not in kinds[cut:after]:
        return _reply_lines(lines[after:], kinds[after:]) if after < len(lines) else []
    return []


def _answers(lines: list[str], kinds: list[str], cut: int) -> list[str]:
    """The writer's own lines inside the history from `cut`: the unquoted text between and
    after the ">" quotes that follow an attribution or header block (answers point by point,
    a sign-off under the quote). History that is not quoted (an Outlook header over the old
    message) holds none of theirs."""
    kept: list[str] = []
    i = cut
    while i < len(lines) and kinds[i] != "forward":
        i = _past_header(lines, kinds, i)
        if i >= len(lines) or kinds[i] != "quote":
            break
        while i < len(lines) and (kinds[i] in ("quote", "blank") or lines[i].lstrip().startswith(">")):
            i += 1
        start = i
        while i < len(lines) and kinds[i] in ("text", "blank"):
            i += 1
        block = lines[start:i]
        while block and not block[-1].strip():
            block.pop()
        if block and not _wrapped_out_of_quote(lines, start, i):
            kept += ([""] if kept else []) + block
    return kept


def _wrapped_out_of_quote(lines: list[str], start: int, end: int) -> bool:
    """One line glued between two quoted lines that carries on the one above it (a link or a
    sentence the client wrapped without its ">"), not an answer."""
    above, line = lines[start - 1].rstrip(), lines[start].strip()
    return end == start + 1 and end < len(lines) and lines[end].lstrip().startswith(">") \
        and above.lstrip().startswith(">") and not above.endswith((".", "?", "!", ":", ";")) \
        and not line[:1].isupper()


def _past_header(lines: list[str], kinds: list[str], i: int) -> int:
    """The first line after the attribution or header block at `i`: blank lines, and the
    To:/Subject: lines of a header block (wrapped or not) under its From:/Sent:, are part of it."""
    header = False
    while i < len(lines):
        line = lines[i].translate(INVISIBLE)
        wrapped = header and kinds[i - 1] != "blank" and (line[:1].isspace() or (
            i + 1 < len(lines) and HEADER.match(lines[i + 1].translate(INVISIBLE))))
        if kinds[i] in ("splitter", "blank") or (header and (HEADER.match(line) or wrapped)):
            header = header or kinds[i] == "splitter"
            i += 1
            continue
        break
    return i


def _first(kinds: list[str], wanted: tuple[str, ...]) -> int:
    return next((i for i, kind in enumerate(kinds) if kind in wanted), len(kinds))
