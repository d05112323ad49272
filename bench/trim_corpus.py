#!/usr/bin/env python3
"""Quoted-text trimming against the public reply corpora in ../shared/corpora/replies.

Prints, per corpus and for a development and a held-out split, how many cases the gateway's
trimmer gets exactly right. Usage:
    .venv/bin/python bench/trim_corpus.py [--show dev|held-out|all] [CORPORA_DIR]

The split is fixed by a hash of each case's id (about 30% held out). Trimming rules were
changed only while looking at development-split failures; the held-out figure shows how the
rules do on mail they were not tuned on. Takes about a second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.mail.parse import html_to_text, parse  # noqa: E402
from gateway.mail.trim import reply_text, trim, trim_html  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "replies"
HELD_OUT_PERCENT = 30


@dataclass
class Case:
    id: str
    corpus: str
    got: Callable[[], str]
    want: str
    compare: str = "exact"          # exact | squashed | checks | share_block

    @property
    def held_out(self) -> bool:
        return int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 100 < HELD_OUT_PERCENT

    def right(self) -> tuple[bool, str]:
        got = self.got()
        if self.compare == "squashed":
            return squash(got) == squash(self.want), got
        if self.compare == "checks":
            return all(_check(got, c["op"], c["value"]) for c in json.loads(self.want)), got
        if self.compare == "share_block":
            return bool(got.strip()) and "From" not in got, got
        return got.strip() == self.want.strip(), got


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def visible(markup: str) -> str:
    """The words of an expected HTML result: a horizontal rule is formatting, not text."""
    return re.sub(r"(?m)^_{32}$", "", html_to_text(markup))


def github(root: Path):
    for c in json.loads((root / "expected.json").read_text()):
        if "visible_text" in c:
            body = (root / c["file"]).read_text()
            yield Case(f"github/{c['file']}", "github_email_reply_parser", lambda b=body: trim(b),
                       c["visible_text"])


def talon_inline(root: Path):
    for line in (root / "inline_cases.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case.get("talon_patches"):
            continue
        text = case["input"]
        if case["function"] == "extract_from_html":
            yield Case(f"talon/{case['id']}", "talon inline", lambda t=text: trim_html(t),
                       visible(case["expected"]), "squashed")
        else:
            yield Case(f"talon/{case['id']}", "talon inline", lambda t=text: trim(t), case["expected"],
                       "exact" if case["compare"] == "exact" else "squashed")


def talon_fixtures(root: Path):
    for c in json.loads((root / "fixture_expected.json").read_text()):
        path = root / c["input"]
        cid = f"talon-fixture/{c['input']}"
        if path.suffix == ".eml" and "expected_file" in c:
            want = c["expected"] if c["expected"] is not None else (root / c["expected_file"]).read_text()
            yield Case(cid, "talon fixtures", lambda p=path: reply_text(parse(p.read_bytes())), want)
        elif path.suffix == ".eml":
            yield Case(cid, "talon fixtures", lambda p=path: reply_text(parse(p.read_bytes())), "",
                       "share_block")
        elif path.suffix == ".html":
            want = c.get("expected") or visible(c["expected_html"])
            yield Case(cid, "talon fixtures", lambda p=path: trim_html(p.read_text()), want, "squashed")
        elif "expected_signature_file" in c:
            body = path.read_text()
            sender = (root / c["sender_file"]).read_text().strip()
            signature = (root / c["expected_signature_file"]).read_text().strip()
            want = body.strip()[:len(body.strip()) - len(signature)] if signature else body
            yield Case(cid, "talon fixtures", lambda b=body, s=sender: trim(b, sender=s), want)


def mail_parser_reply(root: Path):
    for case in json.loads((root / "expected.json").read_text()):
        checks = [c for c in case["checks"] if c.get("reply") == 0 and c.get("field") == "body"]
        if checks:
            body = (root / case["file"]).read_text()
            yield Case(f"mpr/{case['test']}/{case['file']}", "mail_parser_reply",
                       lambda b=body: trim(b), json.dumps(checks), "checks")


def _check(body: str, op: str, value: str) -> bool:
    return {"equals": lambda: body.strip() == value.strip(), "contains": lambda: value in body,
            "not_contains": lambda: value not in body, "startswith": lambda: body.startswith(value)}[op]()


def all_cases(root: Path) -> list[Case]:
    return [*github(root / "github_email_reply_parser"), *talon_inline(root / "talon"),
            *talon_fixtures(root / "talon"), *mail_parser_reply(root / "mail_parser_reply")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--show", choices=("dev", "held-out", "all"), help="print the failures of a split")
    args = ap.parse_args()
    table: dict[str, list[int]] = {}
    for case in all_cases(args.root):
        ok, got = case.right()
        split = "held-out" if case.held_out else "dev"
        for key in (case.corpus, split, "all"):
            row = table.setdefault(key, [0, 0])
            row[0] += ok
            row[1] += 1
        if not ok and args.show in (split, "all"):
            print(f"--- FAIL {case.id} [{split}]\n{got}\n--- wanted ({case.compare}):\n{case.want}\n")
    for name, (right, total) in table.items():
        print(f"{name:<30} {right:>4}/{total:<4} {right / total:6.1%}")


if __name__ == "__main__":
    main()
