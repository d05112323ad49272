"""Welsh or English: which language to answer a resident in. Pure.

A resident who writes in Welsh, or asks for Welsh, is answered in Welsh (PRODUCT.md). Only
two languages matter here, so a count of each language's commonest short words decides,
with an explicit request ("yn Gymraeg", "in Welsh", "in English") winning outright. A
general language-identification library would bring large models for a two-way choice.
"""

from __future__ import annotations

import re

WELSH = set("yn mae yr ac gyda wedi ddim dw rydw rwy roedd bod hefyd ond neu fy ein eich nhw chi diolch annwyl "
            "os gwelwch mewn beth sut pam ble heddiw ydy ydych oes sydd hyn hwn hon yma yno iawn nawr rŵan "
            "achos ni fe fo hi eto dros rhai llawer gan".split())
ENGLISH = set("the and is are was were to of it that have has my on with for this they there not be at you we "
              "our your from but would could been will can".split())
ASKS_WELSH = re.compile(r"\b(yn gymraeg|in welsh|cymraeg os gwelwch yn dda|ateb yn gymraeg)\b", re.IGNORECASE)
ASKS_ENGLISH = re.compile(r"\b(in english|yn saesneg)\b", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+(?:[’'][^\W\d_]+)?")


def asked_for(text: str) -> str | None:
    """The language a resident asks to be answered in, if they ask."""
    if ASKS_WELSH.search(text):
        return "cy"
    if ASKS_ENGLISH.search(text):
        return "en"
    return None


def detect(text: str) -> str:
    """'cy' for a message asking for or written in Welsh, else 'en'."""
    asked = asked_for(text)
    if asked:
        return asked
    words = [w.lower() for w in WORD.findall(text[:20000])]
    welsh = sum(w in WELSH for w in words)
    english = sum(w in ENGLISH for w in words)
    return "cy" if welsh >= 3 and welsh > english else "en"
