"""Who counts as one client, and what the door's census admits (gateway/inbound/guard.py)."""

from collections import Counter

from gateway.inbound.guard import Census, client_key, describe_refusals, peer_address


def key(host: str) -> str:
    return client_key(peer_address((host, 25)))


def test_an_ipv4_client_is_its_address_and_an_ipv6_one_its_64():
    assert key("192.0.2.7") == "192.0.2.7"
    assert key("::ffff:192.0.2.7") == "192.0.2.7"   # a dual-stack listener sees IPv4 this way
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert client_key(peer_address(None)) == "unknown"


def test_the_census_refuses_over_either_limit_and_frees_a_place_when_one_leaves():
    census = Census(total=3, per_client=2)
    assert [census.admit("a"), census.admit("a"), census.admit("a")] == [None, None, "client"]
    assert census.admit("b") is None
    assert census.admit("c") == "total"
    census.leave("a")
    assert census.admit("c") is None
    assert census.admit("a", exempt=True) == "total"   # a trusted relay is held to the total alone
    assert census.open == 3 and census.by_client == Counter({"a": 1, "b": 1, "c": 1})


def test_the_summary_names_the_counts_the_keys_and_the_busiest_client():
    line = describe_refusals(500, 20)(Counter({"client": 980, "total": 3}), Counter({"127.0.0.2": 980, "x": 3}))
    assert line == ("refused 983 connections in the last minute (980 over the per-client limit, "
                    "[smtp] max_connections_per_client = 20; 3 over [smtp] max_connections = 500); "
                    "most from 127.0.0.2 (980)")
