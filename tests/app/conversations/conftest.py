"""This suite runs on SQLite and on PostgreSQL (see tests/support/backends.py)."""

from tests.support.backends import api_postgres_dsn, settings_on_each_backend

__all__ = ["api_postgres_dsn", "settings_on_each_backend"]
