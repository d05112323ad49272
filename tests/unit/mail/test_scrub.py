"""No police address reaches a resident, however it is written, and nothing else changes.

Examples for each way of writing an address, then properties (hypothesis): obfuscations of
police addresses, built from random local parts and subdomains and random combinations of
the ways, in random sentences, never survive; text that is not a police address is returned
exactly as written. What "survives" means is decided here by `seen`, a reading of the output
written independently of gateway.mail.reading: every letter a reader could recover, in order."""

from __future__ import annotations

import html
import re
import unicodedata
import urllib.parse

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.mail.scrub import REMOVED, police_addresses_removed

DOMAINS = ("police.example", "police.uk")
SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOOKALIKES = str.maketrans("оеісрοаОЕ", "oeicpoaOE")
SMALL_CAPITALS = {c: unicodedata.name(chr(c))[-1].lower() for c in range(0x1d00, 0x1d2c)
                  if unicodedata.name(chr(c), "").startswith("LATIN LETTER SMALL CAPITAL ")
                  and len(unicodedata.name(chr(c)).split()[-1]) == 1}
SMALL_CAPITALS.update({0x26A: "i", 0x280: "r", 0x29F: "l", 0x262: "g", 0x274: "n", 0x29C: "h", 0x28F: "y", 0x299: "b"})


def scrub(text: str) -> str:
    return police_addresses_removed(text, DOMAINS)


def seen(text: str) -> str:
    """Every letter and digit a reader could recover from `text`, lower case, in order."""
    text = unicodedata.normalize("NFKC", text)
    for _ in range(2):
        text = html.unescape(re.sub(r"<[^<>]*>", "", text))
        text = urllib.parse.unquote(text)
    text = unicodedata.normalize("NFKD", text).translate(LOOKALIKES).translate(SMALL_CAPITALS)
    return "".join(c for c in text if c.isalnum()).lower()


def skeleton(letters: str) -> str:
    """Letters a reader confuses as one: 0 and o; 1, l, i and | (I, once lower case); rn and m; vv and w."""
    return re.sub(r"[1il|]", "l", letters.replace("0", "o").replace("rn", "m").replace("vv", "w"))


def leaks(text: str) -> bool:
    """Whether a police domain's name can still be read in `text` (forwards or reversed)."""
    letters = skeleton(seen(text.replace(REMOVED, " ").replace("|", "l")))
    return "pollce" in letters or "ecllop" in letters


# ---- the attacker's cases and one example of each way of writing an address ---------------

