"""``/metrics`` on a port of its own, served by the ``python -m app`` process itself.

With ``metrics.port`` set the service's own port has no ``/metrics``: the launcher (the
process that starts granian and waits for it, never a worker) serves the workers' summed
metrics on that port, from prometheus-client's small threaded HTTP server, reading the same
shared directory a worker would. Bind it where only Prometheus reaches (``metrics.host``): it
takes no token, which is why settings refuse a token together with a port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app.metrics.multiproc import mark_dead_workers

__all__ = ["serve_separately"]


class _SumOfWorkers:
    """A collector reading every worker's files (marking crashed workers dead first)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        mark_dead_workers(self.directory)
        reader: Callable[..., Any] = MultiProcessCollector
        return reader(None, path=str(self.directory)).collect()  # type: ignore[no-any-return]


def serve_separately(host: str, port: int, directory: Path) -> Callable[[], None]:
    """Serve the metrics on ``host:port`` in a daemon thread; returns its stop function.

    Raises :class:`OSError` when the port cannot be bound (the launcher then exits)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SumOfWorkers(directory))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server.shutdown
