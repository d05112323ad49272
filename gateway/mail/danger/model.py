"""The shipped weights, loaded once from the package, and the score of a message.

Two linear models over the same features, mixed: one reads each window of three sentences and
the message is as urgent as its most urgent window (danger buried in a long email); the other
reads the message whole (a window that sounds like danger in a message about a novel, a court
case or a course). Measured on writers left out of training, the mix raises fewer false alarms
at the same recall than either alone.

`weights.bin` is one line of JSON (what was trained on, the mix, the threshold chosen) followed
by the two weight arrays as 16-bit integers, zlib-compressed. Scoring is a sum over the
features present: no numpy, no model server.
"""

from __future__ import annotations

import json
import math
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from gateway.mail.danger import features

MAGIC = b"surgery-gateway danger model 2\n"


@dataclass(frozen=True)
class Model:
    window: array           # float, one per bucket: the model of a window of sentences
    whole: array            # float, one per bucket: the model of the whole message
    mix: float              # the window model's share of the score
    threshold: float        # the score at and above which a message is urgent
    meta: dict

    def score(self, windows: list[tuple[str, set[str]]], whole: set[str]) -> tuple[float, str]:
        """The message's score and the window that decided it, from the features of each window
        and of the message whole (gateway.mail.urgency)."""
        logit, chunk = max(((dot(self.window, names), chunk) for chunk, names in windows), key=lambda pair: pair[0])
        return mix(self.mix, logit, dot(self.whole, whole)), chunk

    def weight_of(self, name: str) -> float:
        ((bucket, sign),) = features.hashed({name})
        return sign * self.window[bucket]


def dot(weights, feature_names: set[str]) -> float:
    return sum(sign * weights[bucket] for bucket, sign in features.hashed(feature_names))


def mix(share: float, window: float, whole: float) -> float:
    return share * window + (1 - share) * whole


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def dump(window: list[float], whole: list[float], share: float, threshold: float, meta: dict) -> bytes:
    """The file's bytes: the header line, then both arrays quantised to 16 bits."""
    scale = max(1e-9, max(abs(x) for x in [*window, *whole])) / 32767
    quantised = array("h", (round(x / scale) for x in [*window, *whole]))
    header = dict(meta, mix=share, threshold=threshold, scale=scale, buckets_log2=features.BUCKETS_LOG2)
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + zlib.compress(quantised.tobytes(), 9)


def parse(data: bytes) -> Model:
    if not data.startswith(MAGIC):
        raise ValueError("not a danger model file (or one of an older format): retrain it")
    header_line, _, body = data[len(MAGIC):].partition(b"\n")
    header = json.loads(header_line)
    if header["buckets_log2"] != features.BUCKETS_LOG2:
        raise ValueError("the danger model was trained with another number of buckets: retrain it")
    quantised = array("h")
    try:
        quantised.frombytes(zlib.decompress(body))
    except zlib.error as exc:
        raise ValueError(f"the danger model file is damaged ({exc}): retrain it") from exc
    size = 1 << features.BUCKETS_LOG2
    if len(quantised) != 2 * size:
        raise ValueError("the danger model file is truncated: retrain it")
    scale = header["scale"]
    weights = array("f", (q * scale for q in quantised))
    return Model(weights[:size], weights[size:], header["mix"], header["threshold"], header)


@lru_cache(maxsize=1)
def shipped() -> Model:
    """The model inside the package (read once per process)."""
    return parse(resources.files("gateway.mail.danger").joinpath("weights.bin").read_bytes())
