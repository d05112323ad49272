"""Would an officer's mail be accepted today? The DNS facts behind the sender check of
trust.verdict, asked of DNS without a message (`gateway officer check`).

A DKIM selector is not something DNS lists: the sender check reads it from each signature's
s= tag. So the selectors tried are the ones named (`--selector`) and those of Microsoft 365
(Exchange Online signs with selector1 or selector2), at the From domain and, when the
domain's DMARC record allows relaxed alignment, at its organisational domain too. SPF and
DMARC are read as the check reads them; the trusted network and receiving server routes come
from [trust].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.config.security import TrustSettings
from gateway.mail.addresses import split, within
from gateway.trust import dmarc
from gateway.trust.dns import DnsTemporary, Resolver

# Exchange Online, where forces keep their mail (PRODUCT.md), signs with one of these two.
EXCHANGE_SELECTORS = ("selector1", "selector2")
_NEVER_PASSES = re.compile(r"^v=spf1\s+[-~?]all\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Facts:
    """What DNS and [trust] say of one domain's mail."""

    domain: str
    dkim_found: tuple[str, ...] = ()     # names (sel._domainkey.domain) holding a DKIM key
    dkim_missing: tuple[str, ...] = ()   # names asked that hold none
    spf: str = ""                        # the SPF record, "" when none
    dmarc: dmarc.Policy | None = None
    network: tuple[str, ...] = ()        # trusted_networks, when the domain is a trusted_domain
    authserv_id: str = ""                # [trust] authserv_id, when set
    unanswered: tuple[str, ...] = field(default_factory=tuple)   # lookups DNS could not answer

    @property
    def spf_can_pass(self) -> bool:
        """Whether the SPF record lets some server pass (one that says only -all lets none)."""
        return bool(self.spf) and not _NEVER_PASSES.match(self.spf)

    @property
    def routes(self) -> tuple[str, ...]:
        """The ways this domain's mail would be authenticated today, in words."""
        found = []
        if self.network:
            found.append(f"trusted network ({', '.join(self.network)})")
        if self.dkim_found:
            found.append(f"DKIM (key at {', '.join(self.dkim_found)})")
        if self.spf_can_pass:
            found.append("SPF (from the servers its record lists)")
        return tuple(found)


def facts(address: str, trust: TrustSettings, resolver: Resolver, selectors: tuple[str, ...] = ()) -> Facts:
    """Ask DNS about the domain of `address` as the sender check would."""
    domain = split(address)[1]
    unanswered: list[str] = []
    policy = _ask(lambda: dmarc.policy(domain, resolver), f"_dmarc.{domain}", unanswered)
    names = [domain]
    if (policy is None or policy.adkim != "s") and dmarc.org_domain(domain) != domain:
        names.append(dmarc.org_domain(domain))   # relaxed alignment: the organisation's key counts too
    found, missing = [], []
    for selector in dict.fromkeys((*selectors, *EXCHANGE_SELECTORS)):
        for name in names:
            where = f"{selector}._domainkey.{name}"
            records = _ask(lambda: resolver.txt(where), where, unanswered)
            if records is not None:   # None: DNS gave no answer, so neither found nor missing
                (found if any(_has_key(r) for r in records) else missing).append(where)
    spf = next((r for r in _ask(lambda: resolver.txt(domain), domain, unanswered) or []
                if r.lower().startswith("v=spf1")), "")
    network = tuple(str(n) for n in trust.trusted_networks) if within(domain, trust.trusted_domains) else ()
    return Facts(domain=domain, dkim_found=tuple(found), dkim_missing=tuple(missing), spf=spf, dmarc=policy,
                 network=network, authserv_id=trust.authserv_id, unanswered=tuple(unanswered))


def _ask(lookup, name: str, unanswered: list[str]):
    try:
        return lookup()
    except DnsTemporary:
        unanswered.append(name)
        return None


def _has_key(record: str) -> bool:
    """A DKIM key record with a key in it (an empty p= is a key revoked)."""
    tags = {key.strip().lower(): value.strip() for key, _, value in (p.partition("=") for p in record.split(";"))}
    return bool(tags.get("p"))
