"""OpenTelemetry spans of a run: the run, each step, each LLM call, each tool call.

The library depends on the OpenTelemetry **API** only. It emits spans through the global
tracer provider, so it traces exactly when its host has configured one (the service with
``[telemetry] tracing = true``, the CLI with ``--trace``, an embedder with the SDK), and does
nothing otherwise: with no provider set every helper here returns after one ``isinstance``
check, before any span, attribute or context object is made (``bench/tracing.py`` measures
it). The tracer is looked up per provider, so a host (or a test) that replaces the provider
is followed.

The spans follow the OpenTelemetry GenAI semantic conventions:

- ``invoke_agent orchestrator`` (the run): ``gen_ai.operation.name = invoke_agent``, the run
  and conversation ids, the run's token totals and its status; ``error.type`` is the run's
  error code when it did not complete.
- ``step <kind>`` (the planner and every planned step): ``gen_ai.agent.name`` and the step's
  index, its tokens (what its LLM calls used).
- ``chat <model>`` (one LLM call, a retry is another span, kind CLIENT):
  ``gen_ai.operation.name = chat``, ``gen_ai.provider.name`` (the provider's name:
  ``openai``, ``openai_chat``, ``offline``…), ``gen_ai.request.model``,
  ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
  ``gen_ai.request.max_tokens`` when the assistant sets one, ``gen_ai.response.id``,
  ``error.type`` (the provider error's stable code) on failure.
- ``execute_tool <name>``: ``gen_ai.tool.name``, ``gen_ai.tool.call.id``,
  ``gen_ai.tool.type = function``; ``error.type = tool_error`` when the call failed.

Prompts, completions, tool arguments and tool results are recorded only when content
capture is on (:func:`set_capture_content`, or the conventional environment variable
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``): they hold users' questions and
data. :func:`add_trace_context` is a structlog processor that puts ``trace_id`` and
``span_id`` on every line logged inside a span.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Awaitable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
    format_span_id,
    format_trace_id,
)

from orchestrator.providers.base import (
    AssistantMessage,
    FunctionCall,
    FunctionCallOutput,
    ModelRequest,
    ModelTurn,
    ProviderError,
    ToolCallRequest,
    UserMessage,
)

if TYPE_CHECKING:
    from orchestrator._run import RunRecord
    from orchestrator.events import ErrorData, RunUsage

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "TRACER_NAME",
    "add_trace_context",
    "current_traceparent",
    "set_capture_content",
    "step_span",
    "traced_model_call",
    "traced_run",
    "traced_tool_call",
    "tracing_enabled",
]

TRACER_NAME: Final = "orchestrator"
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_AGENT_NAME: Final = "orchestrator"

_T = TypeVar("_T")
_tracers: dict[int, tuple[TracerProvider, Tracer]] = {}
_capture: bool | None = None


# Where the API keeps the global provider (None until one is set). Reading it directly is the
# "tracing off" fast path: ``trace.get_tracer_provider()`` also looks up an environment
# variable on every call, which would cost more than everything else this module does when
# off. Should a future API move it, the public call is used instead.
_UNSET: Final = object()
_PROVIDER_FROM_ENV: Final = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _configured_provider() -> TracerProvider | None:
    provider: object = getattr(trace, "_TRACER_PROVIDER", _UNSET)
    if provider is _UNSET or (provider is None and _PROVIDER_FROM_ENV):
        provider = trace.get_tracer_provider()
    if provider is None or isinstance(provider, ProxyTracerProvider | NoOpTracerProvider):
        return None
    return provider if isinstance(provider, TracerProvider) else None


def _tracer() -> Tracer | None:
    """The orchestrator's tracer of the configured provider, or None when none is set."""
    provider = _configured_provider()
    if provider is None:
        return None
    cached = _tracers.get(id(provider))
    if cached is None or cached[0] is not provider:
        cached = (provider, provider.get_tracer(TRACER_NAME))
        _tracers.clear()  # one provider at a time: do not keep old ones alive
        _tracers[id(provider)] = cached
    return cached[1]


