"""The error responses in the OpenAPI document: one body shape for every 4xx/5xx.

Every error the service sends is rendered by :mod:`app.errors` as
``{"detail", "code", "request_id", …}``; :class:`ErrorBody` describes that shape, and
:func:`error_responses` declares it on a route handler for the statuses the route can return::

    @get("/runs/{run_id:str}", responses=error_responses(401, (404, "No such run")))

Declaring a status replaces Litestar's automatic response for it (e.g. its 400
``ValidationException`` schema, which is not what this service sends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Literal

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.routes import HTTPRoute
from msgspec import UNSET, Meta, UnsetType

from app.errors import AppError

__all__ = [
    "BAD_PARAMETER",
    "DESCRIPTIONS",
    "ERROR_HEADERS",
    "SIGN_IN_REQUIRED",
    "SSE_ERRORS",
    "ErrorBody",
    "ErrorHeadersOperation",
    "FieldError",
    "document_error_headers",
    "error_responses",
]

# The 401 of every route behind the JWT middleware (public routes never declare it).
SIGN_IN_REQUIRED: Final = (
    "Missing, expired or revoked access token (`not_authenticated`, `token_revoked`): "
    "send `Authorization: Bearer <access token>`"
)

# When each status happens, by default; a route passes ``(status, description)`` to be precise.
DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed JSON body (`malformed_json`) or invalid fields (`validation_error`, "
    "each listed in `errors`)",
    401: SIGN_IN_REQUIRED,
    404: "No such resource for this user (`not_found`)",
    409: "Conflicts with the resource's current state (`conflict`)",
    413: "Body larger than the limit (`payload_too_large`); `detail` says the limit",
    415: "Content-Type is not application/json (`unsupported_media_type`)",
    429: "Too many sign-in requests (`rate_limited`); wait as long as `Retry-After` says",
    500: "Internal server error (`internal_error`): a bug, logged on the server; "
    "quote `request_id` when reporting it",
    503: "The service is starting or shutting down (`starting`, `shutting_down`); retry shortly",
}

# The 400 of a route whose only inputs are path, query or header parameters.
BAD_PARAMETER: Final = (
    400,
    "An invalid path, query or header parameter (`validation_error`, listed in `errors`)",
)

# For the description of a route that answers with an event stream (SSE).
SSE_ERRORS: Final = (
    "Errors are JSON responses with a 4xx/5xx status, sent before the stream starts."
)


class FieldError(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One invalid input of a ``validation_error``."""

    message: Annotated[str, Meta(description="What is wrong with this input.")]
    key: Annotated[
        str | UnsetType,
        Meta(description="The field or parameter name (empty for the body as a whole)."),
    ] = UNSET
    source: Annotated[
        Literal["body", "query", "path", "header", "cookie"] | UnsetType,
        Meta(description="Where the input was sent."),
    ] = UNSET


class ErrorBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The JSON body of every error response (4xx/5xx): show `detail`, branch on `code`,
    quote `request_id` when reporting a problem."""

    detail: Annotated[str, Meta(description="What went wrong, fit to show to the user.")]
    code: Annotated[
        str,
        Meta(description="Stable machine code to branch on, e.g. `not_authenticated`."),
    ]
    request_id: Annotated[
        str | UnsetType,
        Meta(description="This request's id, as in the `X-Request-ID` header."),
    ] = UNSET
    errors: Annotated[
        list[FieldError] | UnsetType,
        Meta(description="`validation_error` only: each invalid input."),
    ] = UNSET


def error_responses(
    *statuses: int | tuple[int, str] | type[AppError],
) -> dict[int, ResponseSpec]:
    """``responses=`` for a route handler: :class:`ErrorBody` for each status, and for 500
    (any route can fail with a bug).

    A status alone gets its default description; ``(status, description)`` says when this
    route returns it; an :class:`~app.errors.AppError` class documents its own status, code
    and when. A class is always listed: after whatever came first for its status, in the
    order given, unless that text already names its code (so the document says every code
    the route declares). Of two plain statuses or descriptions, the first wins.
    """
    described: dict[int, str] = {}
    for item in (*statuses, 500):
        status = (
            item[0] if isinstance(item, tuple) else item if isinstance(item, int) else item.status
        )
        if not 400 <= status <= 599:
            msg = f"{status} is not an error status"
            raise ValueError(msg)
        if isinstance(item, tuple):
            description = item[1]
        elif isinstance(item, int):
            description = DESCRIPTIONS[item]
        else:
            description = item.description()
        if isinstance(item, type) and status in described:
            if item.code not in described[status]:
                later = item.description()
                described[status] = f"{described[status]}, or {later[:1].lower()}{later[1:]}"
        else:
            described.setdefault(status, description)
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=description, generate_examples=False
        )
        for status, description in described.items()
    }


_RETRY_AFTER: Final = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    description="Seconds to wait before trying again.",
    required=True,
)
# The headers app.errors.error_response sends with each error status, documented per response.
ERROR_HEADERS: Final[dict[str, dict[str, OpenAPIHeader]]] = {
    "401": {
        "WWW-Authenticate": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING, const="Bearer"),
            description="The authentication scheme to use (RFC 6750).",
            required=True,
        )
    },
    "429": {"Retry-After": _RETRY_AFTER},
    "503": {"Retry-After": _RETRY_AFTER},
}


@dataclass
class ErrorHeadersOperation(Operation):
    """An operation whose 401, 429 and 503 responses also document their headers.

    Litestar's :class:`~litestar.openapi.ResponseSpec` cannot declare response headers;
    ``operation_class`` is its hook for adjusting a generated operation.
    """

    def __post_init__(self) -> None:
        for status, response in (self.responses or {}).items():
            headers = ERROR_HEADERS.get(status)
            if headers and isinstance(response, OpenAPIResponse):
                response.headers = {**(response.headers or {}), **headers}


def _sends_errors_only(handler: HTTPRouteHandler) -> bool:
    """Whether every 401/429/503 the handler declares is an :class:`ErrorBody` (the health
    routes answer 503 with their report, which carries no such header)."""
    return all(
        spec.data_container is ErrorBody
        for status, spec in (handler.responses or {}).items()
        if str(status) in ERROR_HEADERS
    )


def document_error_headers(app: Litestar) -> None:
    """Give the HTTP operations of ``app`` that send only :class:`ErrorBody` errors the
    :class:`ErrorHeadersOperation`; the schema is built lazily (on its first request), so
    this runs before it exists."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.operation_class is Operation and _sends_errors_only(handler):
                    handler.operation_class = ErrorHeadersOperation
