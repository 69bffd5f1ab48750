"""Wires runs into the app: routes, channels, the ``runs_runtime`` dependency, lifespan.

Conversations and datasets register themselves (their own plugins); the run service uses
their statements to write a run's conversation and read its dataset.

The lifespan order matters: the channels backend starts before the run service and stops
after it, so the ``interrupted`` events a shutdown writes are still published; the database
lifespan (migrations) is registered by ``create_app`` before any plugin's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Request
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.auth.services import get_auth_services
from app.db.engine import Database
from app.errors import ServiceStarting
from app.gridcache import with_redis_grid_cache
from app.logging import get_logger
from app.metrics.runs import RunMetrics
from app.redis import redis_key
from app.runs.controller import RunsController
from app.runs.demo import demo_stream
from app.runs.reads import RunReads
from app.runs.runtime import BearerAuthenticator, RunsRuntime
from app.runs.service import RunService
from app.runs.ticket_auth import redeem_ticket
from app.runs.tickets import TicketSigner
from app.settings import Settings
from app.state import ORCHESTRATOR_KEY, get_health, get_metrics
from orchestrator import Orchestrator, build_tool_services

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RunsPlugin", "bearer_user_id", "channels_backend"]

log = get_logger("app.runs")


def channels_backend(redis: Redis | None) -> ChannelsBackend:
    """Redis pub/sub with the app's client (cross-worker live events), else in-memory.

    Pub/sub rather than the Redis *stream* backend: replays and gap fills always come from
    the database, so channel history would only duplicate it, and the stream backend adds a
    polling loop and a per-channel stream key with a TTL. A message pub/sub drops (e.g.
    during a reconnect or a Redis outage) is recovered by the subscriber's gap fill and
    keep-alive poll (see ``app.redis_channels`` for how outages are survived).
    """
    if redis is None:
        return MemoryChannelsBackend()
    from app.redis_channels import ResilientRedisPubSubBackend

    return ResilientRedisPubSubBackend(redis=redis)


def _ticket_secret(settings: Settings) -> str:
    """The JWT secret (HS256) or the private key (ES256): same across workers, never logged."""
    if settings.auth.jwt_secret:
        return settings.auth.jwt_secret
    if settings.auth.jwt_private_key_file:
        return Path(settings.auth.jwt_private_key_file).read_text()
    msg = "run tickets need auth.jwt_secret or auth.jwt_private_key_file"
    raise RuntimeError(msg)


async def bearer_user_id(request: Request[Any, Any, Any]) -> str | None:
    """The user of a valid, unrevoked bearer access token or personal access token."""
    try:
        services = get_auth_services(request.app.state)
    except KeyError:
        return None
    return await services.bearer_user_id(
        request.headers.get("authorization"), accept_personal_tokens=True
    )


class RunsPlugin(InitPluginProtocol):
    """One line in ``create_app``: ``RunsPlugin(settings, database, redis=redis)``.

    ``redis`` is the app's client (``app.redis.create_redis``), None without ``redis.url``.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        authenticate_bearer: BearerAuthenticator | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.redis = redis
        self.channels = ChannelsPlugin(
            backend=channels_backend(redis), arbitrary_channels_allowed=True
        )
        self.authenticate_bearer = authenticate_bearer or bearer_user_id
        self._runtime: RunsRuntime | None = None

    @property
    def runtime(self) -> RunsRuntime:
        if self._runtime is None:
            raise ServiceStarting()
        return self._runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config = self.channels.on_app_init(app_config)
        app_config.route_handlers.extend(
            [
                RunsController,
                demo_stream,
            ]
        )
        app_config.dependencies["runs_runtime"] = Provide(
            lambda: self.runtime, sync_to_thread=False
        )
        app_config.lifespan.append(self._lifespan)
        return app_config

    def tool_services(self) -> dict[str, Any]:
        """The tools' services; with Redis, grid data is cached there for every worker."""
        services = build_tool_services(self.settings.tools)
        if self.redis is None:
            return services
        return with_redis_grid_cache(
            services,
            self.redis,
            redis_key(self.settings.redis, "grid"),
            ttl_s=self.settings.tools.cache_ttl_s,
        )

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        services = self.tool_services()
        metrics = get_metrics(app.state)
        run_metrics = None if metrics is None else RunMetrics(metrics)
        orchestrator = Orchestrator.from_settings(
            self.settings.orchestrator_settings(),
            tool_context_services=services,
            observer=run_metrics,
        )
        service = RunService(
            settings=self.settings.runs,
            session_maker=self.database.session_maker,
            channels=self.channels,
            orchestrator=orchestrator,
            max_history_pairs=self.settings.orchestrator.max_history_pairs,
            serialize_writes=self.database.backend == "sqlite",
            health=get_health(app.state),
            metrics=run_metrics,
        )
        await service.startup()
        self._runtime = RunsRuntime(
            settings=self.settings.runs,
            service=service,
            reads=RunReads(self.database.session_maker),
            tickets=TicketSigner(
                _ticket_secret(self.settings), self.settings.auth.run_ticket_ttl_s
            ),
            authenticate_bearer=self.authenticate_bearer,
            tool_services=services,
            redeem_ticket=redeem_ticket,
        )
        app.state[ORCHESTRATOR_KEY] = orchestrator
        log.info("runs.ready", worker_id=service.worker_id)
        try:
            yield
        finally:
            self._runtime = None
            app.state.pop(ORCHESTRATOR_KEY, None)
            await service.shutdown()
            await orchestrator.aclose()
