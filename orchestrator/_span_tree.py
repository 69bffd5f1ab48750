"""``python -m orchestrator ask --trace``: record the run's spans in memory, print their tree.

The CLI installs an OpenTelemetry SDK tracer provider with the SDK's in-memory exporter (a
synchronous processor: nothing leaves the process), so the run emits exactly the spans the
service exports, and prints them as a tree with each span's duration and the attributes a
person reads first (model and tokens of an LLM call, a tool's outcome, a step's tokens).
The SDK is imported only here: the library itself needs the API alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["install_recorder", "print_span_tree"]


def install_recorder() -> InMemorySpanExporter:
    """Set a global SDK tracer provider that keeps every finished span in memory."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "orchestrator-cli"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def _ms(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:
        return 0.0
    return (span.end_time - span.start_time) / 1e6


def _details(span: ReadableSpan) -> str:
    attrs: dict[str, Any] = dict(span.attributes or {})
    parts: list[str] = []
    operation = attrs.get("gen_ai.operation.name")
    if operation == "chat":
        parts.append(str(attrs.get("gen_ai.provider.name", "")))
        if "gen_ai.response.model" in attrs:
            parts.append(f"model={attrs['gen_ai.response.model']}")
    if operation == "invoke_agent" and "orchestrator.run.status" in attrs:
        parts.append(str(attrs["orchestrator.run.status"]))
    if "gen_ai.usage.input_tokens" in attrs:
        parts.append(
            f"tokens in={attrs['gen_ai.usage.input_tokens']} "
            f"out={attrs.get('gen_ai.usage.output_tokens', 0)}"
        )
    if "error.type" in attrs:
        parts.append(f"error={attrs['error.type']}")
    return "  ".join(part for part in parts if part)


def print_span_tree(spans: Sequence[ReadableSpan], out: TextIO) -> None:
    """Print each trace's spans as an indented tree, children in start order."""
    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    rows: list[tuple[str, float, str]] = []

    def walk(span: ReadableSpan, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        rows.append((prefix + branch + span.name, _ms(span), _details(span)))
        below = children.get(span.context.span_id if span.context is not None else None, [])
        extension = "" if root else ("   " if last else "│  ")
        for index, child in enumerate(below):
            walk(child, prefix + extension, index == len(below) - 1, False)

    for root in children.get(None, []):
        if root.context is not None:
            out.write(f"trace {root.context.trace_id:032x}\n")
        walk(root, "", True, True)
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, ms, details in rows:
        out.write(f"{name.ljust(width)}  {ms:10.1f} ms  {details}".rstrip() + "\n")
    out.flush()
