"""The shipped weights, loaded once from the package, and the score of a stretch of text.

`weights.bin` is one line of JSON (what was trained on, when, the threshold chosen) followed by
the weights as 16-bit integers, zlib-compressed. Scoring is a sum over the features present:
no numpy, no model server.
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

MAGIC = b"surgery-gateway danger model 1\n"


@dataclass(frozen=True)
class Model:
    weights: array          # float, one per bucket
    threshold: float        # the logit at and above which a message is urgent
    meta: dict

    def logit(self, feature_names: set[str]) -> float:
        w = self.weights
        return sum(sign * w[bucket] for bucket, sign in features.hashed(feature_names))

    def weight_of(self, name: str) -> float:
        ((bucket, sign),) = features.hashed({name})
        return sign * self.weights[bucket]


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def dump(weights: list[float], threshold: float, meta: dict) -> bytes:
    """The file's bytes: the header line, then the weights quantised to 16 bits."""
    scale = max(1e-9, max(abs(x) for x in weights)) / 32767
    quantised = array("h", (round(x / scale) for x in weights))
    header = dict(meta, threshold=threshold, scale=scale, buckets_log2=features.BUCKETS_LOG2)
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + zlib.compress(quantised.tobytes(), 9)


def parse(data: bytes) -> Model:
    if not data.startswith(MAGIC):
        raise ValueError("not a danger model file")
    header_line, _, body = data[len(MAGIC):].partition(b"\n")
    header = json.loads(header_line)
    if header["buckets_log2"] != features.BUCKETS_LOG2:
        raise ValueError("the danger model was trained with another number of buckets: retrain it")
    quantised = array("h")
    quantised.frombytes(zlib.decompress(body))
    scale = header["scale"]
    return Model(array("f", (q * scale for q in quantised)), header["threshold"], header)


@lru_cache(maxsize=1)
def shipped() -> Model:
    """The model inside the package (read once per process)."""
    return parse(resources.files("gateway.mail.danger").joinpath("weights.bin").read_bytes())
