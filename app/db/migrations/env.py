"""Alembic environment: runs on the connection that :mod:`app.db.migrate` hands over.

When invoked by the ``alembic`` tool directly (no connection given), it builds one from the
service configuration (``config.toml`` + environment), so both paths use the same URL rules.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from app.db.engine import create_engine
    from app.settings import load_settings

    engine = create_engine(load_settings().database)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        msg = "offline (--sql) migrations are not supported; run against a database"
        raise SystemExit(msg)
    connection = context.config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_from_settings())
    else:
        _run(connection)


_main()
