"""The service's OpenTelemetry tracing: SDK set-up, the span per HTTP request, stream links.

Off by default (``[telemetry] tracing = false``): then no tracer provider is set, the
orchestrator's spans are no-ops (:mod:`orchestrator.telemetry`) and no middleware is added,
so a request costs what it did before. On, each worker process (granian imports the app
factory in every worker) sets a global SDK :class:`TracerProvider` whose exporter follows the
standard ``OTEL_*`` variables: ``OTEL_TRACES_EXPORTER`` (``otlp``, the default, which is
OTLP/HTTP protobuf to ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``…_TRACES_ENDPOINT``; ``console``;
``none``), ``OTEL_SERVICE_NAME`` (default ``sustainable-city-ai``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``; ``OTEL_SDK_DISABLED=true``
turns it off whatever the setting says. A provider the host already installed (e.g. by
``opentelemetry-instrument``) is used as it is. Spans leave through a batch processor that the
app's shutdown flushes.

The span per request is Litestar's OpenTelemetry middleware (the ASGI instrumentation), put
outside the request-log middleware so the access line carries the request's ``trace_id``, and
without the per-message ``send``/``receive`` child spans (an SSE stream would make one per
frame). Once the router has matched, the span is renamed to the route's template
(``GET /runs/{run_id}/events``), not the raw path with its ids.

A run is started inside the request's span and its task inherits the context (asyncio copies
it), so the run's span is a child of the request that created it. Its ``traceparent`` is
stored on the run row with its first event; the span of a later ``GET /runs/{id}/events``
(a reconnect with ``Last-Event-ID``, or another client) gets a Link to the run's span, even
on another worker or after a restart.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.logging import get_logger
from orchestrator import set_capture_content, tracing_enabled

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from app.settings import TelemetrySettings

__all__ = [
    "DEFAULT_SERVICE_NAME",
    "instrument_asgi",
    "linked_replay",
    "setup_tracing",
    "tracing_lifespan",
]

DEFAULT_SERVICE_NAME: Final = "sustainable-city-ai"
_log = get_logger("app.telemetry")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def _exporters() -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``: OTLP/HTTP)."""
    names = [
        name.strip().lower()
        for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
        if name.strip()
    ]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            )
            if protocol != "http/protobuf":
                _log.warning(
                    "telemetry.protocol_unsupported", protocol=protocol, using="http/protobuf"
                )
            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            _log.warning("telemetry.exporter_unknown", exporter=name)
    return exporters


def setup_tracing(settings: TelemetrySettings, version: str) -> TracerProvider | None:
    """Configure this process's tracer provider when tracing is on; None when off.

    Returns the provider this call installed (the caller shuts it down), None when tracing is
    off or the host had already installed one (then it is the host's to flush).
    """
    set_capture_content(settings.capture_content)
    if not settings.tracing or _env_true("OTEL_SDK_DISABLED"):
        return None
    if tracing_enabled():
        _log.info("telemetry.tracing", provider="host")
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, Any] = {"service.version": version, "process.pid": os.getpid()}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    exporters = _exporters()
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _log.info(
        "telemetry.tracing",
        provider="sdk",
        exporters=[type(exporter).__name__ for exporter in exporters],
        capture_content=settings.capture_content,
    )
    return provider


def tracing_lifespan(
    provider: TracerProvider,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Flush and stop the provider's exporters when the app shuts down."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            provider.shutdown()

    return lifespan


class _RouteName:
    """Renames the request's span to its route template once the router has matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type: str = scope["type"]
        if scope_type != "http":
            await self.app(scope, receive, send)
            return
        span = trace.get_current_span()

        async def named_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                template = scope.get("path_template")
                if template:
                    route = f"{scope.get('method', '')} {template}"
                    span.update_name(route)
                    span.set_attribute("http.route", template)
            await send(message)

        await self.app(scope, receive, named_send)


def instrument_asgi(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` (the whole handler, request log included) in the request span."""
    from litestar.enums import ScopeType
    from litestar.plugins.opentelemetry import OpenTelemetryConfig

    config = OpenTelemetryConfig(exclude_spans=["receive", "send"], scopes={ScopeType.HTTP})
    return config.middleware_class(_RouteName(app), config)


def linked_replay(
    frames: AsyncGenerator[bytes, None], *, run_id: str, traceparent: str | None, after: int
) -> AsyncGenerator[bytes, None]:
    """Link the current request's span to the run's span; count the frames it replays.

    Called in the handler, inside the request's span: the link is added to that span (no
    span of its own, so a replay costs one span, like any request)."""
    span = trace.get_current_span()
    if traceparent:
        context = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
        run_span = trace.get_current_span(context).get_span_context()
        if run_span.is_valid:
            span.add_link(run_span, {"orchestrator.link": "run"})
    span.set_attributes({"orchestrator.run.id": run_id, "orchestrator.stream.after": after})
    return _counted(frames, span)


async def _counted(frames: AsyncGenerator[bytes, None], span: Span) -> AsyncGenerator[bytes, None]:
    sent = 0
    try:
        async for frame in frames:
            sent += 1
            yield frame
    finally:
        span.set_attribute("orchestrator.stream.frames", sent)
        await frames.aclose()
