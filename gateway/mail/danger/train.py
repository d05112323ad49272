"""Train the danger model: `python -m gateway.mail.danger.train [--check] [--out FILE]`.

Reads the labelled sets named in TRAIN (never those in HELD_OUT) and learns two logistic models:
one by multiple-instance learning (a message is as urgent as its most urgent window of
sentences, so the update goes to that window) and one of the message whole. Their mix and the
threshold are chosen by leaving one writer out at a time (each independent batch is one writer;
our own examples are one more): the model is trained without that writer and scored on their
messages, as it will be on a resident it has never read. The threshold flags at least
TARGET_RECALL of urgent messages so scored. Writes weights.bin. Deterministic: the same data
gives the same file. Pure Python; a few minutes on one core.
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
         "independent/batch_o.jsonl", "independent/batch_s.jsonl", "independent/batch_t.jsonl",
         "independent/batch_u.jsonl", "independent/batch_v.jsonl", "independent/batch_p.jsonl",
         "independent/batch_y.jsonl", "independent/batch_z.jsonl", "independent/batch_ae.jsonl"]
HELD_OUT = ["independent/batch_b.jsonl", "independent/batch_j.jsonl", "independent/batch_k.jsonl",
            "independent/batch_q.jsonl", "independent/batch_r.jsonl", "independent/batch_w.jsonl",
            "independent/batch_x.jsonl"]
TARGET_RECALL = 0.97   # when in doubt, flag: chosen on cross-validation, never on the batches kept apart
EPOCHS = 12
RATE = 0.1
L2 = 1e-5
URGENT_WEIGHT = 2.0     # a miss may cost a life; a false alarm costs a sentence about 999
MIXES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def load(names: list[str]) -> list[dict]:
    """The rows of the named sets; a row of an independent batch knows its writer (the batch)."""
    rows = []
    for name in names:
        path = DATA / name
        if path.exists():
            who = path.stem if name.startswith("independent/") else "own"
            rows += [dict(json.loads(line), writer=who)
                     for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
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


def prepare(rows: list[dict]) -> list[tuple[list[list[tuple[int, int]]], float, float, list[tuple[int, int]]]]:
    """Each message as its windows' hashed features, its label, its weight and its hashed
    features as a whole."""
    out = []
    for row in rows:
        text = urgency.normal(message_text(row))
        windows, whole_message = urgency.read(text)
        y = 1.0 if row["urgent"] else 0.0
        out.append(([features.hashed(n) for _, n in windows], y, URGENT_WEIGHT if y else 1.0,
                    features.hashed(whole_message)))
    return out


def whole(items) -> list:
    """The same messages as one window each, for the model of the message whole."""
    return [([item[3]], item[1], item[2]) for item in items]


def writer(row: dict) -> str:
    """Who wrote a row: an independent batch, or "own" (ours, the neutral sentences, officers'
    corrections)."""
    return row.get("writer", "own")


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
            wins, y, weight = items[i][:3]
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


def cross_validate(items, writers: list[str], progress=lambda line: None) -> list[tuple[float, float, float]]:
    """Out-of-writer (window score, whole score, label) for every message: for each writer, both
    models are trained on everyone else's messages and score that writer's."""
    out: list = [None] * len(items)
    for n, left_out in enumerate(sorted(set(writers)), 1):
        progress(f"leaving out writer {n} of {len(set(writers))} ({left_out})")
        train = [it for it, who in zip(items, writers) if who != left_out]
        w_window, w_whole = fit(train), fit(whole(train))
        for i, (it, who) in enumerate(zip(items, writers)):
            if who == left_out:
                out[i] = (score(w_window, it[0]), score(w_whole, [it[3]]), it[1])
    return out


def choose_mix(scored: list[tuple[float, float, float]], recall: float) -> tuple[float, list[tuple[float, float]]]:
    """The window model's share that raises fewest false alarms at the recall asked for."""
    best = None
    for share in MIXES:
        mixed = [(model.mix(share, a, b), y) for a, b, y in scored]
        threshold = threshold_for(mixed, recall)
        alarms = sum(s >= threshold for s, y in mixed if not y)
        if best is None or alarms < best[0]:
            best = (alarms, share, mixed)
    return best[1], best[2]


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


def say(line: str) -> None:
    """Progress on standard error: training takes a few minutes."""
    print(line, file=sys.stderr, flush=True)


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
    say(f"reading {len(rows)} messages")
    items = prepare(rows)
    share, scored = choose_mix(cross_validate(items, [writer(r) for r in rows], say), TARGET_RECALL)
    threshold = threshold_for(scored, TARGET_RECALL)
    print(f"{len(rows)} messages; leaving one writer out, mix {share} (the window model's share), "
          f"threshold {threshold:.3f} (the mixed score at and above which a message is urgent): "
          f"{rates(scored, threshold)}")
    for lang in ("en", "cy"):
        found = [pair for pair, r in zip(scored, rows) if r.get("lang") == lang and writer(r) != "own"]
        print(f"  independent writers [{lang}]: {rates(found, threshold)}")
    if args.check:
        return
    meta = {"trained_on": sorted({n for n in TRAIN if (DATA / n).exists()}) + (["corrections"] if args.corrections else []),
            "messages": len(rows),
            "cross_validated": f"leaving one writer out: {rates(scored, threshold)}", "never_trained_on": HELD_OUT}
    say("training the two models on every message")
    Path(args.out).write_bytes(model.dump(fit(items), fit(whole(items)), share, threshold, meta))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB) in {time.monotonic() - started:.0f} s")

if __name__ == "__main__":
    sys.exit(main())
