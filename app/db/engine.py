"""Engine and session configuration: one code path for SQLite (embedded) and PostgreSQL.

SQLite gets WAL, ``foreign_keys=ON`` and a busy timeout on every new connection (Advanced
Alchemy sets no pragmas, and several granian workers may share the file). PostgreSQL gets the
pool settings from config. Statement parameters are never put in logs or error messages
(``hide_parameters``): they hold emails and questions. The Litestar plugin (``db_session`` /
``db_engine`` dependencies) wraps the engine built here, so code outside requests (run tasks,
health checks) can use :class:`Database` from ``app.state`` with the very same engine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from app.db.base import Base
from app.settings import DatabaseSettings

__all__ = ["DB_STATE_KEY", "Database", "create_engine", "sqlite_file"]

DB_STATE_KEY = "database"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """Build the async engine for ``settings.url`` with backend-specific tuning."""
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            echo=settings.echo,
            hide_parameters=True,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_pre_ping=settings.pool_pre_ping,
        )
    path = sqlite_file(url)
    kwargs: dict[str, Any] = {"echo": settings.echo, "hide_parameters": True}
    if path is None:
        # One shared connection, or every session would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)
    pragmas = [
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}",
    ]
    if settings.sqlite_wal and path is not None:
        pragmas += ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"]

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    return engine


class Database:
    """The process's engine and session factory, shared by the plugin and background tasks."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.session_maker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def plugin(self) -> SQLAlchemyPlugin:
        """The Advanced Alchemy plugin over this engine.

        ``before_send_handler="autocommit"`` commits the request's ``db_session`` on 2xx/3xx
        responses and rolls back otherwise; our own error layer renders repository errors.
        """
        config = SQLAlchemyAsyncConfig(
            engine_instance=self.engine,
            session_maker=self.session_maker,
            session_config=AsyncSessionConfig(expire_on_commit=False),
            metadata=Base.metadata,
            before_send_handler="autocommit",
            set_default_exception_handler=False,
        )
        return SQLAlchemyPlugin(config=config)

    async def ping(self) -> float:
        """One ``SELECT 1`` round trip; returns its latency in milliseconds."""
        started = time.perf_counter()
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000.0

    async def dispose(self) -> None:
        await self.engine.dispose()
