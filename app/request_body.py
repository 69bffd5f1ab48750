"""Request-body policy shared by every endpoint that takes a body: content type and decoding.

A body sent with the wrong ``Content-Type`` is refused with 415 before anything reads it, so a
form post or ``text/plain`` never reaches a JSON decoder (and a cross-site "simple" request
cannot drive a JSON endpoint).

Every JSON body is decoded by ONE function, :func:`decode_json_body`, reached through
:class:`JSONBodyRequest` (the app's request class, whose ``json()`` Litestar calls for every
``JSONBody[...]`` parameter) and by handlers that read their body themselves. It refuses,
with a 400 before any handler or database sees the value:

- ``malformed_json``: not JSON text (syntax, invalid UTF-8 inside a string);
- ``invalid_input``: JSON the service will not take — arrays and objects nested deeper than
  ``server.max_json_depth`` (msgspec alone raised ``RecursionError`` near 1,000 levels: a
  500), an integer beyond 64 bits or a float beyond a double, or a NUL (``\\u0000``) in any
  string or key (PostgreSQL text cannot hold it: a 500 with the SQL parameters in the log).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.errors import DomainError
from app.state import get_settings
from tools.untrusted_json import RejectedJSON, decode_untrusted_json

__all__ = [
    "JSONBodyRequest",
    "decode_json_body",
    "require_json",
    "require_json_if_body",
    "require_multipart",
]


def decode_json_body(body: bytes, max_depth: int) -> Any:
    """The decoded body; a 400 ``malformed_json`` or ``invalid_input`` :class:`DomainError`."""
    try:
        return decode_untrusted_json(body, max_depth=max_depth)
    except RejectedJSON as exc:
        if exc.malformed:
            raise DomainError(
                400, "malformed_json", f"Malformed JSON body: {exc.reason}."
            ) from None
        raise DomainError(400, "invalid_input", f"Invalid JSON body: {exc.reason}.") from None


class JSONBodyRequest(Request[Any, Any, Any]):
    """The app's request class: ``json()`` decodes through :func:`decode_json_body`."""

    _decoded: Any = None
    _has_decoded = False

    async def json(self) -> Any:
        if not self._has_decoded:
            body = await self.body()
            depth = get_settings(self.app.state).server.max_json_depth
            self._decoded = decode_json_body(body or b"null", depth)
            self._has_decoded = True
        return self._decoded


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
