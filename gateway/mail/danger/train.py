"""Train the danger model: `python -m gateway.mail.danger.train [--check] [--out FILE]`.

Reads the labelled sets named in TRAIN (never those in HELD_OUT), learns a logistic model by
multiple-instance learning (a message is as urgent as its most urgent window of sentences, so
the update goes to that window), picks the threshold by five-fold cross-validation so that at
least TARGET_RECALL of urgent messages are flagged, and writes weights.bin. Deterministic: the
same data gives the same file. Pure Python; a few minutes on one core.
--check: cross-validation figures only, no file written.
--corrections FILE: also train on officers' corrections, the output of
`gateway urgent corrections --json` (it holds residents' words: keep it out of the repository).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from gateway.mail import urgency
from gateway.mail.danger import features, model

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "emergency"
TRAIN = ["messages.jsonl", "neutral.jsonl", "independent/batch_a.jsonl", "independent/batch_c.jsonl",
         "independent/batch_d.jsonl", "independent/batch_e.jsonl", "independent/batch_g.jsonl",
         "independent/batch_f.jsonl", "independent/batch_h.jsonl", "independent/batch_i.jsonl",
         "independent/batch_l.jsonl", "independent/batch_m.jsonl", "independent/batch_n.jsonl",
         "independent/batch_o.jsonl"]
HELD_OUT = ["independent/batch_b.jsonl", "independent/batch_j.jsonl", "independent/batch_k.jsonl",
            "independent/batch_q.jsonl", "independent/batch_r.jsonl"]
TARGET_RECALL = 0.97   # when in doubt, flag: chosen on cross-validation, never on the batches kept apart
EPOCHS = 12
RATE = 0.2
L2 = 1e-5
URGENT_WEIGHT = 2.0     # a miss may cost a life; a false alarm costs a sentence about 999


def load(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        path = DATA / name
        if path.exists():
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def corrections(path: Path) -> list[dict]:
    """Officers' #urgent and #noturgent, as labelled rows like the batches'."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            found = json.loads(line)
            rows.append({"id": f"correction-{found['case']}-{found['at']}", "urgent": found["label"] == "urgent",
                         "lang": found.get("language") or "en", "text": found["text"]})
    return rows


def message_text(row: dict) -> str:
    return f"{row.get('subject', '')}\n{row['text']}"


def prepare(rows: list[dict]) -> list[tuple[list[list[tuple[int, int]]], float, float]]:
    """Each message as its windows' hashed features, its label and its weight."""
    out = []
    for row in rows:
        wins = [features.hashed(n) for _, n in urgency.window_features(message_text(row))]
        y = 1.0 if row["urgent"] else 0.0
        out.append((wins, y, URGENT_WEIGHT if y else 1.0))
    return out


def fit(items, seed: int = 7) -> list[float]:
    """Multiple-instance logistic regression with AdaGrad steps."""
    size = 1 << features.BUCKETS_LOG2
    w = [0.0] * size
    g2 = [1e-8] * size
    order = list(range(len(items)))
    rng = random.Random(seed)
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for i in order:
            wins, y, weight = items[i]
            best = max(wins, key=lambda feats: sum(s * w[b] for b, s in feats))
            z = sum(s * w[b] for b, s in best)
            grad = (model.probability(z) - y) * weight
            for b, s in best:
                g = grad * s + L2 * w[b]
                g2[b] += g * g
                w[b] -= RATE * g / math.sqrt(g2[b])
    return w


def score(w: list[float], wins) -> float:
    return max(sum(s * w[b] for b, s in feats) for feats in wins)


def cross_validate(items, folds: int = 5) -> list[tuple[float, float]]:
    """Out-of-fold (score, label) for every message."""
    out = []
    for k in range(folds):
        train = [it for i, it in enumerate(items) if i % folds != k]
        test = [it for i, it in enumerate(items) if i % folds == k]
        w = fit(train)
        out += [(score(w, wins), y) for wins, y, _ in test]
    return out


def threshold_for(scored: list[tuple[float, float]], recall: float) -> float:
    urgent = sorted(s for s, y in scored if y)
    return urgent[max(0, int(math.floor((1 - recall) * len(urgent))) - 0)] if urgent else 0.0


def rates(scored, threshold: float) -> str:
    urgent = [s for s, y in scored if y]
    ordinary = [s for s, y in scored if not y]
    hit = sum(s >= threshold for s in urgent)
    fa = sum(s >= threshold for s in ordinary)
    return (f"urgent flagged {hit}/{len(urgent)} ({100 * hit / max(1, len(urgent)):.1f}%), "
            f"ordinary flagged {fa}/{len(ordinary)} ({100 * fa / max(1, len(ordinary)):.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="cross-validation only")
    parser.add_argument("--out", default=str(Path(__file__).with_name("weights.bin")))
    parser.add_argument("--corrections", type=Path, help="gateway urgent corrections --json output")
    args = parser.parse_args()
    rows = load(TRAIN) + (corrections(args.corrections) if args.corrections else [])
    rng = random.Random(11)
    rng.shuffle(rows)
    started = time.monotonic()
    items = prepare(rows)
    scored = cross_validate(items)
    threshold = threshold_for(scored, TARGET_RECALL)
    print(f"{len(rows)} messages; five-fold, threshold {threshold:.3f}: {rates(scored, threshold)}")
    if args.check:
        return
    weights = fit(items)
    meta = {"trained_on": sorted({n for n in TRAIN if (DATA / n).exists()}) + (["corrections"] if args.corrections else []),
            "messages": len(rows),
            "cross_validated": rates(scored, threshold), "never_trained_on": HELD_OUT}
    Path(args.out).write_bytes(model.dump(weights, threshold, meta))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB) in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
