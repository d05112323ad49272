"""Issue 23, found by an independent attack: only the topmost Authentication-Results header
bearing our authserv-id is read, so a forged one a sender wrote right below the receiving
server's own (or below anything else) is never believed."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.config.security import TrustSettings
from gateway.trust import verdict

TRUST = TrustSettings(authserv_id="mx.police.example", authserv_networks=(ipaddress.ip_network("127.0.0.2/32"),),
                      police_domains=("police.example",))
FROM_MX = verdict.Seen("127.0.0.2", "mx.police.example", "pc.jones@police.example", "smtp")
FORGED = "mx.police.example; dkim=pass header.d=police.example; dmarc=pass header.from=police.example"


def judge(headers: list[str]) -> verdict.Verdict:
    return verdict.check(b"", "pc.jones@police.example", None, headers, FROM_MX, TRUST, resolver=None, budget=None)


@pytest.mark.parametrize("top", ["mx.police.example; spf=fail smtp.mailfrom=police.example; dkim=none",
                                 "mx.police.example; none",
                                 "mx.police.example; spf=pass smtp.mailfrom=police.example"])
def test_a_forged_header_below_the_servers_own_is_not_read(top):
    assert not judge([top, FORGED]).authenticated


def test_the_servers_own_verdict_on_top_is_read():
    assert judge([FORGED]).authenticated
    assert judge(["other.example; dmarc=fail header.from=police.example", FORGED]).authenticated
