#!/usr/bin/env python3
"""What removing police addresses (gateway.mail.scrub) costs per officer's answer of about
2 KB, for the kinds of answer the gateway relays:

  English, no address          the common case: plain text, nothing to remove
  English, 3 addresses         a signature and two addresses in the text
  Welsh, no address            accented letters everywhere (ŵ ŷ â): every character is read
  disguised, 6 addresses       entities, percent-encoding, invisible characters, "at"/"dot"
  HTML source, 4 addresses     tags, a mailto: link, &#64;
  hostile, 2 KB of near-misses "x{dot}" runs, police.example repeated with no at, "a b c" spacing

"replaced": how many spans became "[address removed]" (addresses side by side in HTML can
become one); "police left": what is still there. Medians of R rounds of N calls each, in
microseconds of CPU per call. Usage:
.venv-test/bin/python bench/scrub.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.mail.scrub import police_addresses_removed  # noqa: E402

DOMAINS = ("police.example", "police.uk")
PARAGRAPH = ("Thank you for reporting the bikes on the pavement. We have spoken to the council and a "
             "patrol will visit Hill Street on Friday afternoon at about 4pm. If it happens again, "
             "please write back with the time and a description. ")
WELSH = ("Diolch am roi gwybod am y beiciau ar y palmant. Rydym wedi siarad â'r cyngor a bydd "
         "patrôl yn ymweld â Stryd y Bryn ddydd Gwener. Os bydd yn digwydd eto, ysgrifennwch atom "
         "gyda'r amser a disgrifiad; mae'r ŵyl yn y dref yn brysur. ")


def two_kb(text: str, tail: str = "") -> str:
    body = (text * (2048 // len(text) + 1))[:2048 - len(tail)]
    return body + tail


ANSWERS = {
    "English, no address": two_kb(PARAGRAPH),
    "English, 3 addresses": two_kb(PARAGRAPH, "Write to sgt.evans@mail.police.example or dc.smith@north-wales."
                                   "police.uk.\nPC 1234 Jones | 01978 123456 | pc.jones@police.example\n"),
    "Welsh, no address": two_kb(WELSH),
    "disguised, 6 addresses": two_kb(PARAGRAPH, "pc.jones&#64;police.example, sgt at police dot example, "
                                     "mailto:dc%40police%2Eexample, pc.owen@poli\u00adce\u3002example, "
                                     '"pc evans"@[police.example], police.example!pc.evans@relay.example\n'),
    "HTML source, 4 addresses": two_kb('<p>We will <b>patrol</b> on Friday.</p>\n',
                                       '<a href="mailto:pc.jones@police.example">pc.jones&#64;police.example</a>'
                                       "<b>sgt</b>@<i>police</i>.example dc@<span>police.uk</span>\n"),
    "hostile, 2 KB of near-misses": two_kb("x{dot}y{dot}z police.example police . example a b c d e f (at) "),
}


def per_call(text: str, calls: int) -> float:
    started = time.process_time()   # CPU time: the machine may be shared
    for _ in range(calls):
        police_addresses_removed(text, DOMAINS)
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'answer':30} {'bytes':>6} {'replaced':>9} {'police left':>12} {'µs per call (median)':>21}")
    for name, text in ANSWERS.items():
        out = police_addresses_removed(text, DOMAINS)
        left = out.lower().count("police")   # in the hostile row: the domain named on its own
        median = statistics.median(per_call(text, args.calls) for _ in range(args.rounds))
        print(f"{name:30} {len(text.encode()):>6} {out.count('[address removed]'):>9} {left:>12} {median:>21.0f}")


if __name__ == "__main__":
    main()
