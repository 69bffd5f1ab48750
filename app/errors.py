"""One exception layer: every error leaves as JSON ``{"detail", "code", "request_id", …}``.

Clients display ``detail`` and branch on the stable ``code``. Bad input is always a 4xx that
says what is wrong; a 500 means a bug, is logged with its traceback, and tells the client only
"Internal server error" plus the request id to quote.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final

from advanced_alchemy.exceptions import DuplicateKeyError, NotFoundError, RepositoryError
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from app.logging import current_request_id, get_logger

__all__ = [
    "AppError",
    "DomainError",
    "InvalidInput",
    "MalformedJson",
    "NotAuthenticated",
    "ServiceStarting",
    "ShuttingDown",
    "UnsupportedMediaType",
    "error_response",
    "exception_handlers",
    "malformed_json",
    "unknown_path_detail",
]

_log = get_logger("app.errors")

# Stable machine codes for plain HTTP errors (raised by Litestar or by handlers).
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class DomainError(Exception):
    """An expected failure a handler reports to the client, e.g. ``DomainError(409, "run_active",
    "This conversation already has a running question")``. ``extra`` fields join the body.

    The untyped root of :class:`AppError`: the app raises only ``AppError`` subclasses, whose
    codes the OpenAPI document lists; this constructor stays for one-off errors in tests.
    """

    status: int
    code: str
    detail: str

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class AppError(DomainError):
    """Base of the typed failures: one subclass per failure a caller may handle.

    A subclass says its ``status``, stable ``code`` and usual ``detail`` as class attributes,
    and ``when`` it happens (for the OpenAPI document), so a route declares the classes it may
    raise (:func:`app.openapi_errors.error_responses`) and the documented codes cannot drift
    from the raised ones. ``detail`` may be replaced per raise when it says a figure; ``extra``
    fields join the body as with :class:`DomainError`.
    """

    status: int = 500
    code: str = "internal_error"
    detail: str = "Internal server error"
    when: ClassVar[str] = "Internal server error"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        cls = type(self)
        super().__init__(
            cls.status, cls.code, cls.detail if detail is None else detail, headers=headers, **extra
        )

    @classmethod
    def description(cls) -> str:
        """When it happens and its code, as the OpenAPI document says it."""
        return f"{cls.when} (`{cls.code}`)"


class MalformedJson(AppError):
    """A body that is not JSON at all (``detail`` says the reason and byte)."""

    status = 400
    code = "malformed_json"
    detail = "Malformed JSON body: not JSON."
    when: ClassVar[str] = "Malformed JSON body"


class InvalidInput(AppError):
    """Input no field may hold: a NUL character, JSON nested too deep, a number too long."""

    status = 400
    code = "invalid_input"
    detail = "Invalid input."
    when: ClassVar[str] = "Input no field may hold (a NUL character, JSON too deep)"


class UnsupportedMediaType(AppError):
    """A body sent with the wrong ``Content-Type`` (``detail`` says the one expected)."""

    status = 415
    code = "unsupported_media_type"
    detail = "Unsupported Content-Type."
    when: ClassVar[str] = "The body's Content-Type is not the one this route reads"


class NotAuthenticated(AppError):
    """No valid access token (or other credential the route accepts) was sent."""

    status = 401
    code = "not_authenticated"
    detail = "Sign in first."
    when: ClassVar[str] = "No valid access token"


class ServiceStarting(AppError):
    """The service has not finished starting (a service it needs is not there yet)."""

    status = 503
    code = "starting"
    detail = "The service is starting; retry shortly."
    when: ClassVar[str] = "The service is starting"


class ShuttingDown(AppError):
    """The server is shutting down and takes no new work."""

    status = 503
    code = "shutting_down"
    detail = "The server is shutting down; retry shortly."
    when: ClassVar[str] = "The server is shutting down"


# Headers every error of a status carries (documented by app.openapi_errors.ERROR_HEADERS).
_DEFAULT_HEADERS: Final[dict[int, dict[str, str]]] = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "1"},
    503: {"Retry-After": "1"},
}


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    """The JSON error body every failure path uses (also for hand-built error responses).

    A 401 always says ``WWW-Authenticate: Bearer`` (HTTP requires a challenge) and a 429 or
    503 ``Retry-After``, unless the caller set its own.
    """
    body: dict[str, Any] = {"detail": detail, "code": code, **extra}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    headers = {**_DEFAULT_HEADERS.get(status, {}), **(headers or {})}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def malformed_json(reason: str) -> MalformedJson:
    """400 ``malformed_json`` for a body that is not JSON; ``reason`` is the decoder's message,
    reworded so clients see where and why without the decoder's phrasing."""
    reason = reason.removeprefix("JSON is malformed: ").strip().rstrip(".")
    if reason == "Input data was truncated":
        reason = "the body ends before the JSON value is complete"
    return MalformedJson(f"Malformed JSON body: {reason or 'not JSON'}.")


