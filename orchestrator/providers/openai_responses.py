"""The ``openai`` provider: the OpenAI Responses API, streamed, with a cheap hot path.

Each model call is one ``POST /responses`` with ``stream: true``. The request carries the
assistant's instructions, model, sampling, strict function tools, optional hosted tools
(``code_interpreter``) and, for the planner, a strict JSON Schema output format. It is
stateless by default: the full provider-neutral input items are translated and sent every
turn, which works on every compatible server. With ``llm.use_previous_response_id`` and a
previous response id on the request, only the items after the model's last output are sent.

The body is laid out for prompt caching: the stable head (model, instructions, tool schemas)
comes before the run's own input, and ``prompt_cache_key`` (:func:`prompt_cache_key`) names
the assistant and its tool set, so OpenAI routes calls that share that head to one cache.
Cached input tokens come back as ``usage.input_tokens_details.cached_tokens`` and are counted
in the turn's usage (``cached_tokens``).

Reasoning models (``o*``, ``gpt-5*``) in stateless mode (``store: false``) would lose their
chain of thought between tool rounds, since OpenAI keeps nothing. So their requests ask for
``include: ["reasoning.encrypted_content"]``, and the reasoning items that led to the turn's
function calls come back as ``ModelTurn.replay_items``: the machine puts them before those
calls in the next turn's input, where they are sent verbatim. With server-side state, OpenAI
keeps the reasoning itself and none is requested or sent.

The response stream is parsed from raw bytes (see ``_openai_sse``); only the event types we
use are decoded, into msgspec Structs.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import msgspec
import structlog

from orchestrator.config import LLMConfig
from orchestrator.providers._openai_common import (
    ErrorBody,
    OpenAIProviderBase,
    drain,
    error_from_payload,
    is_reasoning_model,
    takes_temperature,
)
from orchestrator.providers.base import (
    AssistantMessage,
    BadResponse,
    FunctionCall,
    FunctionCallOutput,
    InputItem,
    ModelRequest,
    ModelTurn,
    OutputTruncated,
    ProviderEvent,
    ProviderItem,
    ProviderUnavailable,
    Refusal,
    TextDelta,
    ToolCallRequest,
    TurnUsage,
    UserMessage,
)

__all__ = [
    "OpenAIResponsesProvider",
    "build_responses_body",
    "prompt_cache_key",
    "responses_input",
]

log = structlog.get_logger("orchestrator.providers.openai")

PROVIDER = "openai"
WHERE = "openai responses"
ENCRYPTED_REASONING = "reasoning.encrypted_content"
HOSTED_TOOLS: dict[str, dict[str, Any]] = {
    "code_interpreter": {"type": "code_interpreter", "container": {"type": "auto"}},
}


# ------------------------------------------------------------------------ wire structs (in)


class _TypeOnly(msgspec.Struct):
    type: str = ""


class _TextDelta(msgspec.Struct):
    delta: str


class _ContentPart(msgspec.Struct):
    type: str
    text: str | None = None
    refusal: str | None = None


class _OutputItem(msgspec.Struct):
    type: str
    id: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    content: list[_ContentPart] | None = None


class _ItemEvent(msgspec.Struct):
    item: _OutputItem
    output_index: int = 0


class _ArgsDelta(msgspec.Struct):
    delta: str
    output_index: int = 0


class _RefusalDone(msgspec.Struct):
    refusal: str = ""


class _InputDetails(msgspec.Struct):
    cached_tokens: int | None = 0


class _OutputDetails(msgspec.Struct):
    reasoning_tokens: int | None = 0


class _Usage(msgspec.Struct):
    input_tokens: int | None = 0
    output_tokens: int | None = 0
    input_tokens_details: _InputDetails | None = None
    output_tokens_details: _OutputDetails | None = None


class _Incomplete(msgspec.Struct):
    reason: str | None = None


class _Response(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None
    error: ErrorBody | None = None
    incomplete_details: _Incomplete | None = None


class _ResponseEvent(msgspec.Struct):
    response: _Response


class _SummaryPart(msgspec.Struct):
    type: str
    text: str


class _ReasoningItem(msgspec.Struct):
    """What a reasoning item needs to be sent back as input (no ``status``, no ``content``)."""

    type: str
    id: str | None = None
    encrypted_content: str | None = None
    summary: list[_SummaryPart] = []


class _ReasoningDone(msgspec.Struct):
    item: _ReasoningItem


_decode_type = msgspec.json.Decoder(_TypeOnly).decode
_decode_text = msgspec.json.Decoder(_TextDelta).decode
_decode_item = msgspec.json.Decoder(_ItemEvent).decode
_decode_args = msgspec.json.Decoder(_ArgsDelta).decode
_decode_refusal = msgspec.json.Decoder(_RefusalDone).decode
_decode_response = msgspec.json.Decoder(_ResponseEvent).decode
_decode_reasoning = msgspec.json.Decoder(_ReasoningDone).decode
_decode_error = msgspec.json.Decoder(ErrorBody).decode

# The event types we act on; every other event is skipped without decoding its JSON.
_TEXT = b"response.output_text.delta"
_ITEM_ADDED = b"response.output_item.added"
_ITEM_DONE = b"response.output_item.done"
_ARGS = b"response.function_call_arguments.delta"
_REFUSAL = b"response.refusal.done"
_COMPLETED = b"response.completed"
_INCOMPLETE = b"response.incomplete"
_FAILED = b"response.failed"
_ERROR = b"error"
_USED = frozenset({_TEXT, _ITEM_ADDED, _ITEM_DONE, _ARGS, _REFUSAL, _COMPLETED, _INCOMPLETE})
_USED |= {_FAILED, _ERROR}
# ``incomplete_details.reason`` values that mean "cut off at the output token limit".
_CUT_OFF = frozenset({"max_output_tokens", "max_tokens", "length"})


# ----------------------------------------------------------------------- request building


def responses_input(items: tuple[InputItem, ...]) -> list[dict[str, Any]]:
    """Provider-neutral input items → Responses API input items."""
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, UserMessage):
            out.append({"type": "message", "role": "user", "content": item.text})
        elif isinstance(item, AssistantMessage):
            out.append({"type": "message", "role": "assistant", "content": item.text})
        elif isinstance(item, FunctionCall):
            out.append(
                {
                    "type": "function_call",
                    "call_id": item.call_id,
                    "name": item.name,
                    "arguments": item.arguments,
                }
            )
        elif isinstance(item, FunctionCallOutput):
            out.append(
                {"type": "function_call_output", "call_id": item.call_id, "output": item.output}
            )
        elif item.provider == PROVIDER:
            out.append(item.payload)  # verbatim; other providers' items mean nothing here
    return out


def _new_items_since_model_output(items: tuple[InputItem, ...]) -> tuple[InputItem, ...]:
    """With server-side state, send only what followed the model's last output."""
    for index in range(len(items) - 1, -1, -1):
        if isinstance(items[index], FunctionCall | AssistantMessage | ProviderItem):
            return items[index + 1 :]
    return items


