"""Request-body policy shared by every endpoint that takes a body: the declared content type.

A body sent with the wrong ``Content-Type`` is refused with 415 before anything reads it, so a
form post or ``text/plain`` never reaches a JSON decoder (and a cross-site "simple" request
cannot drive a JSON endpoint). Malformed JSON is rendered by :mod:`app.errors`.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.errors import DomainError

__all__ = ["require_json", "require_json_if_body", "require_multipart"]


def _media_type(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    content_type = connection.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request declares a body (a length above 0, or a chunked stream)."""
    if "transfer-encoding" in connection.headers:
        return True
    length = connection.headers.get("content-length", "0").strip()
    return length not in ("", "0")


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _unsupported(expected: str, media_type: str) -> DomainError:
    return DomainError(
        415,
        "unsupported_media_type",
        f"Send the body as {expected} (got {media_type or 'no content type'}).",
    )


def require_json(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the body must be declared ``application/json`` (415 otherwise)."""
    media_type = _media_type(connection)
    if not _is_json(media_type):
        raise _unsupported("application/json", media_type)


def require_json_if_body(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard for endpoints whose body is optional: no body is fine, any body must be JSON."""
    media_type = _media_type(connection)
    if _has_body(connection) and not _is_json(media_type):
        raise _unsupported("application/json", media_type)


def require_multipart(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a file upload must be ``multipart/form-data`` (415 otherwise)."""
    media_type = _media_type(connection)
    if media_type != "multipart/form-data":
        raise _unsupported("multipart/form-data", media_type)
