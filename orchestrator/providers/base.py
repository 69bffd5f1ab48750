"""The provider protocol: one async interface every LLM backend implements.

A provider gets a :class:`ModelRequest` (assistant spec, the full input items, tool schemas and
an optional structured-output schema) and streams :class:`ProviderEvent` values: text deltas,
complete tool-call requests, and exactly one final :class:`ModelTurn` with usage. Failures are
raised as :class:`ProviderError` subclasses with a stable ``code`` so the state machine can
decide to retry, and the service can tell the user what happened.

The input items are provider-neutral; each provider translates them to its wire format
(Responses API input items, Chat Completions messages, or the offline engine's reading). The
one exception is :class:`ProviderItem`: an opaque item one provider returned with a turn
(``ModelTurn.replay_items``) and wants back verbatim in the later turns of the same step;
every other provider skips it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from orchestrator.assistants import AssistantSpec
from orchestrator.error_codes import ErrorCode

__all__ = [
    "AssistantMessage",
    "AuthenticationFailed",
    "BadResponse",
    "FunctionCall",
    "FunctionCallOutput",
    "InputItem",
    "ModelRequest",
    "ModelTurn",
    "OutputTruncated",
    "ProbeResult",
    "ProbeStatus",
    "ProbingProvider",
    "Provider",
    "ProviderError",
    "ProviderEvent",
    "ProviderItem",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "Refusal",
    "TextDelta",
    "ToolCallRequest",
    "ToolSchema",
    "TurnUsage",
    "UserMessage",
    "probe_provider",
]


# ----------------------------------------------------------------------------- input items


class UserMessage(msgspec.Struct, frozen=True, tag="user"):
    text: str


class AssistantMessage(msgspec.Struct, frozen=True, tag="assistant"):
    text: str


class FunctionCall(msgspec.Struct, frozen=True, tag="function_call"):
    """A tool call the model made earlier in this step (replayed in stateless mode)."""

    call_id: str
    name: str
    arguments: str


class FunctionCallOutput(msgspec.Struct, frozen=True, tag="function_call_output"):
    """The JSON-encoded result (or error) of a tool call, fed back to the model.

    ``output`` is what a language model reads: compact (the result's summary, its key
    figures and a ``ref``; see :mod:`orchestrator._results`). ``result`` is the tool's whole
    result as JSON, for a provider that computes on it rather than reads it (the offline
    engine); None when ``output`` is already all of it (errors, small results).
    """

    call_id: str
    output: str
    result: str | None = None


class ProviderItem(msgspec.Struct, frozen=True, tag="provider_item"):
    """Model output only ``provider`` understands, replayed verbatim in later turns of a step.

    E.g. the encrypted reasoning items of OpenAI reasoning models: ``payload`` is the JSON
    object the ``openai`` provider sends back as one Responses API input item. Providers skip
    the items of other providers; nothing else reads ``payload``.
    """

    provider: str
    payload: dict[str, Any]


InputItem = UserMessage | AssistantMessage | FunctionCall | FunctionCallOutput | ProviderItem


class ToolSchema(msgspec.Struct, frozen=True):
    """A function tool as offered to the model: strict JSON Schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


class ModelRequest(msgspec.Struct, frozen=True, kw_only=True):
    assistant: AssistantSpec
    input: tuple[InputItem, ...]
    tools: tuple[ToolSchema, ...] = ()
    # JSON Schema the final text must satisfy (the planner's structured output), or None.
    response_schema: dict[str, Any] | None = None
    response_schema_name: str = "output"
    # Only used by providers that keep server-side state (OpenAI proper, when configured).
    previous_response_id: str | None = None
    # Structured facts about the run that the input text also states (question, step kind,
    # task, now, dataset summary, history). Network providers ignore them; the offline
    # engine reads them instead of parsing prose. Keys: orchestrator.context.RequestHints.
    hints: dict[str, Any] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------------------- stream events


