"""The declarative base every table derives from, plus portable column types.

One ``MetaData`` with a naming convention so Alembic produces stable constraint names on
SQLite and PostgreSQL alike; timestamps are stored in UTC and always read back as aware
datetimes (SQLite has no time-zone type and would otherwise return naive values).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "UTCDateTime",
    "id_column",
    "new_id",
    "utc_now",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random identifier: a UUID4 in canonical text form (36 characters)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and returned as an aware UTC datetime on every backend.

    Naive datetimes are refused on write: guessing their zone is how timestamps go wrong.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            msg = "naive datetime given to a UTCDateTime column; use an aware datetime"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every model; ``Base.metadata`` is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def id_column() -> Mapped[str]:
    """A primary key column of UUID text (portable: ``VARCHAR(36)`` on SQLite and PostgreSQL)."""
    return mapped_column(String(36), primary_key=True, default=new_id)
