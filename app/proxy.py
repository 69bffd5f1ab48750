"""Who the client is behind reverse proxies: the right-most untrusted ``X-Forwarded-For`` hop.

Every proxy appends the address of the peer it received the request from, so the list reads
``client, proxy1, proxy2`` and only its right end is written by machines we trust; anything to
the left of the first untrusted hop may be whatever the client put in its own header. The
client address is therefore found by walking the list from the right and skipping hops that
are trusted proxies: the first one that is not is the client. (Taking the left-most entry, as
granian's and uvicorn's helpers do for ``"*"``, lets a client choose its own address and with
it its own rate-limit bucket.)

``server.trusted_proxies``:

* empty — headers are ignored; the socket peer is the client;
* addresses / networks — the peer must be one of them for the headers to count, and hops in
  the list are skipped while walking from the right (chains of proxies);
* ``["*"]`` — any peer is a proxy, but no forwarded hop is trusted: the client is the
  right-most ``X-Forwarded-For`` entry, the address the one proxy in front of us saw. Chains
  of proxies need their addresses listed instead.

``X-Forwarded-Proto`` is read the same way (the right-most value, the one set by the proxy that
talks to us) and becomes the request's scheme, which decides HSTS (:mod:`app.security_headers`).
A hop that is not an IP address (``unknown``, a hostname, garbage) ends the walk: nothing to its
left can be believed, and the peer stays the client rather than a made-up name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware", "TrustedProxies", "forwarded_client"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES: Final = frozenset({"http", "https"})


def _parse_address(text: str) -> IPAddress | None:
    """An IP from a forwarded hop: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:443``."""
    host = text.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]  # IPv4 with a port (some cloud balancers add it)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class TrustedProxies:
    """The configured proxies: ``"*"``, addresses, networks, or (tests) literal peer names."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self.any_peer = "*" in entries
        self._networks: list[IPNetwork] = []
        self._literals: set[str] = set()
        for entry in entries:
            if entry == "*":
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._literals.add(entry)

    def __bool__(self) -> bool:
        return self.any_peer or bool(self._networks) or bool(self._literals)

    def peer_is_proxy(self, peer: str | None) -> bool:
        if peer is None:
            return False
        return self.any_peer or self._listed(peer)

    def hop_is_proxy(self, hop: IPAddress) -> bool:
        """Whether a forwarded hop is one of ours; with ``"*"`` no hop is (one proxy only)."""
        return any(hop in network for network in self._networks)

    def _listed(self, peer: str) -> bool:
        if peer in self._literals:
            return True
        address = _parse_address(peer)
        return address is not None and self.hop_is_proxy(address)


def forwarded_client(forwarded_for: list[str], proxies: TrustedProxies) -> str | None:
    """The right-most untrusted hop of the (joined) ``X-Forwarded-For`` values, or ``None``
    when the list is empty or the walk meets a hop that is not an IP address.

    If every hop is a trusted proxy the left-most one is returned: the request started inside
    the trusted network.
    """
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    last: IPAddress | None = None
    for hop in reversed(hops):
        address = _parse_address(hop)
        if address is None:
            return None
        if not proxies.hop_is_proxy(address):
            return str(address)
        last = address
    return str(last) if last is not None else None


class ProxyHeadersMiddleware:
    """ASGI wrapper: rewrite ``scope["client"]`` and ``scope["scheme"]`` from the forwarded
    headers when the socket peer is a trusted proxy; leave the scope alone otherwise."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            client = scope.get("client")
            if self.proxies.peer_is_proxy(client[0] if client else None):
                self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> None:
        forwarded_for: list[str] = []
        proto: str | None = None
        for key, value in scope["headers"]:
            if key == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
            elif key == b"x-forwarded-proto":
                # The right-most value: what the proxy talking to us saw.
                last = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
                proto = last or proto
        host = forwarded_client(forwarded_for, self.proxies)
        if host is not None:
            scope["client"] = (host, 0)
        if proto in _SCHEMES:
            scheme = proto if scope["type"] == ScopeType.HTTP else proto.replace("http", "ws")
            scope["scheme"] = scheme
