"""The sender check: who a message is from, as far as the gateway can tell.

Three routes, as configured in [trust]: the gateway's own DKIM, SPF and DMARC checks (the
default); a trusted receiving server's Authentication-Results (authserv_id), read only on
mail that server handed over (an SMTP client in authserv_networks, or the [imap] mailbox);
and, for a force's internal mail servers that do not sign, a trusted network together with
a trusted domain. A From header proves nothing by itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from gateway.config.security import TrustSettings
from gateway.mail.addresses import split, within
from gateway.trust import authres, dkim, dmarc, spf
from gateway.trust.dns import DnsTemporary, Resolver


@dataclass(frozen=True)
class Seen:
    """How the message reached us: the SMTP client's address and HELO name, the envelope
    sender, and the door it came in by (smtp, imap, inject, history; "" unknown, as for
    `gateway inspect`). peer is None for IMAP and injected mail (no connection to judge)."""

    peer: str | None
    helo: str | None
    mail_from: str
    source: str = ""


@dataclass(frozen=True)
class Verdict:
    from_domain: str
    authenticated: bool = False   # the From domain is proven (aligned DKIM or SPF, a trusted A-R or network)
    verified: bool = False        # SPF passed or DKIM aligned: safe to repeat the sender's words
    forged: bool = False          # the domain's own policy says this mail is not theirs
    temporary: bool = False       # DNS could not answer: the question is still open
    method: str = ""              # how it was authenticated: dkim, spf, authserv, network
    spf: str = "none"
    dkim: tuple[dkim.Signature, ...] = ()
    aligned: tuple[dkim.Signature, ...] = ()   # the signatures that verified, aligned with the From domain
    dmarc_policy: str = ""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()   # said whatever the outcome (headers that were not believed)

    def why(self) -> str:
        """In plain words, for the team mailbox and the case's history."""
        said = "; ".join(self.reasons) or ("authenticated by " + self.method if self.authenticated else "not checked")
        return "; ".join((*self.notes, said))


def check(raw: bytes, from_address: str, from_problem: str | None, authentication_results: list[str],
          seen: Seen, trust: TrustSettings, resolver: Resolver, budget: float | None) -> Verdict:
    """Judge the sender of one message. `budget` bounds the seconds all DNS lookups may take
    together (None: each lookup has the resolver's own timeout)."""
    domain = split(from_address)[1]
    if from_problem:
        return Verdict(domain, reasons=(f"the sender cannot be told: {from_problem}",))
    if not domain:
        return Verdict(domain, reasons=("no From address",))
    if within(domain, trust.trusted_domains) and _peer_in(seen.peer, trust.trusted_networks):
        return Verdict(domain, authenticated=True, verified=True, method="network",
                       reasons=(f"sent from the trusted network address {seen.peer}",))
    notes = ()
    if trust.authserv_id:
        ignored = _authserv_absent(seen, trust)
        if ignored is None:
            return _from_authserv(domain, authentication_results, trust.authserv_id)
        # Anyone can write our server's name into a header: on mail that server did not hand
        # over, its headers neither help nor hurt, and the sender is judged here as without it.
        if authres.trusted_results(authentication_results, trust.authserv_id) is not None:
            notes = (f"Authentication-Results from {trust.authserv_id} ignored: {ignored}",)
    with resolver.budget(budget):
        return replace(_own_check(raw, domain, seen, resolver), notes=notes)


def _authserv_absent(seen: Seen, trust: TrustSettings) -> str | None:
    """None when the trusted receiving server handed this message over (its SMTP client is in
    authserv_networks, or it came from the [imap] mailbox that server delivers to); else why not."""
    if seen.source == "imap" or _peer_in(seen.peer, trust.authserv_networks):
        return None
    if seen.peer:
        return f"the message did not come from [trust] authserv_networks (it came from {seen.peer})"
    return "the message did not come from [trust] authserv_networks or the [imap] mailbox"


