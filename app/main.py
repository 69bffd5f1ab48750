"""The application factory: settings -> one configured Litestar app.

Domains plug in with ONE line each in the marked lists below (a router/controller in
``route_handlers``, a plugin in ``plugins``). A domain that needs more (dependencies,
middleware, stores, lifespan) ships an ``InitPluginProtocol`` plugin whose ``on_app_init``
adds them, and registers that plugin with one line. Per-app objects (settings, database,
health registry) are in ``app.state``; read them through :mod:`app.state`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler

from app.allow_header import AllowHeader
from app.auth.plugin import AuthPlugin
from app.conversations.plugin import ConversationsPlugin
from app.datasets.plugin import DatasetsPlugin
from app.db.engine import Database
from app.db.migrate import migrate
from app.docs import DocsController, docs_assets_router, docs_ui_router, openapi_config
from app.errors import exception_handlers
from app.health import VERSION, HealthController, HealthRegistry
from app.images.plugin import ImagesPlugin
from app.logging import RequestLogMiddleware, configure_logging, get_logger
from app.metrics.http import HttpMetricsMiddleware
from app.metrics.plugin import MetricsPlugin
from app.metrics.registry import Metrics
from app.openapi_errors import document_error_headers
from app.proxy import ProxyHeadersMiddleware
from app.redis import create_redis, redis_key, redis_lifespan
from app.request_body import JSONBodyRequest
from app.runs.plugin import RunsPlugin
from app.security_headers import SecurityHeadersMiddleware
from app.settings import Settings, load_settings
from app.state import DATABASE_KEY, HEALTH_KEY, METRICS_KEY, REDIS_KEY, SETTINGS_KEY
from app.telemetry import instrument_asgi, setup_tracing, tracing_lifespan
from app.url_policy import refuse_nul_in_url
from app.web import web_router
from orchestrator import tracing_enabled

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["create_app", "create_app_from_env"]

_log = get_logger("app.main")


def _route_handlers(settings: Settings) -> list[ControllerRouterHandler]:
    handlers: list[ControllerRouterHandler] = [
        HealthController,
        DocsController,
        docs_ui_router,
        # --- domain routers: one line each -------------------------------------------------
        web_router,
    ]
    assets = docs_assets_router()
    if assets is not None:
        handlers.append(assets)
    return handlers


def _plugins(
    settings: Settings, database: Database, redis: Redis | None, metrics: Metrics | None
) -> list[PluginProtocol]:
    # Metrics first: its lifespan starts before the others' and ends after them.
    observability: list[PluginProtocol] = (
        [] if metrics is None else [MetricsPlugin(settings.metrics, metrics, database)]
    )
    return [
        database.plugin(),
        *observability,
        # --- domain plugins: one line each -------------------------------------------------
        RunsPlugin(settings, database, redis=redis),
        ConversationsPlugin(database),
        DatasetsPlugin(settings.datasets, database),
        ImagesPlugin(settings),
        AuthPlugin(settings, database, redis),
    ]


def _cors(settings: Settings) -> CORSConfig | None:
    """An exact-origin allowlist (no wildcards, no substring matching), or no CORS at all."""
    if not settings.cors.allow_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors.allow_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Last-Event-ID"],
        expose_headers=["X-Request-ID"],
        allow_credentials=settings.cors.allow_credentials,
        max_age=settings.cors.max_age_s,
    )


def _event_loop_name() -> str:
    """``uvloop`` or ``asyncio``: which loop granian gave this worker (``server.loop``)."""
    module = type(asyncio.get_running_loop()).__module__
    return module.split(".", 1)[0]


def _database_lifespan(
    settings: Settings, database: Database
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Apply migrations before any other lifespan runs; dispose the engine at shutdown."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        _log.info("worker starting", pid=os.getpid(), event_loop=_event_loop_name())
        if settings.database.migrate_on_start:
            await migrate(database.engine)
            _log.info("migrations applied", backend=database.backend)
        try:
            yield
        finally:
            await database.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the service. ``settings`` defaults to :func:`app.settings.load_settings`."""
    settings = settings if settings is not None else load_settings()
    configure_logging(settings.logging)
    tracer_provider = setup_tracing(settings.telemetry, VERSION)
    database = Database(settings.database)
    redis = create_redis(settings.redis)
    metrics = Metrics() if settings.metrics.enabled else None
    state: dict[str, Any] = {
        SETTINGS_KEY: settings,
        DATABASE_KEY: database,
        HEALTH_KEY: HealthRegistry(redis, redis_key(settings.redis, "health")),
        REDIS_KEY: redis,
        METRICS_KEY: metrics,
    }
    allow_header = AllowHeader()
    app = Litestar(
        route_handlers=_route_handlers(settings),
        plugins=_plugins(settings, database, redis, metrics),
        # Entered in order, exited in reverse: Redis closes after every plugin stopped, and
        # the tracer provider flushes last (the runs closed at shutdown are traced too).
        lifespan=[
            *([tracing_lifespan(tracer_provider)] if tracer_provider is not None else []),
            redis_lifespan(redis),
            _database_lifespan(settings, database),
        ],
        state=State(state),
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        openapi_config=openapi_config(VERSION),
        cors_config=_cors(settings),
        request_max_body_size=settings.server.max_request_body_bytes,
        # Every JSON body decodes through app.request_body (depth, UTF-8, NUL, huge numbers).
        request_class=JSONBodyRequest,
        # No NUL in path or query parameters (PostgreSQL text cannot hold it).
        guards=[refuse_nul_in_url],
        before_send=[allow_header],
        logging_config=None,
        debug=False,
    )
    allow_header.learn(app)
    document_error_headers(app)
    # Around routing and exception handling, so 404s and errors carry the headers too; inside
    # the proxy wrapper, which sets the scheme that decides HSTS.
    app.asgi_handler = SecurityHeadersMiddleware(app.asgi_handler)
    if settings.server.trusted_proxies:
        # The client address (right-most untrusted hop) and scheme from X-Forwarded-For/-Proto,
        # only when the peer is one of these proxies (app.proxy).
        app.asgi_handler = ProxyHeadersMiddleware(app.asgi_handler, settings.server.trusted_proxies)
    if metrics is not None:
        # Around routing and exception handling too: 404s, 405s and 500s are counted.
        app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler, metrics)
    # Outermost wrapper (around routing and exception handling), so unknown routes and
    # errors are logged and carry X-Request-ID too; Litestar's middleware runs per route.
    app.asgi_handler = RequestLogMiddleware(app.asgi_handler)
    if settings.telemetry.tracing and tracing_enabled():
        # The request's span around everything, the access line included (app.telemetry).
        app.asgi_handler = instrument_asgi(app.asgi_handler)
    return app


def create_app_from_env() -> Litestar:
    """Factory target for granian: settings from ``APP_CONFIG`` and the environment."""
    return create_app(load_settings())