def tracing_enabled() -> bool:
    """Whether a tracer provider is configured (the library's spans are being made)."""
    return _tracer() is not None


def set_capture_content(enabled: bool | None) -> None:
    """Record prompts, completions and tool arguments/results on spans (``None``: follow
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, off unless it is ``true``)."""
    global _capture
    _capture = enabled


def _capturing() -> bool:
    if _capture is not None:
        return _capture
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the current span, if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format_trace_id(context.trace_id))
        event_dict.setdefault("span_id", format_span_id(context.span_id))
    return event_dict


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (None outside a valid span)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags)
    return f"00-{format_trace_id(context.trace_id)}-{format_span_id(context.span_id)}-{flags:02x}"


# -- the run ----------------------------------------------------------------------------------


class _Outcome(Protocol):
    @property
    def status(self) -> Literal["completed", "failed", "cancelled"]: ...
    @property
    def usage(self) -> RunUsage: ...
    @property
    def error(self) -> ErrorData | None: ...


_O = TypeVar("_O", bound=_Outcome)


async def traced_run(run: RunRecord, provider: str, drive: Awaitable[_O]) -> _O:
    """Await ``drive`` (the whole run) inside the run's span; record how it ended."""
    tracer = _tracer()
    if tracer is None:
        return await drive
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": _AGENT_NAME,
        "gen_ai.provider.name": provider,
        "orchestrator.run.id": run.run_id,
    }
    if run.context.conversation_id is not None:
        attributes["gen_ai.conversation.id"] = str(run.context.conversation_id)
    with tracer.start_as_current_span(
        f"invoke_agent {_AGENT_NAME}", attributes=attributes, record_exception=False
    ) as span:
        try:
            outcome = await drive
        except BaseException as exc:
            _fail(span, type(exc).__name__)
            raise
        usage = outcome.usage
        span.set_attributes(
            {
                "orchestrator.run.status": outcome.status,
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "orchestrator.usage.cached_tokens": usage.cached_tokens,
                "orchestrator.usage.reasoning_tokens": usage.reasoning_tokens,
                "orchestrator.usage.messages": usage.messages,
            }
        )
        if outcome.error is not None:
            _fail(span, outcome.error.code, outcome.error.error)
        return outcome


# -- steps ------------------------------------------------------------------------------------


_OFF: Final = contextlib.nullcontext()


def step_span(run: RunRecord, kind: str, index: int | None) -> AbstractContextManager[None]:
    """The span of one step (``index`` None: the planner), with the tokens it used."""
    tracer = _tracer()
    return _OFF if tracer is None else _step_span(tracer, run, kind, index)


@contextlib.contextmanager
def _step_span(tracer: Tracer, run: RunRecord, kind: str, index: int | None) -> Iterator[None]:
    attributes: dict[str, Any] = {
        "gen_ai.agent.name": kind,
        "orchestrator.run.id": run.run_id,
        "orchestrator.step.kind": kind,
    }
    if index is not None:
        attributes["orchestrator.step.index"] = index
    usage = run.usage
    before = (usage.input_tokens, usage.output_tokens)
    with tracer.start_as_current_span(
        f"step {kind}", attributes=attributes, record_exception=False
    ) as span:
        try:
            yield
        except BaseException as exc:
            _fail(span, getattr(exc, "code", None) or type(exc).__name__, str(exc))
            raise
        finally:
            span.set_attributes(
                {
                    "gen_ai.usage.input_tokens": usage.input_tokens - before[0],
                    "gen_ai.usage.output_tokens": usage.output_tokens - before[1],
                }
            )


# -- LLM calls --------------------------------------------------------------------------------