_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_WRONG_BODY = re.compile(r"^Expected `object`, got `(?P<got>[^`]*)`$")


def _body_message(key: str, message: str) -> tuple[str, str]:
    """``(key, message)`` reworded for the body's top level (Litestar reports it as ``data``)."""
    if message == f"'{key}'":  # the body was empty: Litestar reports a KeyError for it
        return "", "the request body is empty; send a JSON object"
    if match := _UNKNOWN_FIELD.match(message):
        name = match["name"]
        return name, f"unknown field `{name}` (remove it; it is not part of this request)"
    if match := _MISSING_FIELD.match(message):
        name = match["name"]
        return name, f"missing required field `{name}`"
    if match := _WRONG_BODY.match(message):
        return "", f"the body must be a JSON object, not {match['got']}"
    return "", message


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    parts: list[str] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        error = {k: v for k, v in item.items() if k in ("key", "message", "source")}
        message = str(error.get("message", "invalid"))
        if error.get("source") == "body" and error.get("key") == "data":
            # The body's top level: the message names the field itself.
            error["key"], error["message"] = _body_message("data", message)
            parts.append(error["message"])
        elif error.get("key"):
            parts.append(f"{error['key']}: {message}")
        else:
            parts.append(message)
        errors.append(error)
    detail = "Invalid request: " + "; ".join(parts) if parts else (exc.detail or "Invalid request")
    return error_response(400, "validation_error", detail, errors=errors)


def _too_large(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """413 that says the limit (it differs per route: ceremonies accept 64 KiB)."""
    limit = request.route_handler.resolve_request_max_body_size()
    detail = "The request body is too large"
    if limit:
        detail += f": this endpoint accepts at most {limit} bytes"
    return error_response(413, "payload_too_large", detail + ".")


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):
        # Litestar wraps the body decoder's failure in a bare 400; say it is malformed JSON.
        return _domain(request, malformed_json(str(exc.__cause__)))
    if isinstance(exc, RequestEntityTooLarge):
        return _too_large(request)
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        if exc.status_code == HTTP_500_INTERNAL_SERVER_ERROR:
            _log.error("internal error", exc_info=exc)
            return error_response(500, "internal_error", "Internal server error")
        code = STATUS_CODES.get(exc.status_code, "server_error")
        return error_response(exc.status_code, code, exc.detail, headers=exc.headers)
    code = STATUS_CODES.get(exc.status_code, "client_error")
    detail = _routing_detail(request, exc) or exc.detail
    extra: dict[str, Any] = {}
    if isinstance(exc.extra, dict):
        extra = {k: v for k, v in exc.extra.items() if k not in ("detail", "code", "request_id")}
    return error_response(exc.status_code, code, detail, headers=exc.headers, **extra)


def unknown_path_detail(path: str | None = None) -> str:
    """The 404 detail for a path nothing is served at."""
    where = f"at {path}" if path else "at this path"
    return f"Nothing is served {where}; the API is described at /docs."


def _routing_detail(request: Request[Any, Any, Any], exc: HTTPException) -> str | None:
    """Say what was wrong when the router (not a handler) refused: Litestar's own details are
    just the status phrase."""
    if isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        return unknown_path_detail(request.url.path)
    if isinstance(exc, MethodNotAllowedException) and exc.detail == "Method Not Allowed":
        headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
        allowed = headers.get("allow", "")
        methods = ", ".join(m.strip() for m in allowed.split(",") if m.strip() != "OPTIONS")
        path = request.url.path
        return f"{request.method} is not allowed on {path}; use {methods or 'another method'}."
    return None


def _domain(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return error_response(exc.status, exc.code, exc.detail, headers=exc.headers, **exc.extra)


def _repository(_: Request[Any, Any, Any], exc: RepositoryError) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFoundError):
        return error_response(404, "not_found", "Not found")
    if isinstance(exc, DuplicateKeyError):
        return error_response(409, "conflict", "Already exists")
    _log.error("repository error", exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def _unhandled(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.error("unhandled exception", exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def exception_handlers() -> ExceptionHandlersMap:
    """The app-level mapping; also applies to router errors (unknown route, wrong method)."""
    return {
        ValidationException: _validation,
        HTTPException: _http,
        DomainError: _domain,
        RepositoryError: _repository,
        Exception: _unhandled,
    }