class TurnUsage(msgspec.Struct, frozen=True, kw_only=True):
    """What one turn consumed. A language model reports tokens; the offline engine runs no
    model (``language_model=False``: no LLM call, tokens or cost) and measures the CPU time it
    spent computing the turn instead. ``cpu_ms`` is 0 for a remote model, whose compute this
    process cannot see."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cpu_ms: float = 0.0
    language_model: bool = True


class TextDelta(msgspec.Struct, frozen=True, tag="text_delta"):
    text: str


class ToolCallRequest(msgspec.Struct, frozen=True, tag="tool_call"):
    """A complete function call (arguments fully assembled, still an unparsed JSON string)."""

    call_id: str
    name: str
    arguments: str


class ModelTurn(msgspec.Struct, frozen=True, kw_only=True, tag="turn"):
    """The end of one model call: its text (may be empty when it only called tools).

    ``replay_items``, in the order the model produced them, belong right before this turn's
    function calls whenever the calls are fed back to the model in the same step.
    """

    text: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    replay_items: tuple[ProviderItem, ...] = ()
    usage: TurnUsage = TurnUsage()
    response_id: str | None = None
    model: str | None = None


ProviderEvent = TextDelta | ToolCallRequest | ModelTurn


@runtime_checkable
class Provider(Protocol):
    """An LLM backend. ``stream`` yields zero or more deltas/tool calls, then one ModelTurn."""

    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]: ...

    async def aclose(self) -> None: ...


# ------------------------------------------------------------------------------------ probe

ProbeStatus = Literal["ok", "unreachable", "model_missing", "rejected", "error"]


class ProbeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a cheap check of the provider's server found (``/health`` shows it).

    ``ok``: the server answered and serves every model asked about (or cannot list them);
    ``unreachable``: no answer (refused, DNS, timeout); ``model_missing``: it answered but does
    not list ``missing``; ``rejected``: it refused the credentials (401/403); ``error``: any
    other answer (e.g. HTTP 5xx). ``message`` is for operators and never holds a secret.
    """

    status: ProbeStatus
    message: str
    latency_ms: float | None = None
    missing: tuple[str, ...] = ()
    available: tuple[str, ...] = ()  # the first few models the server lists, for the message


@runtime_checkable
class ProbingProvider(Protocol):
    """A provider that can check its server without a model call (no tokens, no cost).

    Optional: :func:`probe_provider` answers ``ok`` for providers without ``probe``, so the
    narrow :class:`Provider` protocol stays what an embedder must implement.
    """

    async def probe(self, models: tuple[str, ...], timeout_s: float) -> ProbeResult: ...


async def probe_provider(
    provider: Provider, models: tuple[str, ...], timeout_s: float = 2.0
) -> ProbeResult:
    """``provider.probe(models, timeout_s)``, or ``ok`` when the provider has nothing to probe
    (the offline engine, a scripted provider, an embedder's own)."""
    if isinstance(provider, ProbingProvider):
        return await provider.probe(models, timeout_s)
    return ProbeResult(status="ok", message=f"{provider.name}: nothing to probe (no server)")


# ----------------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base of every provider failure. ``code`` is stable and ends up in the ``error`` event."""

    code: ErrorCode = "provider_error"
    retryable: bool = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, stale_connection: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        # The server closed a kept-alive connection just as the request went out on it: not
        # an outage, so the call is repeated at once (once) without using its retry budget.
        self.stale_connection = stale_connection


class RateLimited(ProviderError):
    code = "llm_rate_limited"
    retryable = True


class ProviderTimeout(ProviderError):
    code = "llm_timeout"
    retryable = True


class ProviderUnavailable(ProviderError):
    """Connection refused, 5xx, or a stream that ended without completing."""

    code = "llm_unavailable"
    retryable = True


class BadResponse(ProviderError):
    """The server answered something we cannot use (malformed, incomplete, failed)."""

    code: ErrorCode = "llm_bad_response"


class OutputTruncated(BadResponse):
    """The answer was cut off at the output token limit (``max_output_tokens``).

    ``partial`` is the text received before the cut. The machine handles it: the planner's
    retries, or one retry of a step asking for a shorter answer.
    """

    code: ErrorCode = "llm_output_truncated"

    def __init__(self, message: str, *, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class AuthenticationFailed(ProviderError):
    """401/403: the operator must fix the key; never retried."""

    code = "llm_auth_failed"


class Refusal(ProviderError):
    code = "llm_refusal"
