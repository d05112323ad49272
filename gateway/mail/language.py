"""Welsh or English: which language to answer a resident in. Pure.

A resident who writes in Welsh, or asks for Welsh, is answered in Welsh (PRODUCT.md). An
explicit request ("yn Gymraeg", "in English") wins outright. Otherwise py3langid (langid.py's
naive Bayes model over byte n-grams, restricted to Welsh and English) decides, after two
things that mislead any model on resident mail are set aside: the names of places, streets
and organisations (English mail about Ffordd Llan or Cyngor Wrecsam is still English), and
the courtesies people add in the other language (a "Bore da" or "Diolch" on English text).
Chosen over lingua (93.6% on the kept-apart set, a 96 MB wheel) and over the word list it
replaces (65%): 99% there, 28 us a message, a 2 MB model inside its package.
"""

from __future__ import annotations

import functools
import re

ASKS_WELSH = re.compile(r"\b(yn gymraeg|in welsh|cymraeg os gwelwch yn dda|ateb yn gymraeg|cymraeg plis)\b",
                        re.IGNORECASE)
ASKS_ENGLISH = re.compile(r"\b(in english|yn saesneg)\b", re.IGNORECASE)
# Greetings and sign-offs that people put on mail in either language.
COURTESY = re.compile(
    r"\b(bore da|prynhawn da|noswaith dda|nos da|shw(?:mae|ma'?e)|s[ui]'?mae|helo|hwyl(?: fawr)?|"
    r"diolch(?: yn fawr(?: iawn)?)?|cofion(?: gorau| cynnes)?|yn gywir|annwyl|ta ra|iechyd da)\b[!,.]*",
    re.IGNORECASE)
# A name: capitalised words in a row, with Welsh and English linking words inside it
# (Maes y Dref, Stryt y Rhaglaw, Hafod y Wern, Cyngor Bwrdeistref Sirol Wrecsam).
NAME = re.compile(r"(?<![.!?\n]\s)(?<!^)\b[A-ZÂÊÎÔÛŴŶ][\w'’-]*(?:\s+(?:y|yr|'r|a|ac|of|the|and)?\s*"
                  r"[A-ZÂÊÎÔÛŴŶ][\w'’-]*)*")
# At the start of a line, two capitalised words in a row are a name too ("Ysgol Bro Alun
# gates left open"); one is only the sentence's first word.
LEADING_NAME = re.compile(r"^[A-ZÂÊÎÔÛŴŶ][\w'’-]*(?:\s+(?:y|yr|'r|a|ac|of|the|and)?\s*[A-ZÂÊÎÔÛŴŶ][\w'’-]*)+")
WORD = re.compile(r"[^\W\d_]+")
POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b|\b[A-Z]{1,2}[0-9]{1,2}\b", re.IGNORECASE)
SHORT = 3            # with fewer words than this to go on, Welsh must be clear (the default is English)
SHORT_SURE = 0.9
MIN_WORDS = 2     # fewer left once names and courtesies are set aside: judge the whole text
MAX_CHARS = 5000  # the start of a message says which language it is in


def asked_for(text: str) -> str | None:
    """The language a resident asks to be answered in, if they ask."""
    if ASKS_WELSH.search(text):
        return "cy"
    if ASKS_ENGLISH.search(text):
        return "en"
    return None


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["cy", "en"])
    return identifier


def warm() -> None:
    """Load the model now (about a second), not in the middle of work that holds leases."""
    _identifier()


def welsh_probability(text: str) -> float:
    """py3langid's probability that `text` is Welsh rather than English."""
    ranked = dict(_identifier().rank(text))
    return float(ranked.get("cy", 0.0))


def content(text: str) -> str:
    """The text without names and courtesies, when enough is left to judge by."""
    text = POSTCODE.sub(" ", text[:MAX_CHARS])   # "LL13 7AB" is no language
    lines = (" ".join(COURTESY.sub(" ", line).split()).strip(" ,.!;:-") for line in text.splitlines())
    kept = "\n".join(NAME.sub(" ", LEADING_NAME.sub(" ", line)) for line in lines if line)
    return kept if len(WORD.findall(kept)) >= MIN_WORDS else text[:MAX_CHARS]


def detect(text: str) -> str:
    """'cy' for a message asking for or written in Welsh, else 'en'."""
    asked = asked_for(text)
    if asked:
        return asked
    judged = content(text)
    words = len(WORD.findall(judged))
    if not words:
        return "en"
    return "cy" if welsh_probability(judged) > (SHORT_SURE if words < SHORT else 0.5) else "en"


# Welsh "a" (and) is "ac" before a vowel; in Welsh w and y are vowels too ("ac Wrecsam",
# "ac Ynys Môn"), and so are the accented letters.
WELSH_VOWELS = frozenset("aeiouwyâêîôûŵŷäëïöüẅÿáéíóúẃýàèìòùẁỳ")


def joined(names: list[str], language: str = "en") -> str:
    """Names as a sentence lists them: 'A, B and C'; in Welsh 'A, B a C', or 'A, B ac C'
    when C begins with a vowel."""
    names = [n for n in names if n]
    if len(names) < 2:
        return "".join(names)
    last = names[-1]
    word = ("ac" if last[:1].lower() in WELSH_VOWELS else "a") if language == "cy" else "and"
    return f"{', '.join(names[:-1])} {word} {last}"
