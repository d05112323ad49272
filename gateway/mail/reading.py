"""Text as a person reads it, with the way back to the text as written. Pure.

A `View` is a string and, for each of its characters, the span of the original text it was
read from, so that a match found in the view can be cut out of the original and everything
else is returned as it was written. `views(text)` gives the readings that matter for mail:

- Unicode normalised (NFKC), accents and invisible characters dropped (format characters
  such as soft hyphens, zero-width spaces and bidi controls, other controls, combining
  marks), dot-like characters (。 ・ ‧ · ᐧ ։ ¸ ∕ ...) read as ".", typographic quotes as '"',
  dashes inside words as "-", small capitals and common Cyrillic and Greek lookalikes as
  Latin letters;
- text forced right-to-left by U+202E read the way it is displayed (reversed);
- HTML entities decoded (`&#64;`, `&commat;`, and `&period` without its semicolon);
- and, since each of these can also hide an address, with l e t t e r s spaced out read as
  words (and a word hyphenated over a line break as one), with HTML tags dropped (and,
  separately, with what a browser hides dropped too: display:none, visibility:hidden,
  font-size:0, the hidden attribute, <script>, <style>) and with percent-encoding (`%40`,
  a fully encoded `mailto:`) decoded;
- and `skeleton(view)`: letters a reader confuses read as one (0/o, 1/l/I/i/|, rn/m, vv/w).

Which view holds an address is for the caller to decide (gateway.mail.scrub).
"""

from __future__ import annotations

import html
import html.entities
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

RLO, PDF = "\u202e", "\u202c"
_DOTS = ("\u3002\uff61\u2024\u2027\u30fb\uff65\u00b7\u0387\u2022\u2219\u22c5"   # 。｡․‧・･··•∙⋅
         "\u2e31\u2e33\u2e3c\ua4f8\u0701\u0702\u06d4\ufe52\u2981"
         "\u1427\u0589\u05c3\u00b8\u2215\u2e2e\u16eb\u10fb\u0964\u3001")   # ᐧ ։ ׃ ¸ ∕ ...
_ATS = "\uff20\ufe6b"
_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u301d\u301e\u301f\uff02\u00ab\u00bb"
_HYPHENS = "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"
# Letters that look like Latin ones in most fonts; a reader sees "pоlice" (Cyrillic о) as police.
_LOOKALIKES = dict(zip("аеорсухіјѕԁһӏԛԝАВЕКМНОРСТХІЈЅαικνορυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧıɑ",
                       "aeopcyxijsdhlqwABEKMHOPCTXIJSaikvopuxABEZHIKMNOPTYXia"))
# Small capitals (ᴘᴏʟɪᴄᴇ) are read as the letters they are small capitals of.
_SMALL_CAPITALS = {c: m.group(1).lower() for c in map(chr, [*range(0x250, 0x2b0), *range(0x1d00, 0x1d80),
                                                            *range(0xa730, 0xa7ff)])
                   if (m := re.fullmatch(r"LATIN LETTER SMALL CAPITAL ([A-Z])", unicodedata.name(c, "")))}
_FOLD = {**{c: "." for c in _DOTS}, **_SMALL_CAPITALS, **{c: "@" for c in _ATS}, **{c: '"' for c in _QUOTES},
         **{c: "-" for c in _HYPHENS}, **_LOOKALIKES}
_FILLERS = "\u115f\u1160\u3164\uffa0"   # Hangul fillers: letters that show nothing
_WHITE = "\t\n\r\x0b\x0c"

_PLAIN = frozenset("\t\n\r" + "".join(map(chr, range(0x20, 0x7f))))   # printable ASCII
_RLO_RUN_RE = re.compile(f"{RLO}([^{PDF}\\n]*)(?:{PDF}|$)", re.MULTILINE)
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
# L e t t e r s spaced out ("(p c" too), and a word hyphenated over a line break.
_SPACED_RE = re.compile(r"(?<!\w)\w(?: \S)+(?!\w)|(?<=\w)-[ \t]*\r?\n[ \t]*(?=\w)")
# A tag, but not <at> or <dot>: those are an address's at and dot spelled out.
_TAG_RE = re.compile(r"<!--.*?-->|</?(?!(?:at|dot)\s*>)[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>",
                     re.DOTALL | re.IGNORECASE)
