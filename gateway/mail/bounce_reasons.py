"""Why a delivery failed, in a word, and whether to stop writing to the address. Pure.

From the enhanced status codes (RFC 3463) and the receiving servers' own words (Postfix,
Exim, Exchange and Office 365, Gmail, Yahoo, qmail, Sendmail write them differently):

  gone            user_unknown, domain_unknown, mailbox_disabled: stop writing to it
  soft            mailbox_full, delayed, greylisted: counted; suppressed only after repeated
                  soft failures over days (bounces.SoftScore)
  refused for us  blocked, spam, policy, reputation, authentication, rate_limited, too_big:
                  never the resident's fault; never suppress them, tell the administrators
  unknown         a permanent failure that says nothing more: scored like a soft one, never
                  suppressed at once (a server that explains nothing may be refusing us,
                  not the address)
"""

from __future__ import annotations

import re

GONE = ("user_unknown", "domain_unknown", "mailbox_disabled")
SOFT = ("mailbox_full", "delayed", "greylisted")
BECAUSE_OF_US = ("blocked", "spam", "policy", "reputation", "authentication", "rate_limited", "too_big")

# Words first (they are more specific than codes, which servers misuse), most specific first.
TEXT_RULES = (
    ("authentication", r"dmarc|spf|dkim|not authenticated|authentication (?:required|failed)|5\.7\.2[3-9]|"
                       r"unauthenticated|sender (?:domain )?(?:not )?verif"),
    ("reputation", r"reputation|spamhaus|barracuda|blacklist|blocklist|block list|black list|listed (?:at|by|on|in)|"
                   r"\brbl\b|\bdnsbl\b|\bsorbs\b|spamcop|poor sending|ip (?:address )?(?:is )?(?:blocked|banned)"),
    ("spam", r"\bspam\b|junk|unsolicited|content filter|looks like spam|bulk mail|phish"),
    ("rate_limited", r"rate limit|too many (?:messages|connections|recipients)|throttl|try again later.*(?:rate|volume)|"
                     r"4\.7\.28|exceeded (?:the )?(?:rate|sending)|unusual rate|receiving mail at a rate"),
    ("too_big", r"too (?:big|large)|message size|size limit|exceeds (?:the )?(?:maximum|size)|5\.3\.4|552 5\.2\.3"),
    ("greylisted", r"grey ?list|gray ?list|greylisted|temporarily (?:deferred|rejected).*(?:try|retry)|"
                   r"please try again later"),
    ("mailbox_full", r"quota|mailbox (?:is )?full|over ?quota|insufficient (?:storage|space)|disk full|"
                     r"storage (?:limit|full)|exceeded storage|mailbox size limit"),
    ("mailbox_disabled", r"(?:account|mailbox|user) (?:is |has been )?(?:disabled|inactive|suspended|deactivated|closed|"
                         r"locked|expired)|no longer (?:active|in use|valid)|account.*(?:terminated|deleted)|"
                         r"not been collected|dormant"),
    ("domain_unknown", r"domain (?:not found|does not exist|doesn'?t exist|unknown)|no such domain|host (?:or domain )?"
                       r"(?:name )?(?:not found|unknown|lookup failed)|unrouteable (?:mail )?domain|no mx|"
                       r"name service error|nxdomain|domain .*(?:not|no longer) accept|does not accept mail"),
    ("user_unknown", r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|person)|"
                     r"does ?n[o']t exist|doesn'?t have an? (?:account|mailbox)|not (?:a )?(?:valid|known) "
                     r"(?:user|recipient|mailbox)|invalid (?:recipient|mailbox|address|user)|recipient (?:address )?"
                     r"rejected|mailbox (?:unavailable|not found)|unknown (?:recipient|local part|address)|"
                     r"address (?:rejected|not found)|no mailbox|unrouteable address|not our customer|"
                     r"couldn'?t be found|recipient not found|undeliverable address|not listed in|"
                     r"name is not recognized|problem with the e-?mail address|did not exactly match"),
    ("policy", r"not accepting mail from|policy|not (?:permitted|allowed)|rejected (?:due to|for|because)|refused|denied|prohibited|"
               r"relay(?:ing)? (?:denied|not permitted)|administrative prohibition|blocked"),
)
CODE_RULES = (
    (r"^5\.1\.[0-36]$", "user_unknown"), (r"^5\.1\.10$", "user_unknown"), (r"^5\.1\.2$", "domain_unknown"),
    (r"^[45]\.2\.1$", "mailbox_disabled"), (r"^[45]\.2\.2$", "mailbox_full"), (r"^5\.2\.3$", "too_big"),
    (r"^5\.3\.4$", "too_big"), (r"^5\.7\.2[3-9]$", "authentication"), (r"^5\.7\.1$", "policy"),
    (r"^4\.7\.(?:0|28)$", "rate_limited"), (r"^4\.", "delayed"),
)
STATUS_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_TEXT = [(reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in TEXT_RULES]
_CODES = [(re.compile(pattern), reason) for pattern, reason in CODE_RULES]


def reason(codes: str, diagnostic: str, human: str, permanent: bool, delay: bool = False) -> str:
    """A short word for why delivery failed: from the receiving server's diagnostic first
    (the report's machine part), then the status codes, then the words of the report."""
    if delay:
        return "greylisted" if _by_words(diagnostic + " " + human, True) == "greylisted" else "delayed"
    return (_by_words(diagnostic, permanent) or _by_codes(codes) or _by_words(human, permanent)
            or ("unknown" if permanent else "delayed"))


def _by_words(words: str, permanent: bool) -> str | None:
    for name, pattern in _TEXT:
        if pattern.search(words) and not (name == "greylisted" and permanent):
            return name
    return None


def _by_codes(codes: str) -> str | None:
    for code in STATUS_RE.findall(codes):
        for pattern, name in _CODES:
            if pattern.match(code):
                return name
    return None


def suppress(why: str) -> bool:
    """Stop writing to the address at once: only when it is gone. Soft and unexplained
    failures are scored (scored()); refusals because of us never count."""
    return why in GONE


def scored(why: str) -> bool:
    """Counted towards suppression after repeated failures over days (people.count_soft_bounce)."""
    return why in SOFT or why == "unknown"
