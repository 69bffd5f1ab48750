"""How the service sets up tracing from ``[telemetry]`` and the standard ``OTEL_*`` variables.

Each test leaves the process without a global tracer provider (``tests.support.otel``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from structlog.testing import capture_logs

from app.settings import TelemetrySettings
from app.telemetry import DEFAULT_SERVICE_NAME, setup_tracing
from orchestrator import set_capture_content, tracing_enabled
from orchestrator.telemetry import _capturing
from tests.support.otel import global_tracer_provider, reset_global_tracer_provider

ON = TelemetrySettings(tracing=True)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_global_tracer_provider()
    yield
    set_capture_content(None)
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    reset_global_tracer_provider()


def _exporters(provider: TracerProvider) -> list[object]:
    processors = provider._active_span_processor._span_processors
    return [p.span_exporter for p in processors if isinstance(p, BatchSpanProcessor)]


def test_off_by_default_sets_no_provider() -> None:
    assert setup_tracing(TelemetrySettings(), "1.0.0") is None
    assert not tracing_enabled()


def test_on_exports_otlp_http_with_the_default_service_name() -> None:
    provider = setup_tracing(ON, "1.2.3")
    assert provider is not None
    assert trace.get_tracer_provider() is provider
    assert tracing_enabled()
    attributes = provider.resource.attributes
    assert attributes["service.name"] == DEFAULT_SERVICE_NAME
    assert attributes["service.version"] == "1.2.3"
    (exporter,) = _exporters(provider)
    assert isinstance(exporter, OTLPSpanExporter)


def test_otel_service_name_and_exporter_list_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "city-prod")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console, otlp")
    provider = setup_tracing(ON, "1.0.0")
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "city-prod"
    assert [type(e) for e in _exporters(provider)] == [ConsoleSpanExporter, OTLPSpanExporter]


def test_exporter_none_still_traces_for_the_log_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    provider = setup_tracing(ON, "1.0.0")
    assert provider is not None
    assert _exporters(provider) == []
    assert tracing_enabled()


def test_otel_sdk_disabled_wins_over_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert setup_tracing(ON, "1.0.0") is None
    assert not tracing_enabled()


def test_unknown_exporter_and_grpc_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin,otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with capture_logs() as logs:
        provider = setup_tracing(ON, "1.0.0")
    assert provider is not None
    assert [type(e) for e in _exporters(provider)] == [OTLPSpanExporter]
    events = {line["event"]: line for line in logs}
    assert events["telemetry.exporter_unknown"]["exporter"] == "zipkin"
    assert events["telemetry.protocol_unsupported"]["protocol"] == "grpc"


def test_a_host_provider_is_used_as_it_is() -> None:
    with global_tracer_provider():
        host = trace.get_tracer_provider()
        assert setup_tracing(ON, "1.0.0") is None  # not ours to shut down
        assert trace.get_tracer_provider() is host


def test_capture_content_follows_the_setting() -> None:
    setup_tracing(TelemetrySettings(capture_content=True), "1.0.0")
    assert _capturing()
    setup_tracing(TelemetrySettings(), "1.0.0")
    assert not _capturing()
