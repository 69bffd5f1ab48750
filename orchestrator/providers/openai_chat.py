"""The ``openai_chat`` provider: Chat Completions for OpenAI-compatible servers.

For servers without a full Responses API (Ollama, vLLM, llama.cpp, LiteLLM, Azure OpenAI
deployments). Same tool loop as the Responses provider: the provider-neutral input items
become system/user/assistant/tool messages (consecutive function calls are grouped into one
assistant message with ``tool_calls``, each output answers its ``tool_call_id``), tools are
strict function tools, the planner's schema becomes ``response_format: json_schema``, and
``stream_options.include_usage`` asks for token usage. Hosted tools are OpenAI Responses
only, so they are ignored here (with a warning).

Chunks are parsed from raw SSE bytes and decoded straight into msgspec Structs.
"""

from __future__ import annotations

import secrets
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

__all__ = ["OpenAIChatProvider", "build_chat_body", "chat_messages"]

log = structlog.get_logger("orchestrator.providers.openai_chat")

WHERE = "openai chat completions"


# ------------------------------------------------------------------------ wire structs (in)


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[_ToolCallDelta] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = 0


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = 0


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class _Chunk(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: ErrorBody | None = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode
_DONE = b"[DONE]"


# ----------------------------------------------------------------------- request building


def chat_messages(instructions: str, items: tuple[InputItem, ...]) -> list[dict[str, Any]]:
    """Provider-neutral input items → Chat Completions messages."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
    calls: list[dict[str, Any]] | None = None
    for item in items:
        if isinstance(item, ProviderItem):
            continue  # another API's opaque output (e.g. Responses reasoning): not for chat
        if isinstance(item, FunctionCall):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            if calls is None:
                calls = [call]
                messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            else:
                calls.append(call)
            continue
        calls = None
        if isinstance(item, UserMessage):
            messages.append({"role": "user", "content": item.text})
        elif isinstance(item, AssistantMessage):
            messages.append({"role": "assistant", "content": item.text})
        elif isinstance(item, FunctionCallOutput):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    return messages


def build_chat_body(request: ModelRequest, config: LLMConfig) -> dict[str, Any]:
    """The JSON body of one streamed ``POST /chat/completions`` call."""
    spec = request.assistant
    body: dict[str, Any] = {
        "model": spec.model,
        "messages": chat_messages(spec.instructions, request.input),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if takes_temperature(spec.model, config.reasoning):
        body["temperature"] = spec.temperature
    if spec.max_output_tokens is not None:
        # OpenAI and Azure want the newer name (reasoning models reject max_tokens); the
        # compatible servers all understand max_tokens.
        openai_proper = config.base_url is None or config.azure_deployment is not None
        key = "max_completion_tokens" if openai_proper else "max_tokens"
        body[key] = spec.max_output_tokens
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                    "strict": True,
                },
            }
            for tool in request.tools
        ]
        body["tool_choice"] = "auto"
    if request.response_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.response_schema_name,
                "schema": request.response_schema,
                "strict": True,
            },
        }
    return body


# ------------------------------------------------------------------------------ the provider


class _PendingCall:
    __slots__ = ("arguments", "call_id", "name")

    def __init__(self) -> None:
        self.call_id = ""
        self.name = ""
        self.arguments: list[str] = []


class OpenAIChatProvider(OpenAIProviderBase):
    """Streams Chat Completions; Azure when ``azure_deployment``/``azure_api_version`` is set."""

    name = "openai_chat"

    def __init__(self, config: LLMConfig, *, http_client: httpx2.AsyncClient | None = None) -> None:
        azure = config.azure_deployment is not None or config.azure_api_version is not None
        super().__init__(config, http_client=http_client, azure=azure)
        self._warned_hosted: set[str] = set()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ProviderEvent, None]:
        spec = request.assistant
        if spec.hosted_tools and spec.name not in self._warned_hosted:
            self._warned_hosted.add(spec.name)
            log.warning(
                "hosted tools need the openai (Responses) provider; ignored",
                assistant=spec.name,
                hosted_tools=list(spec.hosted_tools),
            )
        body = build_chat_body(request, self.config)
        async with self._frames("/chat/completions", body, where=WHERE) as frames:
            state = _ChatState()
            async for _event, data in frames:
                if data == _DONE:
                    await drain(frames)
                    break
                try:
                    chunk = _decode_chunk(data)
                except (msgspec.DecodeError, msgspec.ValidationError) as err:
                    raise BadResponse(f"{WHERE}: malformed stream chunk: {err}") from err
                for produced in state.handle(chunk):
                    yield produced
        turn = state.finish()
        for call in turn.tool_calls:
            yield call
        yield turn


class _ChatState:
    """Accumulates one streamed chat completion."""

    __slots__ = ("calls", "finish_reason", "model", "refusal", "response_id", "text", "usage")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, _PendingCall] = {}
        self.finish_reason: str | None = None
        self.usage = TurnUsage()
        self.response_id: str | None = None
        self.model: str | None = None

    def handle(self, chunk: _Chunk) -> list[ProviderEvent]:
        if chunk.error is not None:
            raise error_from_payload(chunk.error, where=WHERE)
        if self.response_id is None:
            self.response_id = chunk.id
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        produced: list[ProviderEvent] = []
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    self.text.append(delta.content)
                    produced.append(TextDelta(delta.content))
                if delta.refusal:
                    self.refusal.append(delta.refusal)
                for call in delta.tool_calls or ():
                    pending = self.calls.get(call.index)
                    if pending is None:
                        pending = self.calls[call.index] = _PendingCall()
                    if call.id:
                        pending.call_id = call.id
                    if call.function is not None:
                        if call.function.name:
                            pending.name += call.function.name
                        if call.function.arguments:
                            pending.arguments.append(call.function.arguments)
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return produced

    def finish(self) -> ModelTurn:
        if self.refusal:
            raise Refusal(f"the model refused: {''.join(self.refusal)}")
        if self.finish_reason is None:
            raise ProviderUnavailable(f"{WHERE}: the stream ended before a finish_reason")
        if self.finish_reason == "content_filter":
            raise Refusal(f"{WHERE}: the answer was stopped by the content filter")
        if self.finish_reason == "length":
            raise OutputTruncated(
                f"{WHERE}: the answer was cut off at the output token limit",
                partial="".join(self.text),
            )
        tool_calls: list[ToolCallRequest] = []
        for index in sorted(self.calls):
            pending = self.calls[index]
            if not pending.name:
                raise BadResponse(f"{WHERE}: a tool call without a function name")
            call_id = pending.call_id or f"call_{secrets.token_hex(8)}"
            tool_calls.append(ToolCallRequest(call_id, pending.name, "".join(pending.arguments)))
        text = "".join(self.text)
        if not text.strip() and not tool_calls:
            raise BadResponse(f"{WHERE}: the model returned an empty answer")
        return ModelTurn(
            text=text,
            tool_calls=tuple(tool_calls),
            usage=self.usage,
            response_id=self.response_id,
            model=self.model,
        )


def _usage(usage: _Usage) -> TurnUsage:
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return TurnUsage(
        input_tokens=usage.prompt_tokens or 0,
        cached_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        output_tokens=usage.completion_tokens or 0,
        reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
    )