WAYS = {
    "sentence punctuation after it": "pc.jones@police.example",
    "host-first bang path": "police.example!pc.evans@relay.example",
    "bang path after a relay": "relay.example!police.example!pc.evans",
    "local-first bang path": "pc.evans!police.example",
    "percent hack": "hightown.npt%police.example@relay.example",
    "soft hyphen in the domain": "pc.evans@poli\u00adce.example",
    "zero-width space in the domain": "pc.evans@police\u200b.example",
    "word joiner and BOM": "pc\u2060.evans@\ufeffpolice.example",
    "ideographic full stop": "pc.evans@police\u3002example",
    "halfwidth ideographic full stop": "pc.evans@police\uff61example",
    "full-width full stop": "pc.evans@police\uff0eexample",
    "one dot leader": "pc.evans@police\u2024example",
    "hyphenation point": "pc.evans@police\u2027example",
    "katakana middle dot": "pc.evans@police\u30fbexample",
    "middle dot": "pc.evans@police\u00b7example",
    "full-width at": "pc.evans\uff20police.example",
    "small commercial at": "pc.evans\ufe6bpolice.example",
    "spaces around the at": "pc.evans @ police.example",
    "spaces around dots": "pc.evans@police . example",
    "quoted local part": '"pc evans"@police.example',
    "unusual characters in the local part": "{pc}/jones|x@police.example",
    "typographic quotes": "\u201cpc evans\u201d@police.example",
    "domain literal": "pc.evans@[police.example]",
    "at and dot as words": "pc.evans at police dot example",
    "AT and DOT in capitals": "pc.evans AT police DOT example",
    "(at) and (dot)": "pc.evans(at)police(dot)example",
    "[at] and [dot] with spaces": "pc.evans [at] police [dot] example",
    "{at} and {dot}": "pc.evans{at}police{dot}example",
    "<at> and <dot>": "pc.evans <at> police <dot> example",
    "[@] and [.]": "pc.evans[@]police[.]example",
    "(a)": "pc.evans(a)police.example",
    "-at- and _dot_": "pc.evans-at-police_dot_example",
    "double-encoded entity": "pc.evans&amp;#64;police.example",
    "double percent-encoding": "mailto:pc.evans%2540police.example",
    "hyphenated over a line break": "pc.evans@poli-\nce.example",
    "mailto": "mailto:pc.evans@police.example",
    "mailto in angle brackets": "<mailto:pc.evans%40police.example>",
    "percent-encoded mailto": "mailto%3Apc.evans%40police.example",
    "fully percent-encoded mailto": "mailto:" + "".join(f"%{b:02X}" for b in b"pc.evans@police.example"),
    "numeric entity": "pc.evans&#64;police.example",
    "hex entity": "pc.evans&#x40;police&#x2E;example",
    "named entities": "pc.evans&commat;police&period;example",
    "tags around parts": "<b>pc.evans</b><span>@</span><i>police</i>.example",
    "an html link": '<a href="mailto:pc.evans@police.example">write to us</a>',
    "subdomain": "sgt.evans@mail.north.police.example",
    "another police domain": "dc.smith@north-wales.police.uk",
    "capitals": "PC.Evans@POLICE.Example",
    "Cyrillic lookalike letters": "pc.evans@p\u043eli\u0441e.example",
    "accents": "pc.evans@pol\u00efce.\u00e9xample",
    "letters spaced out": "(p c . e v a n s @ p o l i c e . u k)",
    "line break after a dot": "pc.evans@police.\nexample",
    "forced right-to-left": "\u202eelpmaxe.ecilop@snave.cp\u202c",
    "full-width letters": "\uff50\uff43.evans@\uff50\uff4flice.example",
    "a domain starting with a police domain": "pc.evans@police.example.com",
    "at and a web address": "pc.evans at www.police.uk/",
    # An independent tester's forms (issue: confusables, dot-likes, words, hidden HTML)
    "small capitals": "pc.jones@\u1d18\u1d0f\u029f\u026a\u1d04\u1d07.example",
    "small capitals throughout": "pc.jones@\u1d18\u1d0f\u029f\u026a\u1d04\u1d07.\u1d07x\u1d00\u1d0d\u1d18\u029f\u1d07",
    "digit one for l": "pc.jones@po1ice.example",
    "digit one for l in the last label": "pc.jones@police.examp1e",
    "rn for m": "pc.jones@police.exarnple",
    "capital I for l, in words": "pc.jones @ police dot exampIe",
    "canadian syllabics final middle dot": "pc.jones@police\u1427example",
    "division slash": "pc.jones@police\u2215example",
    "armenian full stop": "pc.jones@police\u0589example",
    "hebrew sof pasuq": "pc.jones@police\u05c3example",
    "cedilla": "pc.jones@police\u00b8example",
    "DOT between letters": "pc.jones@policeDOTexample",
    "doubled dot": "pc.jones@police..example",
    "a space for the dot": "pc.jones@police example",
    "a comma for the dot": "pc.jones@police,example",
    "an escaped dot": "pc.jones@police\\.example",
    "a space inside a label": "pc.jones@police.ex ample",
    "dot word stuck to the next label": "pc.jones@police dotexample",
    "full-stop as a word": "pc.jones at police full-stop example",
    "user ..., domain ...": "user pc.jones, domain police.example",
    "punto": "pc.jones at police punto example",
    "Welsh yn and dot": "pc.jones yn police dot example",
    "Welsh pwynt": "pc.jones yn police pwynt example",
    "a hidden span inside the domain": 'pc.jones@police<span style="display:none">zzz</span>.example',
    "an entity without its semicolon": "pc.jones@police&period.example",
}