def _peer_in(peer: str | None, networks: tuple) -> bool:
    """Whether the SMTP client's address is in one of `networks` (an IPv4-mapped IPv6
    address counts as the IPv4 one)."""
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _from_authserv(domain: str, values: list[str], authserv_id: str) -> Verdict:
    methods = authres.trusted_results(values, authserv_id)
    if methods is None:
        return Verdict(domain, reasons=(f"no Authentication-Results from {authserv_id}",))
    dmarc_results = [m for m in methods if m.name == "dmarc"]
    dkim_passes = [m for m in methods if m.name == "dkim" and m.result == "pass"]
    spf_result = next((m.result for m in methods if m.name == "spf"), "none")
    policy = next((authres.policy_of(m) for m in dmarc_results if authres.policy_of(m)), "")
    failed = any(m.result != "pass" for m in dmarc_results)
    dmarc_ok = any(m.result == "pass" and m.properties.get("header.from") == domain for m in dmarc_results)
    dkim_ok = any(dmarc.aligned(m.properties.get("header.d", ""), domain) for m in dkim_passes)
    authenticated = not failed and (dmarc_ok or dkim_ok)
    reasons = []
    if failed:
        reasons.append(f"{authserv_id} reports dmarc={dmarc_results[0].result} for {domain}")
    elif not authenticated:
        said = ", ".join(f"{m.name}={m.result}" for m in methods) or "nothing"
        reasons.append(f"{authserv_id} reports {said}, nothing aligned with {domain}")
    spf_domain = next((m.properties.get("smtp.mailfrom", "").rpartition("@")[2] for m in methods if m.name == "spf"), "")
    verified = authenticated or dkim_ok or (spf_result == "pass" and dmarc.aligned(spf_domain, domain, "r"))
    return Verdict(domain, authenticated=authenticated, verified=verified,
                   forged=not authenticated and (spf_result == "fail" or (failed and policy in ("quarantine", "reject"))),
                   method="authserv" if authenticated else "", spf=spf_result, dmarc_policy=policy,
                   reasons=tuple(reasons))


def _own_check(raw: bytes, domain: str, seen: Seen, resolver: Resolver) -> Verdict:
    temporary: list[str] = []
    signatures = tuple(dkim.verify(raw, resolver)) if b"dkim-signature" in raw[:65536].lower() else ()
    temporary += [f"DKIM key for {s.domain} could not be fetched" for s in signatures if s.result == "temperror"]
    spf_result, spf_domain = spf.check(seen.peer or "", seen.mail_from, seen.helo or "", resolver)
    if spf_result == "temperror":
        temporary.append(f"SPF for {spf_domain} could not be fetched")
    try:
        policy = dmarc.policy(domain, resolver)
    except DnsTemporary:
        policy = None
        temporary.append(f"the DMARC record of {domain} could not be fetched")
    adkim, aspf = (policy.adkim, policy.aspf) if policy else ("r", "r")
    aligned = tuple(s for s in signatures if s.result == "pass" and dmarc.aligned(s.domain, domain, adkim))
    dkim_aligned = bool(aligned)
    spf_aligned = spf_result == "pass" and dmarc.aligned(spf_domain, domain, aspf)
    authenticated = dkim_aligned or spf_aligned
    stated = policy.policy if policy else ""
    forged = not authenticated and not temporary and (spf_result == "fail" or stated in ("quarantine", "reject"))
    reasons = () if authenticated else tuple(_reasons(domain, signatures, spf_result, spf_domain, seen, stated))
    # Repeating the sender's words is safe only when the mail is shown to come from the From
    # domain: the acknowledgement goes to the From address, whatever the envelope said.
    verified = dkim_aligned or (spf_result == "pass" and dmarc.aligned(spf_domain, domain, "r"))
    return Verdict(domain, authenticated=authenticated, verified=verified,
                   forged=forged, temporary=bool(temporary) and not authenticated,
                   method=("dkim" if dkim_aligned else "spf") if authenticated else "", spf=spf_result,
                   dkim=signatures, aligned=aligned, dmarc_policy=stated, reasons=tuple(temporary) + reasons)


def _reasons(domain: str, signatures, spf_result: str, spf_domain: str, seen: Seen, policy: str) -> list[str]:
    passed = [s.domain for s in signatures if s.result == "pass"]
    if not signatures:
        words = [f"no DKIM signature from {domain}"]
    elif passed:
        words = [f"DKIM signature from {', '.join(passed)}, which is not {domain}"]
    else:
        words = [f"DKIM signature from {signatures[0].domain or '?'} did not verify ({signatures[0].result})"]
    if seen.peer is None:
        words.append("SPF not checked (no SMTP connection)")
    elif spf_result == "pass":
        words.append(f"SPF pass for {spf_domain}, which is not {domain}")
    else:
        words.append(f"SPF {spf_result}" + (f" for {spf_domain} from {seen.peer}" if spf_domain else ""))
    if policy:
        words.append(f"{domain} publishes DMARC p={policy}")
    return words


def needs_dns(from_address: str, from_problem: str | None, seen: Seen, trust: TrustSettings) -> bool:
    """Whether check() would ask DNS about this message (not when it cannot be judged, nor
    for a trusted server's Authentication-Results or a trusted network)."""
    domain = split(from_address)[1]
    if not domain or from_problem or (within(domain, trust.trusted_domains) and _peer_in(seen.peer, trust.trusted_networks)):
        return False
    return not (trust.authserv_id and _authserv_absent(seen, trust) is None)
