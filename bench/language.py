#!/usr/bin/env python3
"""Welsh or English: share of texts the gateway would answer in the right language.

On ../shared/corpora/language (600 short texts, 300 Welsh, 300 English, no traps) and on
tests/data/language/traps.jsonl (English mail naming Welsh places or greeting in Welsh;
Welsh without diacritics or in texting forms), split into a development part and a
held-out third (fixed by a hash of each id). Beside ours: py3langid on the raw text,
restricted to Welsh and English; and lingua (lingua-language-detector), if installed.
Usage: .venv-test/bin/python bench/language.py [CORPORA_DIR]
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.mail import language  # noqa: E402


def held_out(item_id: str) -> bool:
    return zlib.crc32(item_id.encode()) % 3 == 0


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def lingua_detector():
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        return None
    detector = LanguageDetectorBuilder.from_languages(Language.WELSH, Language.ENGLISH).build()
    return lambda text: "cy" if detector.detect_language_of(text) == Language.WELSH else "en"


def score(items: list[dict], decide) -> str:
    right = sum(decide(item["text"]) == item["lang"] for item in items)
    welsh = [i for i in items if i["lang"] == "cy"]
    welsh_right = sum(decide(i["text"]) == "cy" for i in welsh)
    return f"{right}/{len(items)} ({100 * right / len(items):.1f}%); Welsh {welsh_right}/{len(welsh)}"


def main() -> None:
    corpora = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora"
    corpus = load(corpora / "language" / "items.jsonl")
    traps = load(ROOT / "tests" / "data" / "language" / "traps.jsonl")
    deciders = {"ours (gateway.mail.language.detect)": language.detect,
                "py3langid, raw text, cy/en only": lambda t: "cy" if language.welsh_probability(t) > 0.5 else "en"}
    lingua = lingua_detector()
    if lingua:
        deciders["lingua, cy/en only"] = lingua
    sets = {"corpus (600)": corpus, "traps, development": [t for t in traps if not held_out(t["id"])],
            "traps, held out": [t for t in traps if held_out(t["id"])],
            "English traps only": [t for t in traps if t["lang"] == "en"], "all": corpus + traps}
    print(f"{'':38}" + "".join(f"{name:>34}" for name in sets))
    for name, decide in deciders.items():
        print(f"{name:38}" + "".join(f"{score(items, decide):>34}" for items in sets.values()))
    texts = [i["text"] for i in corpus] * 3
    started = time.perf_counter()
    for text in texts:
        language.detect(text)
    print(f"\nours: {(time.perf_counter() - started) / len(texts) * 1e6:.0f} us a text")
    wrong = [t for t in corpus + traps if language.detect(t["text"]) != t["lang"]]
    for item in wrong:
        print(f"  wrong: {item['id']} ({item['lang']}) {item['text']}")


if __name__ == "__main__":
    main()