def _replays_reasoning(model: str, config: LLMConfig) -> bool:
    """Stateless (``store: false``) reasoning models get their encrypted reasoning back."""
    return not config.use_previous_response_id and is_reasoning_model(model, config.reasoning)


def prompt_cache_key(request: ModelRequest, prefix: str) -> str:
    """``{prefix}-{assistant}-{digest}``: the digest covers what the cached head holds (model,
    instructions, tool names), so one key means one prompt prefix."""
    spec = request.assistant
    head = "\n".join((spec.model, spec.instructions, *(t.name for t in request.tools)))
    digest = hashlib.sha256(head.encode()).hexdigest()[:12]
    return f"{prefix}-{spec.name}-{digest}"[:64]


def build_responses_body(request: ModelRequest, config: LLMConfig) -> dict[str, Any]:
    """The JSON body of one streamed ``POST /responses`` call (stable head first)."""
    spec = request.assistant
    stateful = config.use_previous_response_id and request.previous_response_id is not None
    items = _new_items_since_model_output(request.input) if stateful else request.input
    body: dict[str, Any] = {
        "model": spec.model,
        "instructions": spec.instructions,
    }
    if config.prompt_cache_key:
        body["prompt_cache_key"] = prompt_cache_key(request, config.prompt_cache_key)
    body["stream"] = True
    body["store"] = config.use_previous_response_id
    if stateful:
        body["previous_response_id"] = request.previous_response_id
    if _replays_reasoning(spec.model, config):
        body["include"] = [ENCRYPTED_REASONING]
    if takes_temperature(spec.model, config.reasoning):
        body["temperature"] = spec.temperature
    if spec.max_output_tokens is not None:
        body["max_output_tokens"] = spec.max_output_tokens
    tools: list[dict[str, Any]] = [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": True,
        }
        for tool in request.tools
    ]
    for hosted in spec.hosted_tools:
        definition = HOSTED_TOOLS.get(hosted)
        if definition is None:
            log.warning("unknown hosted tool ignored", tool=hosted, assistant=spec.name)
        else:
            tools.append(definition)
    if tools:
        body["tools"] = tools
        body["tool_choice"] = "auto"
    if request.response_schema is not None:
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": request.response_schema_name,
                "schema": request.response_schema,
                "strict": True,
            }
        }
    body["input"] = responses_input(items)  # the run's own part, after the stable head
    return body


