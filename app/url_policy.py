"""What a request URL may hold: no NUL character, in the path or the query string.

Path and query parameters are text that handlers pass to the database as they are, and
PostgreSQL text cannot hold NUL: ``GET /datasets/a%00b`` was a 500 (and logged the SQL
parameters) on PostgreSQL while SQLite simply found nothing. An app-wide guard refuses such a
URL with 400 ``invalid_input`` before any handler runs, so both backends answer alike and
no handler needs to remember it. (Bodies get the same rule from :mod:`app.request_body`;
HTTP servers already refuse NUL in header values.)
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.errors import InvalidInput

__all__ = ["refuse_nul_in_url"]


def refuse_nul_in_url(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard on every route: 400 ``invalid_input`` if the decoded path or the query has NUL."""
    path: str = connection.scope["path"]
    query: bytes = connection.scope.get("query_string", b"")
    if "\x00" in path or b"\x00" in query or b"%00" in query:
        where = "path" if "\x00" in path else "query string"
        raise InvalidInput(
            f"The URL's {where} contains a NUL character (%00), which no parameter may hold.",
        )
