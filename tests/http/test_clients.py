"""Client addresses for rate limiting: peer address and trusted X-Forwarded-For."""

from __future__ import annotations

import ipaddress

import pytest
from clstock_http.clients import ClientResolver

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]


def scope(peer: str, *forwarded: str) -> dict:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 40000), "headers": [(b"host", b"api"), *headers]}


def test_peer_address_without_trusted_proxies() -> None:
    resolver = ClientResolver([])

    assert resolver.client(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_forwarded_for_used_from_trusted_proxy() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3", "198.51.100.1")) == "198.51.100.1"


def test_rightmost_untrusted_address_wins() -> None:
    resolver = ClientResolver(PROXIES)
    # The client forged the first entry; 198.51.100.7 connected to our proxy
    # chain, which appended it and then its own hop 10.0.0.5.
    request = scope("10.1.2.3", "1.2.3.4, 198.51.100.7, 10.0.0.5")

    assert resolver.client(request) == "198.51.100.7"


def test_several_forwarded_headers_are_one_list() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3", "1.2.3.4", "198.51.100.7")) == "198.51.100.7"


def test_all_hops_trusted_uses_leftmost() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3", "10.9.9.9, 10.0.0.5")) == "10.9.9.9"


@pytest.mark.parametrize("forwarded", ["not-an-ip", "198.51.100.7, garbage", "", " , "])
def test_malformed_hop_falls_back_to_last_real_address(forwarded: str) -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3", forwarded)) == "10.1.2.3"


def test_malformed_hop_behind_valid_one_uses_valid_one() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3", "garbage, 198.51.100.7")) == "198.51.100.7"


def test_trusted_proxy_without_header_is_the_client() -> None:
    resolver = ClientResolver(PROXIES)

    assert resolver.client(scope("10.1.2.3")) == "10.1.2.3"


def test_ipv6_clients_grouped_by_64() -> None:
    resolver = ClientResolver([])

    first = resolver.client(scope("2001:db8:1:2::1"))
    second = resolver.client(scope("2001:db8:1:2:ffff::9"))
    other = resolver.client(scope("2001:db8:1:3::1"))

    assert first == second == "2001:db8:1:2::/64"
    assert other != first


def test_ipv4_mapped_ipv6_is_the_ipv4_client() -> None:
    resolver = ClientResolver([])

    assert resolver.client(scope("::ffff:198.51.100.7")) == "198.51.100.7"


def test_non_ip_peer_is_used_as_is() -> None:
    assert ClientResolver(PROXIES).client(scope("testclient")) == "testclient"


def test_missing_peer_is_unknown() -> None:
    assert ClientResolver([]).client({"headers": []}) == "unknown"
