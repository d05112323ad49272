#!/usr/bin/env python3
"""Why deliveries failed, over the real bounces of ../shared/corpora/bounces: how many reports
get each reason, and how often "stop writing to this address" (suppress) agrees with the
upstream label "permanent" of flufl.bounce's test data (a permanent failure that is a full
mailbox or a refusal of our mail is, rightly, not suppressed: those are listed), and how
the permanent ones are treated: suppressed at once (the address is gone), scored (a full
mailbox, or a failure that gives no reason: suppressed only when it repeats over days) or
never counted (a refusal because of us).
Usage: .venv-test/bin/python bench/bounce_reasons.py [CORPORA_DIR]
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.mail import bounce_reasons, bounces  # noqa: E402


def main() -> None:
    corpora = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora"
    flufl = corpora / "bounces" / "flufl_bounce"
    reasons, agree, total, differ = collections.Counter(), 0, 0, []
    treated = collections.Counter()
    for entry in json.loads((flufl / "expected.json").read_text()):
        kinds = {r["kind"] for r in entry["detector_results"] if r["addresses"]}
        report = bounces.read((flufl / entry["file"]).read_bytes())
        if report is None or not kinds:
            continue
        reasons[report.reason or report.kind] += 1
        labelled_hard = "permanent" in kinds
        suppressed = report.kind == "bounce" and report.permanent and report.address_is_dead
        if labelled_hard:
            treated["suppressed at once" if suppressed else "scored" if bounce_reasons.scored(report.reason or "unknown")
                    else "never counted (because of us)" if report.because_of_us else "kept"] += 1
        total += 1
        agree += suppressed == labelled_hard
        if suppressed != labelled_hard:
            differ.append(f"{entry['file']}: upstream {'permanent' if labelled_hard else 'temporary'}, "
                          f"ours {report.reason} ({'suppress' if suppressed else 'keep'})")
    print("reasons:", ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    print(f"suppress agrees with upstream's permanent/temporary: {agree}/{total} ({100 * agree / total:.1f}%)")
    print("upstream's permanent failures:", ", ".join(f"{n} {how}" for how, n in treated.most_common()))
    for line in differ:
        print("  " + line)


if __name__ == "__main__":
    main()
