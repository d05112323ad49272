#!/usr/bin/env python3
"""Emergencies: urgent messages flagged, ordinary ones flagged by mistake.

On tests/data/emergency/messages.jsonl (150 urgent, 328 ordinary of which 100 are traps; a
third Welsh; see its SOURCES.md), split into the development part and the held-out third
(zlib.crc32(id) % 3 == 0) that was not looked at while tuning; and, for comparison, the
phrase list the gateway used before (the old [urgent] phrases default). Prints the misses
and false alarms of the development part only (--all: of both).
--batches: instead, each independent batch in tests/data/emergency/independent (written by
people who never saw the rules; see its SOURCES.md), per language, and which batch is never
tuned on.
Usage: .venv-test/bin/python bench/urgency.py [--all | --batches]
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.mail import urgency  # noqa: E402
from gateway.mail.danger import train  # noqa: E402

OLD_PHRASES = tuple(p.strip() for p in (
    "knife, knives, gun, firearm, weapon, stabbed, stabbing, shooting, been shot, machete, "
    "happening now, right now, in danger, being attacked, attacking me, breaking in, "
    "going to kill, threatened to kill, threatening to kill, kill me, kill myself, end my life, "
    "suicide, suicidal, hurt myself, self-harm, self harm, overdose, "
    "cyllell, cyllyll, dryll, arf, arfau, yn digwydd nawr, yn digwydd rŵan, mewn perygl, "
    "ymosod arna i, lladd fy hun, hunanladdiad, niweidio fy hun, bygwth fy lladd").split(","))


def held_out(item_id: str) -> bool:
    return zlib.crc32(item_id.encode()) % 3 == 0


def table(name: str, rows: list[dict], decide) -> str:
    urgent = [r for r in rows if r["urgent"]]
    ordinary = [r for r in rows if not r["urgent"]]
    traps = [r for r in ordinary if r["trap"]]
    welsh_urgent = [r for r in urgent if r["lang"] == "cy"]
    hit = sum(decide(r["text"]) for r in urgent)
    false = sum(decide(r["text"]) for r in ordinary)
    return (f"{name:44} urgent flagged {hit}/{len(urgent)} ({100 * hit / max(len(urgent), 1):.1f}%), "
            f"Welsh {sum(decide(r['text']) for r in welsh_urgent)}/{len(welsh_urgent)}; "
            f"ordinary flagged {false}/{len(ordinary)} ({100 * false / max(len(ordinary), 1):.1f}%), "
            f"traps {sum(decide(r['text']) for r in traps)}/{len(traps)}")


# The batches the model is never trained on and the rules never tuned on (gateway.mail.danger.train).
NEVER_TUNED = {name.split("/")[-1] for name in train.HELD_OUT}
TRAINED_ON = {name.split("/")[-1] for name in train.TRAIN}


def batches() -> None:
    """Each independent batch, per language: urgent flagged and ordinary flagged."""
    folder = ROOT / "tests" / "data" / "emergency" / "independent"
    ours = lambda row: urgency.assess(train.message_text(row)).urgent  # noqa: E731
    rules = lambda row: urgency.rules(train.message_text(row)).urgent  # noqa: E731
    totals: dict[tuple[str, bool], list[int]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        held = path.name in NEVER_TUNED
        tag = "never tuned on" if held else ("trained on" if path.name in TRAINED_ON else "not yet trained on")
        for lang in sorted({r["lang"] for r in rows}):
            part = [r for r in rows if r["lang"] == lang]
            urgent = [r for r in part if r["urgent"]]
            ordinary = [r for r in part if not r["urgent"]]
            hit, false = sum(map(ours, urgent)), sum(map(ours, ordinary))
            print(f"{path.name} [{lang}] ({tag}): urgent flagged {hit}/{len(urgent)} "
                  f"({100 * hit / max(len(urgent), 1):.1f}%), ordinary flagged {false}/{len(ordinary)} "
                  f"({100 * false / max(len(ordinary), 1):.1f}%); the clause rules alone: "
                  f"{sum(map(rules, urgent))}/{len(urgent)} and {sum(map(rules, ordinary))}/{len(ordinary)}")
            total = totals.setdefault((lang, held), [0, 0, 0, 0])
            total[0] += hit
            total[1] += len(urgent)
            total[2] += false
            total[3] += len(ordinary)
    for (lang, held), (hit, nu, false, no) in sorted(totals.items()):
        print(f"all {'never-tuned' if held else 'tuned-on'} [{lang}]: urgent flagged {hit}/{nu} "
              f"({100 * hit / max(nu, 1):.1f}%), ordinary flagged {false}/{no} ({100 * false / max(no, 1):.1f}%)")


def main() -> None:
    if "--batches" in sys.argv:
        batches()
        return
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "emergency" / "messages.jsonl").read_text()
            .splitlines()]
    dev = [r for r in rows if not held_out(r["id"])]
    kept = [r for r in rows if held_out(r["id"])]
    ours = lambda text: urgency.assess(text).urgent  # noqa: E731
    old = lambda text: bool(urgency._extra(text, OLD_PHRASES))  # noqa: E731
    for label, part in (("development", dev), ("held out", kept), ("all", rows)):
        print(table(f"ours, {label} ({len(part)})", part, ours))
        print(table(f"old phrase list, {label}", part, old))
    started = time.perf_counter()
    for r in rows:
        urgency.assess(r["text"])
    print(f"\n{(time.perf_counter() - started) / len(rows) * 1e6:.0f} us a message")
    shown = rows if "--all" in sys.argv else dev
    for r in shown:
        result = urgency.assess(r["text"])
        if result.urgent != r["urgent"]:
            what = "MISSED" if r["urgent"] else "FALSE ALARM"
            print(f"  {what} {r['id']}: {r['text']}  {result.why}")


if __name__ == "__main__":
    main()
