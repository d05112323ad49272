"""Police addresses out of text that goes to a resident. Pure.

Officers' own addresses never reach residents: not in a signature, not in a forwarded line,
not as a mailto link. The rule is a property, not a list of spellings: wherever a reader
would see an address whose domain is a police domain, under one, or starting with one
("pc@police.example.com" reads as the police's), the address is replaced. To find them the
text is read the way a person reads it (gateway.mail.reading: Unicode normalised, invisible
characters dropped, every dot-like and at-like character folded, lookalike letters, letters
spaced out, HTML entities and tags, percent-encoding, text forced right-to-left), and in
each reading a police domain is an address's domain when

- an at comes before it, after a local part: "@" with or without spaces, "at", "[at]",
  "(at)", "{at}", "<at>", "(a)", "(@)", "-at-", "%40"; the local part may be quoted
  ("pc evans"@...), the domain a literal (@[police.example]), "mailto:" before it all;
- or it is hidden in another address: the percent hack (npt%police.example@relay.example) or
  a bang path, either way round (police.example!pc.evans, pc.evans!police.example).

Its labels may be joined by "." with or without spaces around it, "dot", "[dot]", "(dot)",
"[.]", "-dot-", a dot at the end of a line, doubled or escaped dots ("..", "\\."), or a word
for the dot in any case ("DOT", "full stop", "period", "point", "punto", "pwynt"). After a real
"@" they may also be joined by a space, a comma or any other punctuation, and a label may have
a space in it ("pc@police example", "pc@police.ex ample"): only there, so that "police" and
"example" as ordinary words stay. The at may also be "yn" (Welsh), "arobase" or ", domain"
("user pc.jones, domain police.example"). Letters a reader confuses are compared as one, in
the spirit of Unicode TR39's skeletons: 0 and o; 1, l, I, i and |; rn and m; vv and w (and
small capitals are read as letters), in the text and in the police domains alike. A dot followed by a space ends a sentence,
not a label: "...@police.example. Thanks" keeps ". Thanks". A police domain on its own (a
website) is not an address and stays. Only the addresses are replaced: the rest of the text,
invisible characters and all, is returned as it was written.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from gateway.mail.reading import read_char, rlo_runs, skeleton, skeleton_of, views

REMOVED = "[address removed]"
WINDOW = 256   # how far back a local part is looked for (RFC 5321 allows 64 octets)

_OPEN, _CLOSE = r"[\[({<]", r"[\])}>]"
# Between a police domain's labels: "." (not ". ", which ends a sentence), " . ", a dot at
# the end of a line, "dot", "[dot]", "(dot)", "{dot}", "<dot>", "[.]", "-dot-", "_dot_".
# Also "dot" and its like typed out in any case and spacing, in a skeleton view too (so
# "per[il]od"): "DOT", "full stop", "full-stop", "period", "point", "punto", "pwynt"; and "..", "\.".
_DOT_WORD = r"(?:dot|ful[il]?[\s-]?stop|per[il]od|po[il]nt|punto|pwynt)"
DOT = (rf"(?:\s*\\?\.(?:\s*\.)*|\s+\.\s+|\.[ \t]*\r?\n[ \t]*|\s*{_OPEN}\s*(?:{_DOT_WORD}|\.)\s*{_CLOSE}\s*"
       rf"|\s*(?<![^\W\d_]){_DOT_WORD}(?![^\W\d_])\s*|\s+{_DOT_WORD}|{_DOT_WORD}\s+|\s*(?<=[a-z]){_DOT_WORD.upper()}(?=[a-z])\s*|[-_]dot[-_])")
# Only after a real at ("@"): a space, a comma or any other punctuation where a dot belongs,
# and spaces inside a label ("pc@police example", "pc@police,example", "pc@police.ex ample").
_LOOSE_DOT = rf"(?:{DOT}|\s*[^\w\s@<>\"\[\](){{}}-]{{1,3}}\s*|\s+)"
LABEL = r"[\w-]+"
_HOST = rf"{LABEL}(?:\.{LABEL})*"

# What comes before a domain is matched backwards, on the reversed text, from the domain
# outwards: one anchored match, where a search ending at the domain would try every start.
# Read each pattern right to left. Before the domain: an optional "[" (a domain literal)
# after an at ("@", " @ ", "at", "[at]", "(a)", "(@)", "-at-", "%40") or a "%" or "!" (the
# domain is hidden in another address); then the local part, quoted or in chunks joined by
# " . ", "dot", "[dot]" and the like (or, failing those, what sticks to the at); then
# perhaps "mailto:". A chunk has no "{", "|", "/" and does not start with "." so that each
# boundary has one reading and matching stays linear.
_R_SPELLED_DOT = rf"\s*{_CLOSE}\s*(?:tod|\.)\s*{_OPEN}\s*|\s+tod\s+|[-_]tod[-_]"
_R_DOT_WORD = r"(?:tod|pots[\s-]?[il]?[il]uf|do[il]rep|tn[il]op|otnup|tnywp)"   # _DOT_WORD reversed
_R_DOT = (rf"(?:(?:\.\s*)+\\?|\s+\.\s+|[ \t]*\n\r?[ \t]*\.|{_R_SPELLED_DOT}"
          rf"|\s+{_R_DOT_WORD}\s*|\s*{_R_DOT_WORD}\s+)")
_R_AT = rf"(?:\s*@\s*|\s*{_CLOSE}\s*(?:ta|@|a)\s*{_OPEN}\s*|(?P<word_at>\s+(?:ta|ny|esabora)\s+)|\s+:?n[il]amod\s*,?\s*|[-_]ta[-_]|04%)"
_R_CHUNK = r"[\w.!#$%&'*+=?^~-]*[\w!#$%&'*+=?^~-]"
_R_LOCAL = (rf'(?:"[^"\n]{{0,64}}"|{_R_CHUNK}(?:(?:\s*\.\s+|{_R_SPELLED_DOT}){_R_CHUNK})*'
            r'|[^\s"<>()\[\],;:]{1,64})')   # the last: whatever else sticks to the at, "{pc}@"
_R_BEFORE_RE = re.compile(rf"(?:(?P<literal>\s*\[)?{_R_AT}|(?P<hidden>[%!]))(?P<local>{_R_LOCAL})(?:\s*:otliam)?",
                          re.IGNORECASE)
# A label stops at "-at-", and at a dot word with a space before it: "pc@north dotpolice.example".
_R_SUBDOMAINS_RE = re.compile(rf"(?:{_R_DOT}(?:(?![-_]ta[-_]|{_R_DOT_WORD}\s)[\w-])+)+", re.IGNORECASE)
_R_HOPS_RE = re.compile(rf"(?:!{_HOST})*")

_AT_BEFORE_RE = re.compile(r"@\s*\[?\s*(?:[\w-]+\.)*\Z")   # an "@", then perhaps subdomains with plain dots
_TIGHT_LABELS_RE = re.compile(r"(?:\.[\w-]+)*")
_WEBSITE_RE = re.compile(r"(?i:www\.)|[\w-]+(?:\.[\w-]+)+/")   # written plainly, as a web address
_LITERAL_END_RE = re.compile(r"\s*\]")
_HIDDEN_TAIL_RE = re.compile(rf"(?:[%!]{_HOST})*(?:\s*@\s*{_HOST})?")
# After the domain, a local part ends before sentence punctuation: "...!pc.evans! Thanks".
_BANG_AFTER_RE = re.compile(rf"(?:![\w%+=~-]+(?:\.[\w%+=~-]+)*)+(?:\s*@\s*{_HOST})?")


def police_addresses_removed(text: str, police_domains: tuple[str, ...]) -> str:
    """The text with every address in a police domain (or under one) replaced by REMOVED,
    however it is written; everything else as it was written."""
    names = _names(tuple(police_domains))
    if not names:
        return text
    spans = []
    for view in views(text):
        spans += _spans_in(view, names)
        # Read again with confusable letters as one (po1ice, exarnple), and with looser dots
        # after a real "@": each domain compared in the same skeleton.
        skeletons = _skeletons(names)
        if _any_first(skeleton_of(view.text), skeletons):   # building the skeleton view costs more
            spans += _spans_in(skeleton(view), skeletons, loose=True)
    return _replaced(text, _merged(spans, rlo_runs(text))) if spans else text


def _spans_in(view, names: tuple[str, ...], loose: bool = False) -> list[tuple[int, int]]:
    if not _any_first(view.text.lower(), names):   # the pattern is slow to search for
        return []
    spans = [view.origin(a, b) for a, b in _address_spans(view.text, _domains_pattern(names))]
    if loose:
        spans += [view.origin(a, b) for a, b in _address_spans(view.text, _domains_pattern(names, True), True)]
    return spans


def _any_first(lowered: str, names: tuple[str, ...]) -> bool:
    return any(name.split(".")[0] in lowered for name in names)


@lru_cache(maxsize=32)
def _skeletons(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(skeleton_of(name) for name in names)


@lru_cache(maxsize=32)
def _names(domains: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({_name(d) for d in domains} - {""}, key=len, reverse=True))


@lru_cache(maxsize=32)
def _domains_pattern(names: tuple[str, ...], loose: bool = False) -> re.Pattern:
    """Any of the domains `names` however its labels are joined (loosely: see _LOOSE_DOT)."""
    if loose:
        either = "|".join(_LOOSE_DOT.join(" ?".join(map(re.escape, label)) for label in name.split("."))
                          for name in names)
    else:
        either = "|".join(DOT.join(map(re.escape, name.split("."))) for name in names)
    # Not inside a longer name (evil-police.example), unless that is "-at-" or "_dot_".
    # The first letter before the lookbehinds: most places in a text fail at once.
    first = "[" + "".join(sorted({re.escape(name[0]) for name in names})) + "]"
    return re.compile(rf"(?={first})(?:(?<![\w-])|(?<=[-_]at[-_])|(?<=[-_]dot[-_])|{_AFTER_DOT_WORD})(?:{either})(?![\w-])",
                      re.IGNORECASE)


# "pc@north dotpolice.example": a dot word stuck to the police domain (each its own lookbehind).
_AFTER_DOT_WORD = "|".join(f"(?<=\\s{w})" for w in ("dot", "point", "polnt", "period", "perlod", "punto", "pwynt",
                                                  "fullstop", "full stop", "full-stop", "fulstop", "full-stop"))


def _name(domain: str) -> str:
    return "".join(map(read_char, domain)).strip().strip(".").lower()


def _address_spans(text: str, domain_re: re.Pattern, after_at: bool = False) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of each address whose domain matches `domain_re` (with
    `after_at`: only right after an "@")."""
    for match in domain_re.finditer(text):
        if after_at and not _AT_BEFORE_RE.search(text[max(0, match.start() - 64):match.start()]):
            continue
        start, end = _subdomains_start(text, match.start()), _TIGHT_LABELS_RE.match(text, match.end()).end()
        span = _with_local_part(text, start, end) or _with_bang_after(text, start, end)
        if span:
            yield span