def test_the_attackers_example_keeps_its_sentence():
    assert scrub("Please email pc.jones@police.example. Thanks") == "Please email [address removed]. Thanks"


@pytest.mark.parametrize("address", WAYS.values(), ids=WAYS.keys())
def test_each_way_of_writing_a_police_address_is_removed_and_nothing_else(address):
    text = f"Please write to {address}. Thanks, PC 1234"
    out = scrub(text)
    assert not leaks(out), out
    assert out.startswith("Please write to ") and out.endswith(". Thanks, PC 1234")
    assert REMOVED in out


def test_several_in_one_text_each_go_and_invisible_characters_elsewhere_stay():
    text = ("Dear\u00a0Ann,\u200b write to pc.jones@poli\u00adce.example or sgt at police dot uk;\n"
            "the full\uff0dwidth line\u3000stays \u00ad as written.")
    assert scrub(text) == ("Dear\u00a0Ann,\u200b write to [address removed] or [address removed];\n"
                           "the full\uff0dwidth line\u3000stays \u00ad as written.")


INNOCENT = [
    "Write to ann@example.net or bob@example.org.",
    "The police will be at the station at 5pm. Dot the i's and cross the t's.",
    "Police said: meet us at the hall (at 6) [dot] or dash.",
    "See https://www.example.org/police/at?x=1&y=%40 or www.example.net/@police.",
    "Lookalikes are not ours: a@evil-police.example, b@xpolice.example, c@police.examples.",
    "A police website on its own is not an address: police.example, www.police.uk/contact.",
    "Find us at www.police.uk or report it online at police.uk/report.",
    "Full\uff0dwidth\u3000text, soft\u00adhyphens, zero\u200bwidth and \u202eolleh\u202c stay as written.",
    "Tags <b>stay</b> &amp; entities &#64; too; 100% sure, wow!",
    "I live in Pool 1 and police example cases come to us; see you at 10.30.",
    "rn, vv, I, l, 1, 0 and | on their own; the police, for example, point the way.",
    "Reply to ann.jones@example.net (your own address); a police example; full stop.",
    "Mae'r heddlu yn y dref; pwynt arall: police example, period, punto.",
    '<span style="display:none">hidden</span> fish&chips, AT&T, R&D and &period stay.',
    "\u1d18\u1d0f\u029f\u026a\u1d04\u1d07 in small capitals, po1ice and exarnple without an at.",
]


@pytest.mark.parametrize("text", INNOCENT)
def test_text_that_is_not_a_police_address_is_returned_as_written(text):
    assert scrub(text) == text


def test_no_police_domains_means_no_change():
    assert police_addresses_removed("pc.jones@police.example", ()) == "pc.jones@police.example"


# ---- properties ---------------------------------------------------------------------------

AT_WAYS = ["@", " @ ", "\uff20", "\ufe6b", " at ", " AT ", "(at)", " (at) ", "[at]", " [ at ] ", "{at}",
           "<at>", "(a)", "[@]", "-at-", "_AT_", "%40", "&#64;", "&#x40;", "&commat;", "<b>@</b>", "\n@\n", " yn ", " arobase ",
           ", domain "]
DOT_WAYS = [".", "\uff0e", "\u3002", "\uff61", "\u2024", "\u2027", "\u30fb", "\u00b7", " . ", " .", " dot ",
            " DOT ", "(dot)", "[dot]", " [dot] ", "{dot}", "[.]", "-dot-", "_dot_", "&#46;", "&period;", "</i>.<i>",
            ".\n", " full stop ", " full-stop ", " period ", " point ", " punto ", " pwynt ", "..", "\\.",
            "\u1427", "\u0589", "\u05c3", "\u00b8", "\u2215", " dot", "dot "]
