"""An OpenTelemetry SDK tracer provider installed globally for one test, then removed.

The library traces through the global provider (as an embedder's would be), so a test that
checks its spans installs one with an in-memory exporter and restores "no provider" after:
the API allows setting the global provider once per process, so the reset uses the API's
module globals, exactly as OpenTelemetry's own test utilities do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

__all__ = ["SpanNode", "global_tracer_provider", "reset_global_tracer_provider", "span_tree"]


def reset_global_tracer_provider() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@contextlib.contextmanager
def global_tracer_provider() -> Iterator[InMemorySpanExporter]:
    """Install an SDK provider exporting to memory (synchronously); yield the exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reset_global_tracer_provider()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        reset_global_tracer_provider()


@dataclass
class SpanNode:
    span: ReadableSpan
    children: list[SpanNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def start(self) -> int:
        assert self.span.start_time is not None
        return self.span.start_time

    @property
    def end(self) -> int:
        assert self.span.end_time is not None
        return self.span.end_time

    def names(self) -> list[str]:
        return [child.name for child in self.children]

    def walk(self) -> Iterator[SpanNode]:
        yield self
        for child in self.children:
            yield from child.walk()


def span_tree(spans: Sequence[ReadableSpan]) -> list[SpanNode]:
    """The spans as trees (roots: spans whose parent is not among them), children in start
    order."""
    nodes = {span.context.span_id: SpanNode(span) for span in spans if span.context is not None}
    roots: list[SpanNode] = []
    for node in sorted(nodes.values(), key=lambda n: n.span.start_time or 0):
        parent = node.span.parent
        if parent is not None and parent.span_id in nodes:
            nodes[parent.span_id].children.append(node)
        else:
            roots.append(node)
    return roots
