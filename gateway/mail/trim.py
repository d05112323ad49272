"""Quoted-text trimming: keep what the writer just wrote, drop the history under it.

Pure functions over text. The model (after Mailgun's talon and GitHub's email_reply_parser):
each line is text, blank, quoted (">") or a *splitter*: the line a client writes above the
history it quotes ("On ... wrote:" in many languages, "-----Original Message-----", an
Outlook "From: / Sent: / To: / Subject:" block, a date-and-address attribution, Outlook's
line of underscores). The reply is the text above the first splitter or quote; text after
a ">" quote that closes the message (a sign-off under the quote) is kept too; a message that
starts with the quote (bottom-posting) keeps what follows it. Then the signature goes: a
"-- " delimiter, "Sent from my ..." lines, confidentiality footers, a closing
"Regards,\\nName" block, and, when the sender's name is known, a block signed with it (those
rules are in gateway.mail.signature).
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
    kinds = _inline_quotes_as_text([_kind(lines, i) for i in range(len(lines))])
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


def _inline_quotes_as_text(kinds: list[str]) -> list[str]:
    """A ">" quote with the writer's text right above and below it, and no attribution, is
    quoted inside the reply (answering point by point), not history under it: keep it."""
    i = 0
    while i < len(kinds):
        if kinds[i] != "quote":
            i += 1
            continue
        end = i
        while end < len(kinds) and kinds[end] in ("quote", "blank"):
            end += 1
        before = next((k for k in reversed(kinds[:i]) if k != "blank"), None)
        if before == "text" and end < len(kinds) and kinds[end] == "text":
            kinds[i:end] = ["text" if k == "quote" else k for k in kinds[i:end]]
        i = end
    return kinds


def _attribution(lines: list[str], i: int) -> bool:
    line = lines[i].translate(INVISIBLE)
    if len(line) > 400:
        return False
    # The cheap tests first: most lines are none of these, and the patterns are long.
    ends = line.rstrip().endswith((":", "--"))
    if ends and ATTRIBUTION.match(line) and (ATTRIBUTION_START.match(line) or EMAIL.search(line)
                                             or DATE.search(line) or re.match(r"^[\s-]*-{2,}", line)):
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
    before = lines[:cut]
    if any(k == "text" for k in kinds[:cut]):
        return before + _closing_text(lines, kinds, cut)
    # Nothing above the history: a bottom-posted reply, or a header block on top of the text.
    after = cut
    while after < len(lines) and kinds[after] in ("splitter", "quote", "blank"):
        after += 1
    if kinds[cut] == "splitter" and "quote" not in kinds[cut:after]:
        return _reply_lines(lines[after:], kinds[after:]) if after < len(lines) else []
    rest = lines[after:]
    rest_kinds = kinds[after:]
    if "splitter" in rest_kinds or "quote" in rest_kinds:
        return _reply_lines(rest, rest_kinds)
    return rest


def _closing_text(lines: list[str], kinds: list[str], cut: int) -> list[str]:
    """Unquoted text after a ">" quote that runs to the end (a reply wrapped round a quote)."""
    after = cut
    while after < len(lines) and kinds[after] in ("splitter", "quote", "blank"):
        after += 1
    if after >= len(lines) or "quote" not in kinds[cut:after]:
        return []
    if any(k in ("splitter", "quote") for k in kinds[after:]):
        return []
    return lines[after:]


def _first(kinds: list[str], wanted: tuple[str, ...]) -> int:
    return next((i for i, kind in enumerate(kinds) if kind in wanted), len(kinds))
