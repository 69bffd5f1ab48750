"""Wires metrics into the app: ``GET /metrics``, the HTTP wrapper, the pool, worker exit.

``GET /metrics`` is public for the auth middleware (a Prometheus server has no user
account), hidden from the OpenAPI document, and answers the Prometheus text format. With
``metrics.token`` set it requires ``Authorization: Bearer <token>`` (compared in constant
time; 401 ``not_authenticated`` otherwise); without, anyone who reaches the port can read it,
so keep the port private or set the token (docs/observability.md).

With ``metrics.port`` set the route is not installed: ``python -m app`` serves the metrics
on that port instead (:mod:`app.metrics.exporter`). When ``metrics.enabled`` is false
nothing here is installed: no route, no wrapper, no
listener, and the run service gets no observer.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from app.auth.security import PUBLIC
from app.db.engine import Database
from app.errors import NotAuthenticated
from app.metrics.db import instrument_pool
from app.metrics.multiproc import mark_process_dead
from app.metrics.registry import CONTENT_TYPE, Metrics
from app.settings import MetricsSettings
from app.state import get_metrics, get_settings

__all__ = ["METRICS_PATH", "MetricsPlugin", "metrics_endpoint"]

METRICS_PATH = "/metrics"
_BEARER = "bearer "


def _authorized(request: Request[Any, Any, Any], token: str) -> bool:
    header = request.headers.get("authorization", "")
    if header[: len(_BEARER)].lower() != _BEARER:
        return False
    return hmac.compare_digest(header[len(_BEARER) :].strip().encode(), token.encode())


@get(METRICS_PATH, opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Prometheus exposition of every worker's metrics."""
    metrics = get_metrics(request.app.state)
    token = get_settings(request.app.state).metrics.token
    if token is not None and not _authorized(request, token):
        raise NotAuthenticated("This endpoint needs the metrics token (Bearer).")
    assert metrics is not None  # the route exists only with metrics
    return Response(
        metrics.render(),
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


class MetricsPlugin(InitPluginProtocol):
    """One line in ``create_app``; the HTTP wrapper is added there (around everything)."""

    def __init__(self, settings: MetricsSettings, metrics: Metrics, database: Database) -> None:
        self.settings = settings
        self.metrics = metrics
        self.database = database

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if not self.settings.port:  # else the launcher serves them on their own port
            app_config.route_handlers.append(metrics_endpoint)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, _: Litestar) -> AsyncIterator[None]:
        instrument_pool(self.database.engine, self.metrics)
        try:
            yield
        finally:
            if self.metrics.multiproc_dir is not None:
                # This worker's live gauges leave the sum; its counters stay counted.
                mark_process_dead(os.getpid(), self.metrics.multiproc_dir)