# Only after a real "@": a space, a comma or other punctuation for the dot.
LOOSE_DOTS = DOT_WAYS + [" ", ",", ", ", "/", ":", ";"]
CONFUSABLES = [("l", "1"), ("l", "I"), ("l", "|"), ("o", "0"), ("m", "rn"), ("p", "\u1d18"), ("o", "\u1d0f"),
               ("l", "\u029f"), ("i", "\u026a"), ("c", "\u1d04"), ("e", "\u1d07"), ("a", "\u1d00")]
HIDERS = ['<span style="display:none">zzz</span>', '<b style="visibility: hidden">x</b>',
          '<i style="font-size:0">q</i>', "<script>var a</script>", "<style>p{}</style>", "<span hidden>k</span>"]
INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u034f", "\ufe0f", "\u2061"]
LEADS = ["write to ", "email ", "contact: ", "(", "or ", "Regards,\nPC 1234\n"]
ENDS = ["", ".", ",", ";", ":", "!", "?", ")", "\u2026", ". Thanks", ".\nRegards", "! See you."]
WORDS = ["we", "will", "patrol", "on", "Friday", "at", "the", "station", "dot", "call", "101", "or",
         "ann@example.net", "https://www.example.org/a?b=1", "(", ")", "&amp;", "\u00a0", "\uff21", "\n"]

locals_ = st.from_regex(r"[a-z][a-z0-9_]{0,6}(\.[a-z0-9]{1,6}){0,2}", fullmatch=True)
labels = st.from_regex(r"[a-z0-9][a-z0-9-]{0,5}[a-z0-9]", fullmatch=True)
sentences = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)


def _full_width(text: str, draw) -> str:
    picks = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(chr(ord(c) + 0xFEE0) if pick and "!" <= c <= "~" else c for c, pick in zip(text, picks))


@st.composite
def police_domains(draw, dots: list[str] = DOT_WAYS, sub_dots: list[str] | None = None) -> str:
    """A police domain under 0-2 random labels; `sub_dots` (default `dots`) join those labels."""
    subs, police = draw(st.lists(labels, max_size=2)), draw(st.sampled_from(DOMAINS)).split(".")
    for letter, lookalike in draw(st.lists(st.sampled_from(CONFUSABLES), max_size=3)):   # in the labels only
        i = draw(st.integers(0, 1))
        police[i] = police[i].replace(letter, lookalike, draw(st.integers(1, 2)))
    police_part = police[0] + draw(st.sampled_from(dots)) + police[1]
    domain = "".join(n + draw(st.sampled_from(sub_dots or dots)) for n in subs) + police_part
    if draw(st.booleans()):
        domain = domain.upper() if draw(st.booleans()) else domain.title()
    if draw(st.booleans()):   # a Cyrillic or Greek letter or two
        domain = domain.replace("o", draw(st.sampled_from(["\u043e", "\u03bf", "o"])), 1).replace("c", "\u0441", 1)
    return domain


@st.composite
def police_addresses(draw) -> str:
    way = draw(st.sampled_from(["plain", "mailto", "angle", "encoded", "link", "tags", "quoted", "literal",
                                "bang", "bang after", "local bang", "percent hack", "spaced", "reversed",
                                "loose", "hidden"]))
    local, at = draw(locals_), draw(st.sampled_from(AT_WAYS))
    # Spaced-out letters are read with plain dots; a line break ends what U+202E reverses.
    domain = draw(police_domains([".", " . ", "\u3002"] if way == "spaced" else [d for d in DOT_WAYS if "\n" not in d]
                                 if way == "reversed" else LOOSE_DOTS if way == "loose" else DOT_WAYS,
                                 ["."] if way == "loose" else None))
    at = "@" if way == "reversed" and "\n" in at else at
    address = {
        "plain": f"{local}{at}{domain}", "mailto": f"mailto:{local}{at}{domain}",
        "angle": f"<mailto:{local}{at}{domain}>", "encoded": _encoded_mailto(local, domain),
        "link": f'<a href="mailto:{local}@{domain}">{local}{at}{domain}</a>',
        "tags": f"<b>{local}</b>{at}<i>{domain}</i>", "quoted": f'"{local} x"{at}{domain}',
        "literal": f"{local}{at}[{domain}]", "bang": f"{domain}!{local}@relay.example",
        "bang after": f"relay.example!{domain}!{local}", "local bang": f"{local}!{domain}",
        "percent hack": f"{local}%{domain}@relay.example", "spaced": " ".join(f"{local}@{domain}"),
        "reversed": f"\u202e{(local + at + domain)[::-1]}\u202c", "loose": f"{local}@{domain}",
        "hidden": _hidden_inside(f"{local}{at}{domain}", draw),
    }[way]
    if way not in ("encoded", "reversed") and draw(st.booleans()):
        address = _full_width(address, draw)
    for _ in range(draw(st.integers(0, 3))):   # invisible characters anywhere in it
        at_ = draw(st.integers(0, len(address)))
        address = address[:at_] + draw(st.sampled_from(INVISIBLE)) + address[at_:]
    return address


