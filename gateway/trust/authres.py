"""Authentication-Results (RFC 8601) from the receiving server we trust ([trust] authserv_id).

Only the topmost A-R header bearing that authserv-id counts: the receiving server adds its
own on top of whatever the message brought with it, so anything a sender wrote (forged
headers with the same id further down, even right below the server's own) is never read.
So the server must write its whole verdict, with dmarc=, in one header at the top (Exchange
Online, Gmail, rspamd and OpenDMARC do; RFC 8601 section 5 also asks it to remove any header
bearing its id that arrived with the message). Hand-written: the grammar
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
    """The results in the topmost A-R header with `authserv_id`; None if there is none. A
    second header with the id, even right below it, is not read: a sender can write one
    there, and the server's own run of headers cannot be told from it."""
    for value in values:
        server = _strip_comments(value)[0].partition(";")[0]
        if (server.split() or [""])[0].lower() == authserv_id.lower():
            return _methods(value)
    return None


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
