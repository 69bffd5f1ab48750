"""Who a sign-in request comes from, for the per-client limits.

A client is an IPv4 address, or an IPv6 **/64**: one end site usually gets a /64 (or more),
so one attacker can rotate through 2^64 source addresses without effort, while two different
households almost never share one. Keying limits on the full IPv6 address would make the
per-client limits worthless against IPv6 floods (the audit filled every cap from ~67 addresses
of one /64). IPv4-mapped IPv6 addresses count as their IPv4 address. Anything that is not an
IP address (a Unix socket peer, a test client's ``testclient``) is used as is, truncated.

The address itself is whatever the server settles as the peer (``connection.client``), after
any trusted-proxy handling; this module only groups it.
"""

from __future__ import annotations

import ipaddress

__all__ = ["IPV6_PREFIX", "MAX_CLIENT_KEY_LENGTH", "client_key"]

IPV6_PREFIX = 64
MAX_CLIENT_KEY_LENGTH = 64


def client_key(host: str | None) -> str:
    """The limit key of a peer address: ``203.0.113.7``, ``2001:db8:1:2::/64``, …"""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host[:MAX_CLIENT_KEY_LENGTH]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return str(network)
    return str(address)
