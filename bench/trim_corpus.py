#!/usr/bin/env python3
"""Quoted-text trimming against the public reply corpora in ../shared/corpora/replies.

Prints, per corpus, how many cases gateway.mail.trim gets exactly right. Usage:
    .venv/bin/python bench/trim_corpus.py [CORPORA_DIR]
Takes about a second.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.mail.parse import html_to_text  # noqa: E402
from gateway.mail.trim import trim  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "replies"


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def github(root: Path) -> tuple[int, int]:
    cases = [c for c in json.loads((root / "expected.json").read_text()) if "visible_text" in c]
    right = sum(trim((root / c["file"]).read_text()).strip() == c["visible_text"].strip() for c in cases)
    return right, len(cases)


def talon_inline(root: Path) -> tuple[int, int]:
    right = total = 0
    for line in (root / "inline_cases.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case.get("talon_patches"):
            continue
        text = case["input"]
        if case["function"] == "extract_from_html":
            text = html_to_text(text)
            got, want = squash(trim(text)), squash(html_to_text(case["expected"]))
        else:
            got, want = trim(text), case["expected"]
            if case["compare"] != "exact":
                got, want = squash(got), squash(want)
        total += 1
        right += got.strip() == want.strip()
    return right, total


def mail_parser_reply(root: Path) -> tuple[int, int]:
    right = total = 0
    for case in json.loads((root / "expected.json").read_text()):
        checks = [c for c in case["checks"] if c.get("reply") == 0 and c.get("field") == "body"]
        if not checks:
            continue
        body = trim((root / case["file"]).read_text())
        total += 1
        right += all(_check(body, c["op"], c["value"]) for c in checks)
    return right, total


def _check(body: str, op: str, value: str) -> bool:
    return {"equals": lambda: body.strip() == value.strip(), "contains": lambda: value in body,
            "not_contains": lambda: value not in body, "startswith": lambda: body.startswith(value)}[op]()


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    results = {"github_email_reply_parser (visible_text)": github(root / "github_email_reply_parser"),
               "talon (inline cases)": talon_inline(root / "talon"),
               "mail_parser_reply (reply 0 body checks)": mail_parser_reply(root / "mail_parser_reply")}
    right = sum(r for r, _ in results.values())
    total = sum(t for _, t in results.values())
    for name, (r, t) in results.items():
        print(f"{name:<45} {r:>4}/{t:<4} {r / t:6.1%}")
    print(f"{'all':<45} {right:>4}/{total:<4} {right / total:6.1%}")


if __name__ == "__main__":
    main()
