"""Request-body policy shared by every endpoint that takes a body: content type and decoding.

A body sent with the wrong ``Content-Type`` is refused with 415 before anything reads it, so a
form post or ``text/plain`` never reaches a JSON decoder (and a cross-site "simple" request
cannot drive a JSON endpoint). A multipart form whose text fields are not UTF-8 is a 400.

Every JSON body is decoded by ONE function, :func:`decode_json_body`, reached through
:class:`JSONBodyRequest` (the app's request class, whose ``json()`` Litestar calls for every
``JSONBody[...]`` parameter) and by handlers that read their body themselves. It refuses,
with a 400 before any handler or database sees the value:

- ``malformed_json``: not JSON text (syntax, invalid UTF-8 inside a string);
- ``invalid_input``: JSON the service will not take — arrays and objects nested deeper than
  ``server.max_json_depth`` (msgspec alone raised ``RecursionError`` near 1,000 levels: a
  500), an integer longer than 4,300 digits or a float beyond a double, or a NUL
  (``\\u0000``) in any string or key (PostgreSQL text cannot hold it: a 500 with the SQL
  parameters in the log).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from app.errors import InvalidInput, MalformedJson, UnsupportedMediaType
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
    """The decoded body; a 400 :class:`MalformedJson` or :class:`InvalidInput`."""
    try:
        return decode_untrusted_json(body, max_depth=max_depth)
    except RejectedJSON as exc:
        if exc.malformed:
            raise MalformedJson(f"Malformed JSON body: {exc.reason}.") from None
        raise InvalidInput(f"Invalid JSON body: {exc.reason}.") from None


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


def _unsupported(expected: str, media_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
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


async def require_multipart(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a file upload must be ``multipart/form-data`` (415 otherwise), and its text
    fields UTF-8 (400 ``invalid_input``)."""
    media_type = _media_type(connection)
    if media_type != "multipart/form-data":
        raise _unsupported("multipart/form-data", media_type)
    if isinstance(connection, Request) and not await _text_fields_are_utf8(connection):
        raise InvalidInput("A text field of the form cannot be decoded; send it as UTF-8.")


async def _text_fields_are_utf8(request: Request[Any, Any, Any]) -> bool:
    """Whether every non-file part of the form decodes (as UTF-8, or its declared charset).

    Litestar decodes each text field with ``bytes.decode`` and lets a ``UnicodeDecodeError``
    out as a 500 (leaving the parsed files unclosed), so the form is checked first, on the
    body it then parses from (read once, within the route's body limit). A form the parser
    rejects passes here: Litestar's own parse answers it with its 400.
    """
    body = await request.body()
    boundary = request.content_type[1].get("boundary", "").encode()
    if not boundary:
        return True
    text: bytearray | None = None
    charset = "utf-8"
    try:
        with PushMultipartParser(
            boundary, max_segment_count=request.app.multipart_form_part_limit
        ) as parser:
            for chunk in (body, b""):
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        # What Litestar will decode the field with (files stay bytes).
                        text = None if part.filename else bytearray()
                        charset = part.charset or "utf-8"
                    elif part and text is not None:
                        text.extend(part)
                    elif part is None and text is not None:
                        text.decode(charset)
                        text = None
    except (UnicodeDecodeError, LookupError):  # not in its charset, or an unknown charset
        return False
    except (ParserError, ParserLimitReached):
        return True
    return True
