"""Schema migrations through Alembic, callable from start-up, the CLI and tests.

Revisions live in ``app/db/migrations/versions`` as one fixed chain (``0001_auth`` then
``0002_runs`` …). On PostgreSQL the run holds a transaction-scoped advisory lock, so several
instances starting at once apply each revision exactly once.

On SQLite, migrations run with ``foreign_keys`` off, as SQLite prescribes for schema changes:
a revision that rebuilds a table (copy, drop, rename) would otherwise have the ``DROP``
cascade into every referencing table and delete their rows. Before the commit,
``PRAGMA foreign_key_check`` must come back empty (a violation rolls the whole run back), and
the connection gets ``foreign_keys`` back on before it returns to the pool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import create_engine
from app.settings import DatabaseSettings, Settings

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationStatus",
    "alembic_config",
    "current_revisions",
    "downgrade",
    "head_revisions",
    "make_revision",
    "migrate",
    "migration_status",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant key for pg_advisory_xact_lock: "sca-migrate".
_PG_LOCK_KEY = 0x5CA_0001
_T = TypeVar("_T")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file, pointing at our migrations package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


def head_revisions() -> set[str]:
    """The head revision(s) of the scripts shipped with this code (empty with no revisions)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


Target = Settings | DatabaseSettings | AsyncEngine
"""Where to migrate: the service settings, just the database section, or an open engine."""


async def _with_connection(target: Target, fn: Callable[[Connection], _T], *, lock: bool) -> _T:
    if isinstance(target, AsyncEngine):
        engine = target
    else:
        engine = create_engine(target.database if isinstance(target, Settings) else target)
    try:
        async with engine.connect() as conn:
            rebuilding_sqlite = lock and conn.dialect.name == "sqlite"
            if rebuilding_sqlite:
                # Only outside a transaction does SQLite honour this pragma.
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.commit()
            try:
                async with conn.begin():
                    if lock and conn.dialect.name == "postgresql":
                        await conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                        )
                    result = await conn.run_sync(fn)
                    if rebuilding_sqlite:
                        await _check_foreign_keys(conn)
                    return result
            finally:
                if rebuilding_sqlite:
                    await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    await conn.commit()
    finally:
        if engine is not target:
            await engine.dispose()


async def _check_foreign_keys(conn: AsyncConnection) -> None:
    """Refuse to commit a SQLite migration that left a dangling reference."""
    result = await conn.exec_driver_sql("PRAGMA foreign_key_check")
    violations = [tuple(row) for row in result.all()]
    if violations:
        # Each row: (table, rowid, referenced table, foreign key index).
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in violations[:5])
        msg = f"the migration left {len(violations)} dangling foreign key(s): {shown}"
        raise RuntimeError(msg)


async def migrate(target: Target, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest)."""

    def run(conn: Connection) -> None:
        command.upgrade(alembic_config(conn), revision)

    await _with_connection(target, run, lock=True)


async def downgrade(target: Target, revision: str) -> None:
    """Downgrade the database to ``revision`` (``base`` removes every table)."""

    def run(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), revision)

    await _with_connection(target, run, lock=True)


async def current_revisions(target: Target) -> set[str]:
    """The revision(s) the database is at (empty for a fresh database)."""

    def run(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    return await _with_connection(target, run, lock=False)


class MigrationStatus:
    """Where the database is relative to the code: used by ``/health/ready`` and the CLI."""

    def __init__(self, current: set[str], heads: set[str]) -> None:
        self.current = current
        self.heads = heads

    @property
    def up_to_date(self) -> bool:
        return self.current == self.heads


async def migration_status(target: Target) -> MigrationStatus:
    return MigrationStatus(await current_revisions(target), head_revisions())


async def make_revision(target: Target, message: str, rev_id: str, *, autogenerate: bool) -> None:
    """Write a new revision file (optionally autogenerated against an up-to-date database)."""

    def run(conn: Connection) -> None:
        command.revision(
            alembic_config(conn), message=message, rev_id=rev_id, autogenerate=autogenerate
        )

    await _with_connection(target, run, lock=False)
