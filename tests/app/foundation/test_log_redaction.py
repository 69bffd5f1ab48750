"""Logs never hold SQL parameters or the values a database error quotes (issue 14, row 4).

SQLAlchemy appended ``[parameters: ('alice@example.org', …)]`` to every statement error and
PostgreSQL's ``DETAIL: Key (email)=(…) already exists`` quoted the value, so a failing
request put emails and questions in the error log. Checked on SQLite and PostgreSQL, through
the real engine and the real log configuration, in both renderers.
"""

from __future__ import annotations

import io
import logging
import traceback
from typing import Literal

import pytest
from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db.engine import Database
from app.logging import configure_logging, get_logger
from app.settings import LoggingSettings, Settings
from tests.support.backends import api_postgres_dsn, settings_on_each_backend

__all__ = ["api_postgres_dsn", "settings_on_each_backend"]

SECRET = "secret-alice@example.org"


async def duplicate_key_error(database: Database) -> DBAPIError:
    """A real unique violation whose parameter is SECRET."""
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS log_probe"))
        await conn.execute(text("CREATE TABLE log_probe (email VARCHAR(100) UNIQUE)"))
        await conn.execute(text("INSERT INTO log_probe (email) VALUES (:email)"), {"email": SECRET})
    try:
        async with database.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO log_probe (email) VALUES (:email)"), {"email": SECRET}
            )
    except DBAPIError as exc:
        return exc
    raise AssertionError("the duplicate insert succeeded")


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_a_database_error_is_logged_without_its_values(
    settings: Settings, log_format: Literal["json", "console"]
) -> None:
    database = Database(settings.database)
    try:
        error = await duplicate_key_error(database)
    finally:
        await database.dispose()
    if database.backend == "postgresql":
        default = "".join(traceback.format_exception(error))
        assert f"Key (email)=({SECRET})" in default, "PostgreSQL's DETAIL quotes the value"
    out = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format=log_format), stream=out)
    try:
        get_logger("app.errors").error("unhandled exception", exc_info=error)
        try:
            raise RuntimeError("while storing a dataset") from error
        except RuntimeError:
            logging.getLogger("some.library").exception("stdlib logger with a chained error")
        try:
            raise RepositoryError(f"An integrity error occurred: {error.orig}") from error
        except RepositoryError as wrapper:
            get_logger("app.errors").error("repository error", exc_info=wrapper)
    finally:
        configure_logging(LoggingSettings(level="WARNING", format="json"))
    logged = out.getvalue()
    assert SECRET not in logged
    assert "IntegrityError" in logged
    assert "INSERT INTO log_probe (email) VALUES" in logged
    assert "while storing a dataset" in logged  # other exceptions keep their message
    assert "RepositoryError: [message withheld: it quotes a database error]" in logged
    if database.backend == "postgresql":
        assert "sqlstate 23505" in logged
        assert "constraint_name log_probe_email_key" in logged


async def test_echo_does_not_log_parameters(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import msgspec

    out = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format="json"), stream=out)
    database = Database(msgspec.structs.replace(settings.database, echo=True))
    try:
        async with database.engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT :question"), {"question": SECRET})
            ).scalar() == (SECRET)
    finally:
        await database.dispose()
        configure_logging(LoggingSettings(level="WARNING", format="json"))
    logged = out.getvalue() + "".join(capsys.readouterr())
    assert "SELECT" in logged  # echo is on: statements are logged ...
    assert SECRET not in logged  # ... without their parameters