# ------------------------------------------------------------------------------ the provider


class _PendingCall:
    __slots__ = ("arguments", "call_id", "name")

    def __init__(self, call_id: str, name: str) -> None:
        self.call_id = call_id
        self.name = name
        self.arguments: list[str] = []


class OpenAIResponsesProvider(OpenAIProviderBase):
    """Streams Responses API calls; one shared SDK client, closed by :meth:`aclose`."""

    name = PROVIDER

    def __init__(self, config: LLMConfig, *, http_client: httpx2.AsyncClient | None = None) -> None:
        super().__init__(config, http_client=http_client, azure=False)

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ProviderEvent, None]:
        body = build_responses_body(request, self.config)
        async with self._frames("/responses", body, where=WHERE) as frames:
            state = _TurnState(
                keep_reasoning=_replays_reasoning(request.assistant.model, self.config)
            )
            async for event, data in frames:
                if not event:
                    event = _event_type(data)
                if event not in _USED:
                    continue
                try:
                    produced = state.handle(event, data)
                except (msgspec.DecodeError, msgspec.ValidationError) as err:
                    raise BadResponse(f"{WHERE}: malformed {event.decode()} event: {err}") from err
                if produced is not None:
                    yield produced
                if state.turn is not None:
                    await drain(frames)
                    yield state.turn
                    return
        raise ProviderUnavailable(f"{WHERE}: the stream ended before response.completed")


def _event_type(data: bytes) -> bytes:
    try:
        return _decode_type(data).type.encode()
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise BadResponse(f"{WHERE}: malformed stream event: {err}") from err


