"""Refuse to serve on a port another process already listens on.

Granian's workers each bind the port with ``SO_REUSEPORT`` (that is how several workers of
one server share it). The kernel then also lets a *second* server bind the same port, and
splits new connections between the two: with different development secrets, about half of
all requests fail with 401, and nothing says why. So, before granian starts,
:func:`claim_port` checks and holds the port:

1. A probe socket binds the address **without** ``SO_REUSEPORT`` (with ``SO_REUSEADDR``, so
   connections of a stopped server lingering in TIME_WAIT do not count). Any listener fails
   it with ``EADDRINUSE``: the port is taken, :class:`PortInUse` is raised.
2. The probe is closed and a guard socket binds the address with ``SO_REUSEPORT`` only, and
   never listens. Granian's workers (same user, ``SO_REUSEPORT``) can still bind next to it,
   while another server's probe fails against it even before those workers are up, which
   closes the window of two servers starting at the same moment.

The guard is held until the server stops. ``server.reuse_port = true`` skips all this, for
operators who really mean to share a port between servers.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

__all__ = ["PortInUse", "claim_port"]


class PortInUse(Exception):
    """The address is in use by another process (or cannot be bound at all)."""


def _address(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    """The first address ``host:port`` resolves to for a listening TCP socket."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, address


def claim_port(host: str, port: int) -> socket.socket:
    """Check that nobody listens on ``host:port`` and hold it for this server's workers.

    Returns the guard socket (close it when the server stops); raises :class:`PortInUse`.
    """
    try:
        family, address = _address(host, port)
    except socket.gaierror as exc:
        msg = f"cannot resolve the bind address {host!r}: {exc.strerror}"
        raise PortInUse(msg) from exc
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PortInUse(_explain(host, port, exc)) from exc
    guard = socket.socket(family, socket.SOCK_STREAM)
    try:
        guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        guard.bind(address)
    except OSError as exc:
        guard.close()
        raise PortInUse(_explain(host, port, exc)) from exc
    return guard


def _explain(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{host}:{port} is already in use by another process: stop it, choose another "
            "port (--port), or set server.reuse_port = true to share it on purpose"
        )
    return f"cannot bind {host}:{port}: {exc.strerror or exc}"
