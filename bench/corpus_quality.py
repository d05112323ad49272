#!/usr/bin/env python3
"""How the gateway reads real mail it has never seen: `gateway inspect --json` over the
public corpora in ../shared/corpora (malformed, bounces, replies).

Prints:
  - messages handled without a crash or a timeout (must be all), and the slowest file;
  - bounce detection on the labelled bounce corpora: precision, recall, and the share of
    detected bounces whose failed address is right;
  - auto-reply false positives: people's mail (the reply corpora's .eml files and the
    labelled non-bounces that are not automatic) taken for robots.
Usage: .venv-test/bin/python bench/corpus_quality.py [CORPORA_DIR]      (about 10 s)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "corpora"
TIMEOUT_SECONDS = 600


def inspect(files: list[Path]) -> tuple[dict[str, dict], float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "gateway", "inspect", "--json", *map(str, files)],
                            capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT_SECONDS)
    rows = {row["file"]: row for row in map(json.loads, result.stdout.splitlines())}
    return rows, time.perf_counter() - started


def slowest(files: list[Path]) -> tuple[str, float]:
    """Each file on its own, in process: the longest any single message takes."""
    sys.path.insert(0, str(ROOT))
    from gateway.runtime.inspect import inspect as inspect_one

    worst = ("", 0.0)
    for path in files:
        started = time.perf_counter()
        inspect_one(str(path), path.read_bytes())
        elapsed = time.perf_counter() - started
        worst = max(worst, (path.name, elapsed), key=lambda w: w[1])
    return worst


def bounce_labels(root: Path) -> dict[Path, set[str] | None]:
    """File -> failed addresses (lower case; empty set: a bounce with no address), or None
    for a message that is not a bounce. flufl.bounce files where no detector finds an
    address are left out: upstream says that is no proof either way."""
    labels: dict[Path, set[str] | None] = {}
    flufl = root / "bounces" / "flufl_bounce"
    for entry in json.loads((flufl / "expected.json").read_text()):
        addresses = {a.lower() for r in entry["detector_results"] for a in r["addresses"]}
        if addresses:  # upstream: an empty list is "no detector finds an address", not "no bounce"
            labels[flufl / entry["file"]] = addresses
    misc = root / "bounces" / "misc"
    for entry in json.loads((misc / "expected.json").read_text()):
        if entry["is_bounce"] is False:
            labels[misc / entry["file"]] = None
        else:
            found = {r["final_recipient"].lower() for r in entry.get("recipients", [])}
            if entry.get("final_recipient"):
                found.add(entry["final_recipient"].lower())
            labels[misc / entry["file"]] = found
    return labels


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--every", type=int, default=1, help="only every Nth message (the suite's smoke run)")
    args = ap.parse_args()
    root = args.root
    everything = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".json", ".jsonl", ".md")
                        and p.name != "LICENSE" and "signature" not in p.parts)[::max(args.every, 1)]
    rows, elapsed = inspect(everything)
    crashed = [p for p in everything if str(p) not in rows
               or any(problem.startswith("could not be read") for problem in rows[str(p)]["problems"])]
    worst_name, worst_time = slowest(everything)
    print(f"handled without crash or timeout: {len(everything) - len(crashed)}/{len(everything)} "
          f"in {elapsed:.1f} s (slowest message {worst_time * 1000:.0f} ms: {worst_name})")
    for path in crashed[:10]:
        print(f"  not handled: {path}")

    taken = set(everything)
    labels = {path: truth for path, truth in bounce_labels(root).items() if path in taken}
    tp = fp = fn = right = 0
    for path, truth in labels.items():
        row = rows.get(str(path), {})
        detected = row.get("kind") == "bounce"
        if truth is not None and detected:
            tp += 1
            got = set(row.get("bounce", {}).get("recipients", []))
            right += bool(got & truth) or (not truth and not got)
        elif truth is not None:
            fn += 1
        elif detected:
            fp += 1
    print(f"bounce detection on {len(labels)} labelled messages: precision {tp / max(tp + fp, 1):.1%} "
          f"({tp}/{tp + fp}), recall {tp / max(tp + fn, 1):.1%} ({tp}/{tp + fn}), "
          f"right failed address {right / max(tp, 1):.1%} ({right}/{tp})")

    people = [p for p in everything if "replies" in p.parts and p.suffix == ".eml"]
    people += [p for p, truth in labels.items() if truth is None and "not_bounce_signed" in p.name]
    robots = [p for p in people if rows.get(str(p), {}).get("kind") in ("auto_reply", "bounce")]
    print(f"auto-reply false positives on people's mail: {len(robots)}/{len(people)}")
    for path in robots:
        print(f"  taken for a robot: {path.relative_to(root)}")


if __name__ == "__main__":
    main()
