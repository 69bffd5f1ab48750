"""What an ``IntegrityError`` was really about, the same on SQLite and PostgreSQL.

A service that maps every integrity error to one message lies to its clients: a run refused
because its account was deleted was reported as "conversation busy". Callers classify the
violation here and answer for the cause they know, re-raising what they do not expect.

PostgreSQL (asyncpg) says it with an SQLSTATE and the constraint's name; SQLite only with a
message such as ``UNIQUE constraint failed: runs.conversation_id`` (the columns, not the
index name) or ``FOREIGN KEY constraint failed`` (not even the table).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
from sqlalchemy.exc import IntegrityError

__all__ = ["Violation", "ViolationKind", "classify_integrity_error"]


class ViolationKind(StrEnum):
    UNIQUE = "unique"
    FOREIGN_KEY = "foreign_key"
    NOT_NULL = "not_null"
    CHECK = "check"
    OTHER = "other"


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """``kind`` of constraint; ``constraint`` is PostgreSQL's constraint name, ``columns``
    SQLite's ``table.column`` list (each None/empty when the backend does not say)."""

    kind: ViolationKind
    constraint: str | None = None
    columns: tuple[str, ...] = ()


_SQLSTATES = {
    "23505": ViolationKind.UNIQUE,
    "23503": ViolationKind.FOREIGN_KEY,
    "23502": ViolationKind.NOT_NULL,
    "23514": ViolationKind.CHECK,
}
_SQLITE_PREFIXES = (
    ("UNIQUE constraint failed:", ViolationKind.UNIQUE),
    ("FOREIGN KEY constraint failed", ViolationKind.FOREIGN_KEY),
    ("NOT NULL constraint failed:", ViolationKind.NOT_NULL),
    ("CHECK constraint failed:", ViolationKind.CHECK),
)


def classify_integrity_error(exc: IntegrityError) -> Violation:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        driver_error = orig.__cause__ if orig is not None else None
        constraint = getattr(driver_error, "constraint_name", None)
        return Violation(
            kind=_SQLSTATES.get(sqlstate, ViolationKind.OTHER),
            constraint=constraint if isinstance(constraint, str) else None,
        )
    message = str(orig)
    for prefix, kind in _SQLITE_PREFIXES:
        if message.startswith(prefix):
            listed = message[len(prefix) :].strip()
            columns = tuple(c.strip() for c in listed.split(",") if c.strip())
            return Violation(kind=kind, columns=columns)
    return Violation(kind=ViolationKind.OTHER)
