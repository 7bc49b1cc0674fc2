"""Client addresses of requests: the peer, or X-Forwarded-For behind trusted proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: An IPv6 host usually owns a whole /64, so it is counted as one client.
IPV6_CLIENT_PREFIX = 64


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: IPAddress) -> str:
    """Return the rate-limit identity of an address: itself, or its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
        return str(network)
    return str(address)


class ClientResolver:
    """Finds the client address of a request.

    ``X-Forwarded-For`` is read only when the direct peer is a trusted proxy.
    The list is then walked from the right, skipping trusted proxies, and
    the first untrusted address is the client: entries further left were
    written by the client itself and prove nothing.
    """

    def __init__(self, trusted_proxies: Sequence[IPNetwork]) -> None:
        self._trusted = tuple(trusted_proxies)

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)

    def client(self, scope: dict) -> str:
        """Return the client's identity string, e.g. ``203.0.113.7``."""
        peer = scope.get("client")
        host = str(peer[0]) if peer else "unknown"
        address = _parse(host)
        if address is None:
            return host
        if not self._trusted or not self._is_trusted(address):
            return client_key(address)
        return client_key(self._forwarded_client(scope, address))

    def _forwarded_client(self, scope: dict, peer: IPAddress) -> IPAddress:
        values = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        if not values:
            return peer
        hops = b",".join(values).decode("latin-1").split(",")

        nearest = peer
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:
                # A malformed entry cannot be told apart from a forgery, so
                # the last address known to be real stands for the client.
                return nearest
            if not self._is_trusted(address):
                return address
            nearest = address
        return nearest
