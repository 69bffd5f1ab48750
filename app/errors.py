"""One exception layer: every error leaves as JSON ``{"detail", "code", "request_id", …}``.

Clients display ``detail`` and branch on the stable ``code``. Bad input is always a 4xx that
says what is wrong; a 500 means a bug, is logged with its traceback, and tells the client only
"Internal server error" plus the request id to quote.
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.exceptions import DuplicateKeyError, NotFoundError, RepositoryError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from app.logging import current_request_id, get_logger

__all__ = ["DomainError", "error_response", "exception_handlers"]

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
    """

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


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    """The JSON error body every failure path uses (also for hand-built error responses)."""
    body: dict[str, Any] = {"detail": detail, "code": code, **extra}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if isinstance(exc.extra, list):
        errors = [
            {k: v for k, v in item.items() if k in ("key", "message", "source")}
            for item in exc.extra
            if isinstance(item, dict)
        ]
    parts = [
        f"{e['key']}: {e.get('message', 'invalid')}" if e.get("key") else str(e.get("message"))
        for e in errors
    ]
    detail = "Invalid request: " + "; ".join(parts) if parts else (exc.detail or "Invalid request")
    return error_response(400, "validation_error", detail, errors=errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        if exc.status_code == HTTP_500_INTERNAL_SERVER_ERROR:
            _log.error("internal error", exc_info=exc)
            return error_response(500, "internal_error", "Internal server error")
        code = STATUS_CODES.get(exc.status_code, "server_error")
        return error_response(exc.status_code, code, exc.detail, headers=exc.headers)
    code = STATUS_CODES.get(exc.status_code, "client_error")
    extra: dict[str, Any] = {}
    if isinstance(exc.extra, dict):
        extra = {k: v for k, v in exc.extra.items() if k not in ("detail", "code", "request_id")}
    return error_response(exc.status_code, code, exc.detail, headers=exc.headers, **extra)


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
