#!/usr/bin/env python3
"""Quoted-text trimming against the public reply corpora in ../shared/corpora/replies.

Prints, per corpus and for a development and a held-out split, how many cases the gateway's
trimmer gets exactly right. Usage:
    .venv-test/bin/python bench/trim_corpus.py [--show dev|held-out|all] [CORPORA_DIR]

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


def _baselines() -> dict[str, Callable[[str], str]]:
    """Published reply parsers, for comparison, when they are installed (they are not
    dependencies): pip install mail-parser-reply email_reply_parser."""
    found: dict[str, Callable[[str], str]] = {}
    try:
        from mailparser_reply import EmailReplyParser as Mpr
        langs = ["en", "de", "nl", "pl", "sv", "da", "fr", "it", "ja", "es"]
        found["mail-parser-reply"] = lambda t: Mpr(languages=langs).parse_reply(text=t)
    except ImportError:
        pass
    try:
        from email_reply_parser import EmailReplyParser as Erp
        found["email_reply_parser"] = Erp.parse_reply
    except ImportError:
        pass
    return found


TRIMMERS: dict[str, Callable[..., str]] = {}   # name -> text trimmer; set in main()


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
        if self.compare == "lines":   # the same lines, whatever the blank lines between them
            return _lines(got) == _lines(self.want), got
        if self.compare == "share_block":
            return bool(got.strip()) and "From" not in got, got
        return got.strip() == self.want.strip(), got


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def visible(markup: str) -> str:
    """The words of an expected HTML result: a horizontal rule is formatting, not text."""
    return re.sub(r"(?m)^_{32}$", "", html_to_text(markup))


def github(root: Path):
    for c in json.loads((root / "expected.json").read_text()):
        if "visible_text" in c:
            body = (root / c["file"]).read_text()
            yield Case(f"github/{c['file']}", "github_email_reply_parser", lambda b=body: TEXT(b),
                       c["visible_text"])


def talon_inline(root: Path):
    for line in (root / "inline_cases.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case.get("talon_patches"):
            continue
        text = case["input"]
        if case["function"] == "extract_from_html":
            yield Case(f"talon/{case['id']}", "talon inline", lambda t=text: HTML(t),
                       visible(case["expected"]), "squashed")
        else:
            yield Case(f"talon/{case['id']}", "talon inline", lambda t=text: TEXT(t), case["expected"],
                       "exact" if case["compare"] == "exact" else "squashed")


def talon_fixtures(root: Path):
    for c in json.loads((root / "fixture_expected.json").read_text()):
        path = root / c["input"]
        cid = f"talon-fixture/{c['input']}"
        if path.suffix == ".eml" and "expected_file" in c:
            want = c["expected"] if c["expected"] is not None else (root / c["expected_file"]).read_text()
            yield Case(cid, "talon fixtures", lambda p=path: EML(p.read_bytes()), want)
        elif path.suffix == ".eml":
            yield Case(cid, "talon fixtures", lambda p=path: EML(p.read_bytes()), "",
                       "share_block")
        elif path.suffix == ".html":
            want = c.get("expected") or visible(c["expected_html"])
            yield Case(cid, "talon fixtures", lambda p=path: HTML(p.read_text()), want, "squashed")
        elif "expected_signature_file" in c:
            body = path.read_text()
            sender = (root / c["sender_file"]).read_text().strip()
            signature = (root / c["expected_signature_file"]).read_text().strip()
            want = body.strip()[:len(body.strip()) - len(signature)] if signature else body
            yield Case(cid, "talon fixtures", lambda b=body, s=sender: TEXT(b, sender=s), want)


def mail_parser_reply(root: Path):
    for case in json.loads((root / "expected.json").read_text()):
        checks = [c for c in case["checks"] if c.get("reply") == 0 and c.get("field") == "body"]
        if checks:
            body = (root / case["file"]).read_text()
            yield Case(f"mpr/{case['test']}/{case['file']}", "mail_parser_reply",
                       lambda b=body: TEXT(b), json.dumps(checks), "checks")


def _check(body: str, op: str, value: str) -> bool:
    return {"equals": lambda: body.strip() == value.strip(), "contains": lambda: value in body,
            "not_contains": lambda: value not in body, "startswith": lambda: body.startswith(value)}[op]()


INDEPENDENT = Path(__file__).resolve().parents[1] / "tests" / "data" / "replies" / "independent"


def independent(folder: Path):
    """Replies written for this project by people who never saw the trimmer (issue 24), each
    with the text a person would say its writer wrote; never tuned on."""
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            yield Case(f"independent/{case['id']}", f"independent ({path.stem})",
                       lambda t=case["text"]: TEXT(t), case["expected"], "lines")


def all_cases(root: Path) -> list[Case]:
    return [*github(root / "github_email_reply_parser"), *talon_inline(root / "talon"),
            *talon_fixtures(root / "talon"), *mail_parser_reply(root / "mail_parser_reply"),
            *independent(INDEPENDENT)]


def TEXT(text: str, sender: str = "") -> str:
    return TRIMMERS["text"](text, sender)


def HTML(markup: str) -> str:
    return TRIMMERS["html"](markup)


def EML(raw: bytes) -> str:
    return TRIMMERS["eml"](raw)


def ours() -> None:
    TRIMMERS.update(text=lambda t, s="": trim(t, sender=s), html=trim_html,
                    eml=lambda raw: reply_text(parse(raw)))


def library(fn: Callable[[str], str]) -> None:
    """A plain-text parser is given what it can take: text, HTML made text, an .eml's text."""
    def text(t: str, s: str = "") -> str:
        try:
            return fn(t) or ""
        except Exception as exc:  # a library crash counts as a miss
            return f"<crash {type(exc).__name__}>"
    TRIMMERS.update(text=text, html=lambda m: text(html_to_text(m)), eml=lambda raw: text(parse(raw).text))


def score(root: Path, show: str | None) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for case in all_cases(root):
        ok, got = case.right()
        split = "held-out" if case.held_out else "dev"
        keys = (case.corpus, split, "all")
        if case.corpus.startswith("independent"):   # reported apart from the public corpora
            keys = (case.corpus, f"{case.corpus}, {split}")
        for key in keys:
            row = table.setdefault(key, [0, 0])
            row[0] += ok
            row[1] += 1
        if not ok and show in (split, "all"):
            print(f"--- FAIL {case.id} [{split}]\n{got}\n--- wanted ({case.compare}):\n{case.want}\n")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--show", choices=("dev", "held-out", "all"), help="print the failures of a split")
    args = ap.parse_args()
    ours()
    table = score(args.root, args.show)
    print("gateway.mail.trim")
    for name, (right, total) in table.items():
        print(f"  {name:<30} {right:>4}/{total:<4} {right / total:6.1%}")
    for name, fn in _baselines().items():
        library(fn)
        right, total = score(args.root, None)["all"]
        print(f"{name} (for comparison)\n  {'all':<30} {right:>4}/{total:<4} {right / total:6.1%}")


if __name__ == "__main__":
    main()
