"""Typed access to the per-app objects other modules need outside dependency injection.

``create_app`` stores them in ``app.state``; background tasks and lifespans read them here
instead of importing ``app.main`` (which imports every router and would be circular).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.datastructures import State

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from app.db.engine import Database
    from app.health import HealthRegistry
    from app.metrics.registry import Metrics
    from app.settings import Settings
    from orchestrator import Orchestrator

__all__ = [
    "DATABASE_KEY",
    "HEALTH_KEY",
    "METRICS_KEY",
    "ORCHESTRATOR_KEY",
    "REDIS_KEY",
    "SETTINGS_KEY",
    "get_database",
    "get_health",
    "get_metrics",
    "get_orchestrator",
    "get_redis",
    "get_settings",
]

SETTINGS_KEY = "app_settings"
DATABASE_KEY = "app_database"
HEALTH_KEY = "app_health"
REDIS_KEY = "app_redis"
ORCHESTRATOR_KEY = "app_orchestrator"
METRICS_KEY = "app_metrics"


def get_settings(state: State) -> Settings:
    """The validated settings this app was built with (``request.app.state`` or ``app.state``)."""
    from app.settings import Settings

    value = state[SETTINGS_KEY]
    assert isinstance(value, Settings)
    return value


def get_database(state: State) -> Database:
    """The engine + session factory shared with the SQLAlchemy plugin."""
    from app.db.engine import Database

    value = state[DATABASE_KEY]
    assert isinstance(value, Database)
    return value


def get_health(state: State) -> HealthRegistry:
    """The registry components report their status to (e.g. a provider auth failure)."""
    from app.health import HealthRegistry

    value = state[HEALTH_KEY]
    assert isinstance(value, HealthRegistry)
    return value


def get_redis(state: State) -> Redis | None:
    """The app's Redis client (``app.redis``), or None when ``redis.url`` is not set."""
    value: Redis | None = state.get(REDIS_KEY)
    return value


def get_orchestrator(state: State) -> Orchestrator | None:
    """This worker's orchestrator while the runs lifespan is up (set there), else None."""
    value: Orchestrator | None = state.get(ORCHESTRATOR_KEY)
    return value


def get_metrics(state: State) -> Metrics | None:
    """The app's Prometheus metrics, or None when ``metrics.enabled`` is false."""
    value: Metrics | None = state.get(METRICS_KEY)
    return value