_PERCENT_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# What a browser does not show: an element hidden by its style or attribute, scripts, styles.
_HIDDEN_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<([A-Za-z][A-Za-z0-9]*)\b[^<>]*?(?:\shidden\b|style\s*=\s*"
                        r"[\"'][^\"']*?(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])))"
                        r"[^<>]*>.*?</\2\s*>", re.DOTALL | re.IGNORECASE)
# Letters a reader confuses (after Unicode TR39's skeletons): 0 and o; 1, l, I, i and |; rn and m; vv and w.
_SKELETON_RE = re.compile(r"(?i:rn|vv)")
_SKELETON_ONE = str.maketrans("01Iil|L", "ollllll")   # one for one: positions kept


@dataclass(frozen=True)
class View:
    """`text` as read; its character i came from original[starts[i]:ends[i]] (None: itself)."""

    text: str
    starts: Sequence[int] | None = None
    ends: Sequence[int] | None = None

    def origin(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view characters [start, end) were read from."""
        if self.starts is None or self.ends is None:
            return start, end
        return min(self.starts[start:end]), max(self.ends[start:end])

    def _maps(self) -> tuple[Sequence[int], Sequence[int]]:
        if self.starts is None or self.ends is None:
            return range(len(self.text)), range(1, len(self.text) + 1)
        return self.starts, self.ends


def views(text: str) -> list[View]:
    """The readings of `text` a person could see an address in (see the module docstring)."""
    found = [_entities_decoded(_folded(_reversed_runs(View(text))))]
    # Each of these can hide an address, and each can hide the next: %3Cb%3E is a tag.
    for step in (_percent_decoded, _tags_dropped, _hidden_dropped, _squeezed):
        found += [v for v in map(step, found) if all(v is not w for w in found)]
    return found


def skeleton(view: View) -> View:
    """`view` with letters a reader confuses read as one: "po1ice.exarnple" as "pollce.example"."""
    one_for_one = View(view.text.translate(_SKELETON_ONE), view.starts, view.ends)
    return _rewritten(one_for_one, _SKELETON_RE, lambda m: "m" if m.group() in ("rn", "RN", "rN", "Rn") else "w")


def skeleton_of(text: str) -> str:
    """The skeleton of a plain text (a domain), to compare with a `skeleton` view; also a
    cheap test of whether a view's skeleton is worth building."""
    text = text.translate(_SKELETON_ONE).lower()
    return text.replace("rn", "m").replace("vv", "w") if "rn" in text or "vv" in text else text


def rlo_runs(text: str) -> list[tuple[int, int]]:
    """Spans of text forced right-to-left (U+202E to its U+202C or the line's end), controls included."""
    return [m.span() for m in _RLO_RUN_RE.finditer(text)]


@lru_cache(maxsize=8192)
def read_char(char: str) -> str:
    """What a reader takes one character for: "" for what shows nothing."""
    if char in _FOLD:   # before normalising: NFKC reads a cedilla "¸" as a space and a mark
        return _FOLD[char]
    out = []
    for c in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", char)):
        kind = unicodedata.category(c)
        if kind in ("Cf", "Mn", "Me") or (kind == "Cc" and c not in _WHITE) or c in _FILLERS:
            continue
        out.append(_FOLD.get(c, c))
    return "".join(out)


def _folded(view: View) -> View:
    readings = {c: read_char(c) for c in set(view.text) - _PLAIN}
    # A character read as one other character keeps its place, and str.replace is the fast way.
    text = view.text
    for c, r in readings.items():
        if len(r) == 1 and r != c:
            text = text.replace(c, r)
    view = View(text, view.starts, view.ends) if text is not view.text else view
    others = "".join(re.escape(c) for c, r in readings.items() if len(r) != 1)
    return _rewritten(view, re.compile(f"[{others}]"), lambda m: readings[m.group()]) if others else view


def _entities_decoded(view: View, rounds: int = 2) -> View:
    """Entities decoded, twice over if need be: "&amp;#64;" shows as "&#64;"."""
    if "&" not in view.text or not rounds:
        return view
    decoded = _rewritten(view, _ENTITY_RE, _unentity)
    # &#65312; is a full-width at
    return view if decoded is view else _entities_decoded(_folded(decoded), rounds - 1)


def _unentity(match: re.Match) -> str:
    """The character an entity stands for; "&PERIOD;" is read as "&period;" would be."""
    entity = match.group()
    decoded = html.unescape(entity)
    if decoded == entity:
        decoded = html.unescape(entity.lower())
    if decoded == entity.lower() and not entity.endswith(";") and not entity.startswith("&#"):
        return _unterminated(entity)
    return decoded


def _unterminated(entity: str) -> str:
    """"&period.example": the longest entity name it starts with, as if ";" followed."""
    for end in range(len(entity), 2, -1):
        if (entity[1:end] + ";").lower() in _ENTITY_NAMES:
            return html.unescape(entity[:end].lower() + ";") + entity[end:]
    return entity


_ENTITY_NAMES = frozenset(name.lower() for name in html.entities.html5 if name.endswith(";"))


def _tags_dropped(view: View) -> View:
    return _rewritten(view, _TAG_RE, lambda m: "") if "<" in view.text else view


def _hidden_dropped(view: View) -> View:
    """What a browser shows: hidden elements, scripts and styles dropped, then the tags; and
    what the hidden text split read again ("&<span hidden>x</span>#64;", "%<i hidden>x</i>40")."""
    if "<" not in view.text:
        return view
    shown = _tags_dropped(_rewritten(view, _HIDDEN_RE, lambda m: ""))
    return _percent_decoded(_entities_decoded(_folded(shown)))


def _squeezed(view: View) -> View:
    return _rewritten(view, _SPACED_RE, lambda m: "" if m.group()[0] == "-" else m.group().replace(" ", ""))


def _percent_decoded(view: View, rounds: int = 2) -> View:
    """Percent-encoding decoded, twice over if need be (%2540 is %40), then entities: %26%2346%3B is &#46;."""
    decoded = _rewritten(view, _PERCENT_RE, _unpercent) if "%" in view.text and rounds else view
    return view if decoded is view else _percent_decoded(_entities_decoded(_folded(decoded)), rounds - 1)


def _unpercent(match: re.Match) -> str | None:
    try:
        return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _reversed_runs(view: View) -> View:
    """Text after U+202E is displayed reversed; read it so."""
    if RLO not in view.text:
        return view
    text, (starts, ends) = view.text, view._maps()
    order = list(range(len(text)))
    for m in _RLO_RUN_RE.finditer(text):
        order[m.start(1):m.end(1)] = order[m.start(1):m.end(1)][::-1]
    return View("".join(text[i] for i in order), [starts[i] for i in order], [ends[i] for i in order])


def _rewritten(view: View, pattern: re.Pattern, replace: Callable[[re.Match], str | None]) -> View:
    """`view` with each match of `pattern` replaced (None: kept); a replacement is read from
    the whole of what it replaced. The same View when nothing changed."""
    text, (starts, ends) = view.text, view._maps()
    parts: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    last = 0
    for m in pattern.finditer(text):
        new = replace(m)
        a, b = m.span()
        if new is None or new == text[a:b]:
            continue
        parts.append(text[last:a])
        new_starts += starts[last:a]
        new_ends += ends[last:a]
        if new:   # (most replacements are deletions: tags, invisible characters)
            parts.append(new)
            new_starts += [min(starts[a:b])] * len(new)
            new_ends += [max(ends[a:b])] * len(new)
        last = b
    if not parts:
        return view
    parts.append(text[last:])
    new_starts += starts[last:]
    new_ends += ends[last:]
    return View("".join(parts), new_starts, new_ends)