def _backwards(text: str, start: int, pattern: re.Pattern) -> int | None:
    """Where a match of the backwards `pattern` ending at `start` begins, or None."""
    found = pattern.match(text[max(0, start - WINDOW):start][::-1])
    return start - found.end() if found else None


def _subdomains_start(text: str, start: int) -> int:
    begin = _backwards(text, start, _R_SUBDOMAINS_RE)
    return start if begin is None else begin


def _with_local_part(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The address when a local part and an at (or a % or ! hiding the domain) come before."""
    found = _R_BEFORE_RE.match(text[max(0, start - WINDOW):start][::-1])
    if not found or _a_website(found, text, start):
        return None
    if found.group("literal"):
        closing = _LITERAL_END_RE.match(text, end)
        end = closing.end() if closing else end
    elif found.group("hidden"):   # the rest of the address it hides in: "@relay.example"
        end = _HIDDEN_TAIL_RE.match(text, end).end()
    return start - found.end(), end


def _a_website(found: re.Match, text: str, start: int) -> bool:
    """"Find us at www.police.uk", "report it at police.uk/report": a word, the word "at", and
    a web address written plainly. (pc.jones at www.police.uk is still an address.)"""
    return bool(found.group("word_at") and found.group("local").isalpha() and _WEBSITE_RE.match(text, start))


def _with_bang_after(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The address when the domain is a host in a bang path: police.example!pc.evans."""
    after = _BANG_AFTER_RE.match(text, end)
    if not after:
        return None
    return _backwards(text, start, _R_HOPS_RE), after.end()


def _merged(spans: list[tuple[int, int]], runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans as one; a span in text forced right-to-left takes the whole run, so
    that the replacement is not shown reversed."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(_widened(span, runs) for span in spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _widened(span: tuple[int, int], runs: list[tuple[int, int]]) -> tuple[int, int]:
    a, b = span
    for run_start, run_end in runs:
        if run_start < b and a < run_end:
            a, b = min(a, run_start), max(b, run_end)
    return a, b


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for a, b in spans:
        parts += [text[last:a], REMOVED]
        last = b
    return "".join(parts) + text[last:]
