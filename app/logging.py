"""Structured logging: JSON lines (console renderer on a TTY) and one access line per request.

The access line carries method, path (never the query string: it may hold tickets), status,
duration_ms and request_id. Bodies, headers, cookies and tokens are never logged; a last
processor masks well-known secret keys in case a caller passes one by mistake. Database
errors are the one place values would leak through an exception's text: SQLAlchemy appends
the statement's parameters, PostgreSQL's ``DETAIL`` quotes the offending value (an email, a
question). The engine hides parameters (``hide_parameters``, which also covers
``database.echo``), and :func:`_redact_database_errors` renders any traceback whose chain
holds a database error with that error's class, SQLSTATE, constraint and SQL statement but
never its message (nor the message of an exception that quotes it). Streaming (SSE)
responses are logged once, when the stream ends, not per chunk. Every line carries the
``pid`` of the process that wrote it (several granian workers share one log stream), and
every line written inside an OpenTelemetry span its ``trace_id`` and ``span_id``
(:func:`orchestrator.telemetry.add_trace_context`; with tracing off there is no span).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog

from orchestrator import add_trace_context

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

    from app.settings import LoggingSettings

__all__ = [
    "REQUEST_ID_HEADER",
    "SENSITIVE_KEYS",
    "RequestLogMiddleware",
    "configure_logging",
    "current_request_id",
    "get_logger",
]

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "token",
        "access_token",
        "refresh_token",
        "password",
        "secret",
        "jwt_secret",
        "api_key",
        "credential",
        "challenge",
        "client_data_json",
        "clientdatajson",
        "attestation_object",
        "attestationobject",
        "signature",
        "body",
    }
)
_HANDLER_MARK = "_sca_handler"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context (None outside requests)."""
    return _request_id.get()


def get_logger(name: str) -> Any:
    """A structlog logger bound to ``name`` (shown as ``logger`` in every line)."""
    return structlog.get_logger(name)


def _mask_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in event_dict:
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = "***"
    return event_dict


# Where a database error class comes from: its text may quote the values of the statement.
_DATABASE_MODULES = ("asyncpg", "sqlite3", "aiosqlite", "psycopg", "sqlalchemy.dialects")


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import StatementError

    if isinstance(exc, StatementError):
        return True
    module = type(exc).__module__
    return any(module == m or module.startswith(m + ".") for m in _DATABASE_MODULES)


def _database_error_line(exc: BaseException) -> str:
    """``Class: [sqlstate …] [constraint …] [SQL: …]``: what an operator needs, no values."""
    from sqlalchemy.exc import StatementError

    driver: BaseException | None = exc.orig if isinstance(exc, StatementError) else exc
    facts: list[str] = ["message withheld: database errors can quote values"]
    for source in (driver, getattr(driver, "__cause__", None)):
        for attribute in ("sqlstate", "pgcode", "constraint_name"):
            value = getattr(source, attribute, None)
            if isinstance(value, str) and value:
                facts.append(f"{attribute} {value}")
    if isinstance(exc, StatementError) and exc.statement:
        facts.append(f"SQL: {exc.statement}")
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return f"{name}: [{'] ['.join(dict.fromkeys(facts))}]\n"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts, oldest first (as Python prints them)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__
        current = (
            cause
            if cause is not None
            else (None if current.__suppress_context__ else current.__context__)
        )
    return chain[::-1]


def _redact_database_errors(
    _logger: Any, _method: str, event_dict: dict[str, Any]
) -> dict[str, Any]:
    """Render a traceback that involves a database error without any error's message text
    from the database layer (other exceptions of the chain keep theirs)."""
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc: BaseException | None = sys.exc_info()[1]
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    elif isinstance(exc_info, BaseException):
        exc = exc_info
    else:
        return event_dict
    if exc is None:
        return event_dict
    chain = _exception_chain(exc)
    if not any(_is_database_error(e) for e in chain):
        return event_dict
    # A wrapper (e.g. a repository error) may quote a database error's text in its own.
    quoted = [text for e in chain if _is_database_error(e) and len(text := str(e)) >= 8]
    parts: list[str] = []
    for index, link in enumerate(chain):
        if index:
            parts.append("\nThe above exception led to the following exception:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        if _is_database_error(link):
            parts.append(_database_error_line(link))
        elif any(text in str(link) for text in quoted):
            name = f"{type(link).__module__}.{type(link).__qualname__}"
            parts.append(f"{name}: [message withheld: it quotes a database error]\n")
        else:
            parts.extend(traceback.format_exception_only(type(link), link))
    del event_dict["exc_info"]
    event_dict["exception"] = "".join(parts)
    return event_dict


def _add_pid(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Which process wrote the line: with several granian workers, requests of one client
    land on different processes, and an operator needs to tell them apart."""
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging (granian, SQLAlchemy, …) through one renderer.

    Idempotent: calling it again replaces the handler it installed earlier.
    """
    out = stream if stream is not None else sys.stderr
    console = settings.format == "console" or (settings.format == "auto" and out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
        add_trace_context,
        _mask_secrets,
        _redact_database_errors,
    ]
    renderer: Any
    if console:
        # Tracebacks without local variables: locals can hold tokens and request bodies.
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
        final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]
    else:
        renderer = structlog.processors.JSONRenderer()
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    )
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # SQLAlchemy echo is controlled by database.echo; keep its INFO chatter out otherwise.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class RequestLogMiddleware:
    """Outermost ASGI wrapper: request id in/out and exactly one access line per request.

    It wraps Litestar's whole handler (router + exception handling), so 404s for unknown
    routes and 500s are logged and carry ``X-Request-ID`` too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = get_logger("app.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type: str = scope["type"]
        if scope_type != "http":  # websockets and lifespan pass through untouched
            await self.app(scope, receive, send)
            return
        scope = cast("HTTPScope", scope)
        request_id = self._incoming_id(scope) or uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        logged = False

        def log_once() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000.0, 2),
                request_id=request_id,
            )

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
                await send(message)
                return
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                log_once()

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                log_once()
                _request_id.reset(token)

    @staticmethod
    def _incoming_id(scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER.encode():
                text = value.decode("latin-1")
                return text if _VALID_REQUEST_ID.match(text) else None
        return None
