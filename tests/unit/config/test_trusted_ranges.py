"""[trust] trusted_networks and authserv_networks: a range that would trust the Internet is
refused; the networks a force runs for itself are not (issue 23)."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.config.security import too_wide
from tests.unit.config.test_config import problems_for


@pytest.mark.parametrize("network", [
    "0.0.0.0/0", "::/0",                  # everyone
    "0.0.0.0/1", "8.0.0.0/8", "81.2.0.0/16", "81.2.69.0/23",   # public, wider than a /24
    "2001:db8::/32", "2a00:1450::/47", "2000::/3",             # public, wider than a /48
    "100.64.0.0/10", "100.64.0.0/16",     # carrier-grade NAT: shared with the carrier's other customers
    "172.0.0.0/8",                        # holds 172.16.0.0/12, and public addresses around it
    "::ffff:0.0.0.0/96", "::ffff:81.2.0.0/112",   # IPv4-mapped: judged as the IPv4 range inside
    "64:ff9b::/64",                       # holds NAT64's 64:ff9b::/96, every IPv4 address
])
def test_a_range_holding_the_public_wider_than_a_24_or_48_is_refused(network):
    assert too_wide(ipaddress.ip_network(network, strict=False))


@pytest.mark.parametrize("network", [
    "127.0.0.0/8", "10.0.0.0/8", "10.20.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fd12:3456::/32", "fe80::/10",   # loopback, private, link-local: any size
    "81.2.69.0/24", "81.2.69.160/27", "203.0.113.7/32",     # public, but one /24 or narrower
    "2001:db8:1234::/48", "2001:db8::25/128", "100.64.1.0/24",
    "::ffff:10.0.0.0/104",                                   # 10.0.0.0/8, IPv4-mapped
])
def test_private_ranges_of_any_size_and_narrow_public_ones_are_allowed(network):
    assert too_wide(ipaddress.ip_network(network, strict=False)) is None


def test_the_world_is_refused_with_a_message_naming_section_and_key(tmp_path):
    problems = problems_for(tmp_path, trust={"trusted_networks": "0.0.0.0/0, ::/0", "trusted_domains": "police.example",
                                             "authserv_id": "mx.police.example", "authserv_networks": "8.0.0.0/8"})
    assert "[trust] trusted_networks: '0.0.0.0/0' is every IPv4 address: it would trust anyone on the Internet" \
        in problems
    assert "[trust] trusted_networks: '::/0' is every IPv6 address: it would trust anyone on the Internet" in problems
    assert any(p.startswith("[trust] authserv_networks: '8.0.0.0/8' holds public addresses and is wider than a /24")
               for p in problems)


def test_authserv_id_with_an_smtp_listener_needs_authserv_networks(tmp_path):
    problems = problems_for(tmp_path, smtp={"listen": "127.0.0.1:8025"}, trust={"authserv_id": "mx.police.example"})
    assert [p for p in problems if "authserv" in p] == [
        "[trust] authserv_networks: is required with authserv_id while [smtp] listen is set: the networks of the "
        "receiving server(s) that write the Authentication-Results of mx.police.example (anyone can connect to the "
        "SMTP port and write that header)"]


def test_authserv_networks_without_authserv_id_is_refused(tmp_path):
    problems = problems_for(tmp_path, trust={"authserv_networks": "10.0.0.0/8"})
    assert any(p.startswith("[trust] authserv_networks: is set but authserv_id is empty") for p in problems)