def _hidden_inside(address: str, draw) -> str:
    """Text a browser does not show, put anywhere inside the address but not inside an entity or
    a %-escape (a tag there breaks it for a browser too: "&#6<span>x</span>4;" shows no at)."""
    places = [i for i in range(1, len(address)) if not re.search(r"&#?\w*\Z|%\w?\Z", address[:i])]
    at_ = draw(st.sampled_from(places))
    return address[:at_] + draw(st.sampled_from(HIDERS)) + address[at_:]


def _encoded_mailto(local: str, domain: str) -> str:
    return "mailto:" + "".join(f"%{b:02X}" for b in f"{local}@{domain}".encode())


@SOME
@given(sentences, st.sampled_from(LEADS), police_addresses(), st.sampled_from(ENDS), sentences)
def test_no_obfuscated_police_address_survives_and_the_sentence_around_it_does(before, lead, address, end,
                                                                             after):
    before, after = before + " " + lead, end + (" " + after if after and end else "")
    assume(not leaks(before + " " + after))
    out = scrub(before + address + after)
    assert not leaks(out), (address, out)
    assert out.startswith(before) and out.endswith(after), (address, out)


@settings(SOME, max_examples=100)
@given(st.lists(police_addresses(), min_size=2, max_size=4), sentences)
def test_several_addresses_in_one_text_all_go(addresses, words):
    assume(not leaks(words))
    out = scrub(("\n" + words + " ").join(addresses))
    assert not leaks(out) and out.count(REMOVED) >= 1, (addresses, out)


@SOME
@given(st.text(max_size=300))
def test_any_text_without_a_police_name_in_it_is_returned_as_written(text):
    assume(not leaks(text))
    assert scrub(text) == text


INNOCENT_WORDS = WORDS + ["police", "AT", "(at)", "[dot]", "@", ".", "bob@evil-police.example", "xpolice.example",
                          "pc@police.examples", "Police", "\u200b", "soft\u00adhyphen",
                          "\u202eolleh\u202c", "100%", "wow!", "<b>", "</b>", "&#64;", "\uff20", "\u3002"]


@SOME
@given(st.lists(st.sampled_from(INNOCENT_WORDS), max_size=25).map(" ".join))
def test_sentences_with_police_at_and_dot_as_words_are_returned_as_written(text):
    assert scrub(text) == text


# No at anywhere: "police", "example", dot-like words and confusables are ordinary words.
WORDS_WITHOUT_AN_AT = ["police", "Police", "POLICE", "example", "EXAMPLE", "uk", "point", "period", "full stop",
                       "full-stop", "punto", "pwynt", "dot", "DOT", ".", ",", "..", "\\.", "\u1427", "\u2215",
                       "Pool", "1", "0", "10.30", "rn", "vv", "I", "l", "|", "ann@example.net", "me@example.org",
                       "po1ice", "exarnple", "\u1d18\u1d0f\u029f\u026a\u1d04\u1d07", "&period", "domain", "user",
                       "\n", '<span style="display:none">', "</span>"]


@SOME
@given(st.lists(st.sampled_from(WORDS_WITHOUT_AN_AT), max_size=25).map(" ".join))
def test_police_and_example_as_ordinary_words_are_returned_as_written(text):
    assert scrub(text) == text