async def traced_model_call(
    provider: str, request: ModelRequest, call: Awaitable[ModelTurn]
) -> ModelTurn:
    """Await one provider call inside a GenAI ``chat`` span (client kind)."""
    tracer = _tracer()
    if tracer is None:
        return await call
    spec = request.assistant
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": spec.model,
        "gen_ai.agent.name": spec.name,
        "gen_ai.request.temperature": spec.temperature,
        "gen_ai.output.type": "json" if request.response_schema is not None else "text",
    }
    if spec.max_output_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = spec.max_output_tokens
    capture = _capturing()
    if capture:
        attributes["gen_ai.system_instructions"] = _json(
            [{"type": "text", "content": spec.instructions}]
        )
        attributes["gen_ai.input.messages"] = _json(_input_messages(request))
    with tracer.start_as_current_span(
        f"chat {spec.model}", kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
    ) as span:
        try:
            turn = await call
        except ProviderError as exc:
            _fail(span, exc.code, exc.message)
            raise
        except BaseException as exc:
            _fail(span, type(exc).__name__)
            raise
        result: dict[str, Any] = {
            "gen_ai.response.model": turn.model or spec.model,
            "gen_ai.usage.input_tokens": turn.usage.input_tokens,
            "gen_ai.usage.output_tokens": turn.usage.output_tokens,
            "gen_ai.response.finish_reasons": ("tool_calls" if turn.tool_calls else "stop",),
        }
        if turn.usage.cached_tokens:
            result["gen_ai.usage.cache_read.input_tokens"] = turn.usage.cached_tokens
        if turn.usage.reasoning_tokens:
            result["gen_ai.usage.reasoning.output_tokens"] = turn.usage.reasoning_tokens
        if turn.response_id is not None:
            result["gen_ai.response.id"] = turn.response_id
        if capture:
            result["gen_ai.output.messages"] = _json([_output_message(turn)])
        span.set_attributes(result)
        return turn


def _input_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """The request's input items as GenAI ``gen_ai.input.messages`` (role + parts)."""
    messages: list[dict[str, Any]] = []
    for item in request.input:
        if isinstance(item, UserMessage):
            messages.append({"role": "user", "parts": [{"type": "text", "content": item.text}]})
        elif isinstance(item, AssistantMessage):
            messages.append(
                {"role": "assistant", "parts": [{"type": "text", "content": item.text}]}
            )
        elif isinstance(item, FunctionCall):
            part = {"type": "tool_call", "id": item.call_id, "name": item.name}
            messages.append({"role": "assistant", "parts": [{**part, "arguments": item.arguments}]})
        elif isinstance(item, FunctionCallOutput):
            part = {"type": "tool_call_response", "id": item.call_id, "response": item.output}
            messages.append({"role": "tool", "parts": [part]})
    return messages


def _output_message(turn: ModelTurn) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if turn.text:
        parts.append({"type": "text", "content": turn.text})
    parts += [
        {"type": "tool_call", "id": call.call_id, "name": call.name, "arguments": call.arguments}
        for call in turn.tool_calls
    ]
    reason = "tool_call" if turn.tool_calls else "stop"
    return {"role": "assistant", "parts": parts, "finish_reason": reason}


# -- tool calls -------------------------------------------------------------------------------


async def traced_tool_call(
    call: ToolCallRequest, execute: Awaitable[tuple[str, bool]]
) -> tuple[str, bool]:
    """Await one tool call (``(output, failed)``) inside an ``execute_tool`` span."""
    tracer = _tracer()
    if tracer is None:
        return await execute
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.call_id,
        "gen_ai.tool.type": "function",
    }
    capture = _capturing()
    if capture:
        attributes["gen_ai.tool.call.arguments"] = call.arguments
    with tracer.start_as_current_span(
        f"execute_tool {call.name}", attributes=attributes, record_exception=False
    ) as span:
        try:
            output, failed = await execute
        except BaseException as exc:
            _fail(span, getattr(exc, "code", None) or type(exc).__name__, str(exc))
            raise
        if capture:
            span.set_attribute("gen_ai.tool.call.result", output)
        if failed:
            _fail(span, "tool_error")
        return output, failed


# -- helpers ----------------------------------------------------------------------------------


def _fail(span: Span, error_type: str, description: str | None = None) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description or error_type))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