class _TurnState:
    """Accumulates one streamed response; ``turn`` is set once it completed.

    With ``keep_reasoning``, encrypted reasoning items are held until the output item that
    follows them: a function call makes them replay items (OpenAI rejects a replayed reasoning
    item without its following item, and only function calls are replayed as items), anything
    else but a message drops them, as does the end of the response.
    """

    __slots__ = (
        "calls",
        "deltas",
        "item_texts",
        "keep_reasoning",
        "reasoning",
        "replay",
        "tool_calls",
        "turn",
    )

    def __init__(self, *, keep_reasoning: bool = False) -> None:
        self.keep_reasoning = keep_reasoning
        self.deltas: list[str] = []
        self.item_texts: list[str] = []
        self.calls: dict[int, _PendingCall] = {}
        self.tool_calls: list[ToolCallRequest] = []
        self.reasoning: list[ProviderItem] = []  # waiting for the item they led to
        self.replay: list[ProviderItem] = []
        self.turn: ModelTurn | None = None

    def handle(self, event: bytes, data: bytes) -> ProviderEvent | None:
        if event == _TEXT:
            text = _decode_text(data).delta
            self.deltas.append(text)
            return TextDelta(text)
        if event == _ARGS:
            args = _decode_args(data)
            pending = self.calls.get(args.output_index)
            if pending is not None:
                pending.arguments.append(args.delta)
            return None
        if event == _ITEM_ADDED:
            added = _decode_item(data)
            if added.item.type == "function_call":
                self.calls[added.output_index] = _PendingCall(
                    added.item.call_id or added.item.id or "", added.item.name or ""
                )
            return None
        if event == _ITEM_DONE:
            return self._item_done(_decode_item(data), data)
        if event == _REFUSAL:
            raise Refusal(f"the model refused: {_decode_refusal(data).refusal}")
        if event == _COMPLETED:
            self._complete(_decode_response(data).response)
            return None
        if event == _INCOMPLETE:
            reason = _decode_response(data).response.incomplete_details
            why = (reason.reason if reason else None) or "unknown"
            if why == "content_filter":
                raise Refusal(f"{WHERE}: the answer was stopped by the content filter")
            if why in _CUT_OFF:
                raise OutputTruncated(
                    f"{WHERE}: the answer was cut off at the output token limit ({why})",
                    partial="".join(self.deltas),
                )
            raise BadResponse(f"{WHERE}: the response is incomplete ({why})")
        if event == _FAILED:
            raise error_from_payload(_decode_response(data).response.error, where=WHERE)
        raise error_from_payload(_decode_error(data), where=WHERE)

    def _item_done(self, done: _ItemEvent, data: bytes) -> ProviderEvent | None:
        item = done.item
        if item.type == "function_call":
            pending = self.calls.pop(done.output_index, None)
            arguments = item.arguments
            if arguments is None:
                arguments = "".join(pending.arguments) if pending else ""
            call = ToolCallRequest(
                call_id=item.call_id or (pending.call_id if pending else "") or item.id or "",
                name=item.name or (pending.name if pending else ""),
                arguments=arguments,
            )
            if not call.call_id or not call.name:
                raise BadResponse(f"{WHERE}: a function call without call_id or name")
            self.tool_calls.append(call)
            if self.reasoning:  # the reasoning that led to this call
                self.replay += self.reasoning
                self.reasoning.clear()
            return call
        if item.type == "message":
            for part in item.content or ():
                if part.type == "refusal":
                    raise Refusal(f"the model refused: {part.refusal or ''}")
                if part.type == "output_text" and part.text is not None:
                    self.item_texts.append(part.text)
        elif item.type == "reasoning":
            # Reasoning after a call would land before it on replay: keep only what led up
            # to the first call (dropping reasoning only costs context, never correctness).
            if self.keep_reasoning and not self.tool_calls:
                self._reasoning_done(_decode_reasoning(data).item)
        else:
            self.reasoning.clear()  # e.g. a hosted tool call, which is not replayed
        return None

    def _reasoning_done(self, item: _ReasoningItem) -> None:
        # Without its encrypted content, a reasoning item cannot be replayed with store: false
        # (OpenAI answers 404: items are not persisted).
        if item.id and item.encrypted_content:
            self.reasoning.append(ProviderItem(PROVIDER, msgspec.to_builtins(item)))

    def _complete(self, response: _Response) -> None:
        # Calls announced but never finished with output_item.done (lenient servers).
        for pending in self.calls.values():
            if pending.call_id and pending.name:
                self.tool_calls.append(
                    ToolCallRequest(pending.call_id, pending.name, "".join(pending.arguments))
                )
        text = "".join(self.item_texts) if self.item_texts else "".join(self.deltas)
        if not text.strip() and not self.tool_calls:
            raise BadResponse(f"{WHERE}: the model returned an empty answer")
        self.turn = ModelTurn(
            text=text,
            tool_calls=tuple(self.tool_calls),
            replay_items=tuple(self.replay),
            usage=_usage(response.usage),
            response_id=response.id,
            model=response.model,
        )


def _usage(usage: _Usage | None) -> TurnUsage:
    if usage is None:
        return TurnUsage()
    details_in = usage.input_tokens_details
    details_out = usage.output_tokens_details
    return TurnUsage(
        input_tokens=usage.input_tokens or 0,
        cached_tokens=(details_in.cached_tokens or 0) if details_in else 0,
        output_tokens=usage.output_tokens or 0,
        reasoning_tokens=(details_out.reasoning_tokens or 0) if details_out else 0,
    )
