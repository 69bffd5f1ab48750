"""One plugin wires auth into the app: services in ``app.state``, routes, JWT middleware,
and a ``WWW-Authenticate: Bearer`` header on every 401."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.config.app import AppConfig
from litestar.exceptions import NotAuthorizedException
from litestar.plugins import InitPluginProtocol

from app.auth.controller import auth_router
from app.auth.security import build_jwt_auth, not_authorized_handler
from app.auth.services import AUTH_STATE_KEY, AuthServices
from app.db.engine import Database
from app.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["AuthPlugin"]


class AuthPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings, database: Database, redis: Redis | None = None) -> None:
        self._settings = settings
        self._database = database
        self._redis = redis

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        services = AuthServices.create(self._settings, self._database, self._redis)
        app_config.state[AUTH_STATE_KEY] = services
        app_config.route_handlers.append(auth_router(services))
        app_config.exception_handlers[NotAuthorizedException] = not_authorized_handler
        jwt_auth = build_jwt_auth(
            self._settings.auth, services.tokens, services.users, services.personal_tokens
        )
        return jwt_auth.on_app_init(app_config)
