"""What the danger model sees of a message: the same code at training and at run time.

Words, and the situations of gateway.mail.danger.concepts and the clause rules' findings
(added by gateway.mail.urgency.read). Everything is hashed into a fixed number of buckets, so the weights are one array and unseen words cost
nothing. Accents are folded (rŵan and rwan are one word): people type both.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

BUCKETS_LOG2 = 16
MASK = (1 << BUCKETS_LOG2) - 1
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_CHARS = 20_000
# Street and estate names, English and Welsh ("Ffordd y Parc", "Chapel Row", "Stryd y Capel"):
# said as a name, their words are not the situation ("parc", "capel", "row"), and writers gave
# addresses more often in urgent messages than residents do. A named bridge stays a bridge.
_NAME = r"[A-ZÂÊÎÔÛŴŶ][\w'’-]+"
PLACE = re.compile(
    rf"\b(?:{_NAME} ){{1,3}}(?:Road|Street|Lane|Avenue|Close|Drive|Way|Row|Terrace|Crescent|Grove|Place|Court|"
    rf"Gardens|Hill|Square|Walk|Rd|St|Ave)\b"
    rf"|\b(?:Heol|Stryd|Ffordd|Lôn|Lon|Rhodfa|Teras|Cilgant|Ystad|Stad|Maes|Bryn|Parc|Cae|Tŷ|Ty|Plas|Pen|Glan|Bron|"
    rf"Nant)(?: (?:y|yr|'r|Y|Yr))? {_NAME}(?: {_NAME})?")


def fold(text: str) -> str:
    """Lower case, accents off, curly quotes straight, digits as 0."""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS].replace("’", "'").replace("‘", "'").lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\d", "0", text)


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def names(tokens: list[str]) -> set[str]:
    """The word features of one stretch of text (a message, or a window of it). Word pairs and
    runs of letters were tried and dropped for windows: on a few thousand messages they learn
    the writers' habits, not the danger (cross-validated, they raised false alarms at the same
    recall). The model of the whole message has word pairs as well (pairs())."""
    # Words with digits in them (house numbers, postcodes, phone numbers, times) are left out:
    # the people who wrote the training messages gave addresses far more often in urgent ones
    # than residents do, which taught the model that a number is a sign of danger. Times
    # that matter ("at 3", "am bump") are read by the concepts.
    return {"b:"} | {"w:" + t for t in tokens if not any(c.isdigit() for c in t)}


def pairs(tokens: list[str]) -> set[str]:
    """Neighbouring words ("was_stabbed", "is_stabbing", "last_year"): what a word means often
    depends on the one before it. Measured leaving one writer out, they lower the whole-message
    model's false alarms at the same recall; for windows they did not."""
    kept = [t for t in tokens if not any(c.isdigit() for c in t)]
    return {f"2:{a}_{b}" for a, b in zip(kept, kept[1:])}


def hashed(feature_names: set[str]) -> list[tuple[int, int]]:
    """(bucket, sign) for each name: a signed hash, so collisions cancel out on average."""
    out = []
    for name in sorted(feature_names):   # sorted: sums in the same order in every process, so training is repeatable
        h = zlib.crc32(name.encode())
        out.append((h & MASK, 1 if h & 0x80000000 else -1))
    return out


def sentences(text: str) -> list[str]:
    """The message's sentences (and lines), those with a word in them, street names read as
    one word."""
    return [PLACE.sub("STREETNAME", s.strip()) for s in SENTENCE.split(text[:MAX_CHARS]) if WORD.search(fold(s))]


def spans(count: int, size: int = 3) -> list[tuple[int, int]]:
    """The message as overlapping runs of `size` sentences (a short message is one run):
    danger buried in the middle of a long email is read in its own neighbourhood, not drowned
    in the business around it. (start, end) indexes into sentences()."""
    if count <= size:
        return [(0, count)]
    return [(i, i + size) for i in range(count - size + 1)]
