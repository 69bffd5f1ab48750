"""Database pool usage: connections checked out, and the pool's size, per worker and summed.

Kept current by SQLAlchemy's pool events (``checkout`` +1, ``checkin`` -1; SQLAlchemy fires
``checkin`` for every returned connection, invalidated ones included) rather than read at
scrape time: with several workers the worker answering a scrape cannot see the others'
pools, but every worker's ``livesum`` gauge is in the shared directory, so the scrape shows
the sum over the live workers. An event costs one memory-mapped write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.metrics.registry import Metrics

__all__ = ["instrument_pool"]


def instrument_pool(engine: AsyncEngine, metrics: Metrics) -> None:
    """Follow ``engine``'s pool in ``metrics`` (call once per engine)."""
    sync_engine = engine.sync_engine
    size = getattr(sync_engine.pool, "size", None)
    # A pool without a size (SQLite's in-memory StaticPool) holds one connection.
    metrics.db_pool_size.set(size() if callable(size) else 1)
    gauge = metrics.db_pool_checked_out

    def on_checkout(*_: Any) -> None:
        gauge.inc()

    def on_checkin(*_: Any) -> None:
        gauge.dec()

    event.listen(sync_engine, "checkout", on_checkout)
    event.listen(sync_engine, "checkin", on_checkin)
