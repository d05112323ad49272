"""Authentication-Results (RFC 8601) from the receiving server we trust ([trust] authserv_id).

Only the topmost run of A-R headers bearing that authserv-id counts: the receiving server
adds its own on top of whatever the message brought with it, so anything a sender wrote
(forged headers with the same id further down) is never read. Hand-written: the grammar
needed is small, and the one library for it (authres) has not had a release since 2019.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COMMENT_RE = re.compile(r"\(([^()]*)\)")
RESULT_RE = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
PROPERTY_RE = re.compile(r"([a-z0-9_-]+\.[a-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)
POLICY_COMMENT_RE = re.compile(r"\bp\s*=\s*(none|quarantine|reject)\b", re.IGNORECASE)


@dataclass
class Method:
    name: str            # dkim, spf, dmarc, ...
    result: str          # pass, fail, softfail, none, ...
    properties: dict[str, str] = field(default_factory=dict)   # header.d, header.from, smtp.mailfrom ...
    comment: str = ""


def trusted_results(values: list[str], authserv_id: str) -> list[Method] | None:
    """The results in the topmost run of A-R headers with `authserv_id`; None if there is none."""
    methods: list[Method] | None = None
    for value in values:
        server, _, rest = _strip_comments(value)[0].partition(";")
        ours = (server.split() or [""])[0].lower() == authserv_id.lower()
        if methods is None and not ours:
            continue
        if methods is not None and not ours:
            break   # the run of our server's headers has ended
        methods = (methods or []) + _methods(value)
    return methods


def _strip_comments(value: str) -> tuple[str, str]:
    comments = " ".join(COMMENT_RE.findall(value))
    return COMMENT_RE.sub(" ", value), comments


def _methods(value: str) -> list[Method]:
    parts = value.split(";")[1:]
    found = []
    for part in parts:
        clean, comment = _strip_comments(part)
        match = RESULT_RE.match(clean)
        if not match:
            continue
        properties = {k.lower(): v.strip('"').lower() for k, v in PROPERTY_RE.findall(match.group(3))}
        found.append(Method(match.group(1).lower(), match.group(2).lower(), properties, comment))
    return found


def policy_of(method: Method) -> str:
    """The From domain's published DMARC policy, when the server says it (a property or the
    common '(p=reject dis=none)' comment); "" when it does not."""
    published = method.properties.get("policy.published-domain-policy", "")
    if published in ("none", "quarantine", "reject"):
        return published
    match = POLICY_COMMENT_RE.search(method.comment)
    return match.group(1).lower() if match else ""
