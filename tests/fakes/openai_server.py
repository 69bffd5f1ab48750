"""A scripted fake OpenAI server: Responses API and Chat Completions, streamed or not.

Why: the providers must be tested through the real ``openai`` SDK over real HTTP (openai 3.x
uses httpx2, so respx cannot intercept it). This is a plain ASGI app that answers from a queue
of scripted :class:`Turn` values, emits the complete ordered event sequence the SDK's stream
helpers expect, records every request, and injects every fault the providers must survive.

Three ways to use it:

* in-process over loopback HTTP: ``async with serve(fake) as base_url:`` (a tiny asyncio
  HTTP/1.1 server, real sockets, real incremental streaming, real timeouts and broken streams);
* in-process without sockets: ``httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake))``
  (the response is buffered, so stream faults that need a socket are not available);
* as a process: ``python -m tests.fakes.openai_server --port-file PATH [--latency-ms N]``, then
  script it over HTTP: ``POST /_fake/script`` with ``[{"text": "..."}, {"tool_calls": [{"name":
  "...", "arguments": "{...}"}]}, ...]`` (fields of :class:`Turn`), ``GET /_fake/requests``
  returns the recorded requests, ``POST /_fake/default`` sets the answer used once the queue
  is empty (a Turn, or ``null``), ``POST /_fake/timing`` sets ``{"latency_ms": ...,
  "event_delay_ms": ...}`` (slow runs), ``POST /_fake/reset`` clears queue, records, default.

With ``generic=True`` (``--generic``) a request the queue and default do not answer gets the
"generic" model's answer (:mod:`tests.fakes.generic_model`): structured output generated from
the request's schema, a plausible call of the first offered tool, then a fixed answer.

Point a provider at it with ``LLMConfig(base_url=f"{base_url}/v1", api_key="test-key")``.

Reasoning: a turn with ``reasoning`` (summary text, may be empty) first emits a Responses
``reasoning`` output item, whose ``encrypted_content`` is set only when the request asked for
``include: ["reasoning.encrypted_content"]``, as OpenAI does (``reasoning_items`` records them).
Replayed reasoning input items are checked like OpenAI checks them: with ``store: false`` they
need their ``encrypted_content`` (else 404), and the item after each must be a function call
(else 400; stricter than OpenAI, which also accepts an output message with its id).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from tests.fakes.generic_model import generic_reply

__all__ = [
    "Call",
    "FakeOpenAI",
    "RecordedRequest",
    "Turn",
    "closed_port",
    "raw_sse_app",
    "run_process",
    "serve",
    "serve_in_thread",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

StreamFault = Literal["truncate", "stall", "drop"]


class Call(msgspec.Struct, frozen=True):
    """A scripted function call; ``arguments`` is sent verbatim (may be malformed on purpose)."""

    name: str
    arguments: str
    call_id: str | None = None


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted model answer, or a scripted failure.

    * ``text`` / ``tool_calls`` / ``refusal``: what the model says (all may be empty: an
      empty answer).
    * ``status`` ≠ 200: an HTTP error with an OpenAI-style error body and ``headers``
      (e.g. ``{"retry-after": "2"}``).
    * ``fault``: after ``fault_after`` stream events, ``truncate`` ends the stream cleanly
      without the completion event, ``stall`` stops sending for ``stall_s`` seconds (a read
      timeout), ``drop`` closes the connection mid-body (real HTTP only).
    * ``incomplete`` (reason) / ``failed`` (error code): Responses API terminal failures; on
      chat, ``incomplete="length"|"content_filter"`` becomes that ``finish_reason``.
    * ``reasoning`` (Responses API only): the summary text of a reasoning item emitted before
      the message and calls (``""``: a reasoning item with an empty summary).
    """

    text: str = ""
    tool_calls: tuple[Call, ...] = ()
    refusal: str | None = None
    status: int = 200
    error_message: str = "scripted error"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    fault: StreamFault | None = None
    fault_after: int = 3
    stall_s: float = 30.0
    incomplete: str | None = None
    failed: str | None = None
    delta_size: int = 8
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    reasoning: str | None = None


class RecordedRequest(msgspec.Struct, frozen=True):
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: str = ""


@dataclass
class FakeOpenAI:
    """The ASGI app. ``script(...)`` queues turns; ``requests`` records what arrived.

    ``by_model`` answers by the request's ``model`` without consuming the queue (benchmarks
    replay the same run forever; its streams are encoded once, then replayed byte for byte, so
    the fake is not the bottleneck); ``default`` answers when the queue is empty (e.g. a model
    that calls a tool forever). With neither, an exhausted script is a 500 that says so.
    """

    latency_s: float = 0.0
    event_delay_s: float = 0.0
    default: Turn | None = None
    by_model: dict[str, Turn] = field(default_factory=dict)
    # Answer from the request itself once queue and default are empty (generic_model.py)
    generic: bool = False
    # Models ``GET /v1/models`` lists (with the ``by_model`` keys); the requests are recorded.
    models: list[str] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Reasoning output items as emitted (with encrypted_content when it was asked for)
    reasoning_items: list[dict[str, Any]] = field(default_factory=list)
    # TCP connections accepted by ``serve`` (keep-alive reuse shows as fewer than requests)
    connections: int = 0
    _queue: deque[Turn] = field(default_factory=deque)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _replay: dict[tuple[str, str], list[bytes]] = field(default_factory=dict)

    def script(self, *turns: Turn) -> None:
        self._queue.extend(turns)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def bodies(self, suffix: str = "") -> list[Any]:
        """Recorded JSON bodies of model calls whose path ends with ``suffix``."""
        return [
            r.body for r in self.requests if r.path.endswith(suffix) and "/_fake/" not in r.path
        ]

    def _next_turn(self, model: str, payload: dict[str, Any], api: str) -> Turn | None:
        if model in self.by_model:
            return self.by_model[model]
        if self._queue:
            return self._queue.popleft()
        if self.default is None and self.generic:
            return _generic_turn(payload, api)
        return self.default

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    # ----------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        method: str = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if path.startswith("/_fake/"):
            await self._control(method, path, body, send)
            return
        try:
            payload = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            await _json(send, 400, _error_body("request body is not JSON", "invalid_request"))
            return
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        self.requests.append(RecordedRequest(method, path, headers, payload, query))
        if method == "GET" and path.endswith("/models"):
            # The model list (what /health's probe reads): ``models`` and the by_model keys.
            ids = dict.fromkeys([*self.models, *self.by_model])
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ids]
            await _json(send, 200, {"object": "list", "data": data})
            return
        api: Literal["responses", "chat"] | None = None
        if method == "POST" and path.endswith("/responses"):
            api = "responses"
        elif method == "POST" and path.endswith("/chat/completions"):
            api = "chat"
        if api is None or not isinstance(payload, dict):
            await _json(send, 404, _error_body(f"no route {method} {path}", "not_found"))
            return
        if api == "responses":
            problem = _reasoning_input_problem(payload)
            if problem is not None:
                status, reason = problem
                await _json(send, status, _error_body(reason, None))
                return
        model = str(payload.get("model", ""))
        turn = self._next_turn(model, payload, api)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if turn is None:
            await _json(send, 500, _error_body("fake: the script is exhausted", "server_error"))
            return
        if turn.status != 200:
            code = "rate_limit_exceeded" if turn.status == 429 else "scripted"
            if turn.status == 401:
                code = "invalid_api_key"
            await _json(send, turn.status, _error_body(turn.error_message, code), turn.headers)
            return
        replay_key = (api, model)
        if payload.get("stream") and model in self.by_model and replay_key in self._replay:
            await self._stream(send, turn, iter(self._replay[replay_key]))
            return
        input_tokens = max(1, len(body) // 4)
        builder = (
            _ResponsesBuilder(self, turn, payload, input_tokens)
            if api == "responses"
            else _ChatBuilder(self, turn, payload, input_tokens)
        )
        if not payload.get("stream"):
            await _json(send, 200, builder.final())
            return
        events = builder.events()
        if model in self.by_model:
            events = iter(self._replay.setdefault(replay_key, list(events)))
        await self._stream(send, turn, events)

    async def _stream(self, send: Send, turn: Turn, events: Iterator[bytes]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        for index, frame in enumerate(events):
            if turn.fault is not None and index == turn.fault_after:
                if turn.fault == "truncate":
                    break
                if turn.fault == "stall":
                    await asyncio.sleep(turn.stall_s)
                    break
                raise _DropConnection
            if self.event_delay_s:
                await asyncio.sleep(self.event_delay_s)
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _control(self, method: str, path: str, body: bytes, send: Send) -> None:
        if method == "POST" and path == "/_fake/script":
            turns = msgspec.json.decode(body, type=list[Turn])
            self.script(*turns)
            await _json(send, 200, {"queued": len(turns), "pending": self.pending})
        elif method == "GET" and path == "/_fake/requests":
            await _json(send, 200, msgspec.to_builtins(self.requests))
        elif method == "POST" and path == "/_fake/default":
            self.default = msgspec.json.decode(body, type=Turn | None)
            await _json(send, 200, {"default": msgspec.to_builtins(self.default)})
        elif method == "POST" and path == "/_fake/timing":
            timing = msgspec.json.decode(body, type=_Timing)
            self.latency_s = timing.latency_ms / 1000.0
            self.event_delay_s = timing.event_delay_ms / 1000.0
            await _json(send, 200, msgspec.to_builtins(timing))
        elif method == "POST" and path == "/_fake/reset":
            self._queue.clear()
            self.requests.clear()
            self.reasoning_items.clear()
            self.default = None
            await _json(send, 200, {"pending": 0})
        else:
            await _json(send, 404, _error_body(f"no control route {method} {path}", "not_found"))


class _Timing(msgspec.Struct, frozen=True):
    latency_ms: float = 0.0
    event_delay_ms: float = 0.0


class _DropConnection(Exception):
    """Raised by the app to make the HTTP server cut the connection mid-body."""


def _generic_turn(payload: dict[str, Any], api: str) -> Turn:
    reply = generic_reply(payload, api)
    if "json" in reply:
        return Turn(text=msgspec.json.encode(reply["json"]).decode(), delta_size=64)
    if "call" in reply:
        arguments = msgspec.json.encode(reply["arguments"]).decode()
        return Turn(tool_calls=(Call(reply["call"], arguments),))
    return Turn(text=reply["text"], delta_size=16)


def _error_body(message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _reasoning_input_problem(payload: dict[str, Any]) -> tuple[int, str] | None:
    """(status, message) of OpenAI's answer to reasoning input items it would refuse."""
    items = payload.get("input")
    if not isinstance(items, list):
        return None
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        item_id = item.get("id")
        if payload.get("store") is False and not item.get("encrypted_content"):
            return 404, (
                f"Item with id '{item_id}' not found. Items are not persisted when `store` is "
                "set to false. Try again with `store` set to true, or remove this item from "
                "your input."
            )
        following = items[index + 1] if index + 1 < len(items) else None
        if not isinstance(following, dict) or following.get("type") != "function_call":
            return 400, (
                f"Item '{item_id}' of type 'reasoning' was provided without its required "
                "following item."
            )
    return None


async def _json(send: Send, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
    raw = msgspec.json.encode(data)
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw, "more_body": False})


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


_encode = msgspec.json.encode


class _ResponsesBuilder:
    """The Responses API event sequence for one turn (and the final response object)."""

    def __init__(self, fake: FakeOpenAI, turn: Turn, request: dict[str, Any], tokens: int) -> None:
        self.turn = turn
        self.request = request
        self.input_tokens = tokens
        self.response_id = fake._new_id("resp")
        self.message_id = fake._new_id("msg")
        self.call_ids = [
            (fake._new_id("fc"), call.call_id or fake._new_id("call")) for call in turn.tool_calls
        ]
        self.seq = 0
        self.reasoning_item: dict[str, Any] | None = None
        if turn.reasoning is not None:
            reasoning_id = fake._new_id("rs")
            encrypted = None
            if "reasoning.encrypted_content" in (request.get("include") or ()):
                sealed = f"{reasoning_id}:{turn.reasoning}".encode()
                encrypted = "gAAAAB" + base64.urlsafe_b64encode(sealed).decode()
            self.reasoning_item = {
                "id": reasoning_id,
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": turn.reasoning}]
                if turn.reasoning
                else [],
                "encrypted_content": encrypted,
            }
            fake.reasoning_items.append(self.reasoning_item)

    def _response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        turn = self.turn
        completed = status == "completed"
        output_tokens = max(
            1, (len(turn.text) + sum(len(c.arguments) for c in turn.tool_calls)) // 4
        )
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": 1_760_000_000,
            "status": status,
            "model": self.request.get("model", "fake-model"),
            "instructions": self.request.get("instructions"),
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": self.request.get("tool_choice", "auto"),
            "tools": self.request.get("tools", []),
            "temperature": self.request.get("temperature", 1.0),
            "top_p": 1.0,
            "metadata": {},
            "error": {"code": turn.failed, "message": "scripted failure"} if turn.failed else None,
            "incomplete_details": {"reason": turn.incomplete} if turn.incomplete else None,
            "usage": {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": turn.cached_tokens},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
                "total_tokens": self.input_tokens + output_tokens,
            }
            if completed or turn.incomplete
            else None,
        }

    def _message_item(self, status: str) -> dict[str, Any]:
        turn = self.turn
        part: dict[str, Any]
        if turn.refusal is not None:
            part = {"type": "refusal", "refusal": turn.refusal}
        else:
            part = {"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [part] if status == "completed" else [],
        }

    def _call_item(self, index: int, status: str) -> dict[str, Any]:
        call = self.turn.tool_calls[index]
        item_id, call_id = self.call_ids[index]
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": call.name,
            "arguments": call.arguments if status == "completed" else "",
        }

    def _has_message(self) -> bool:
        return bool(self.turn.text) or self.turn.refusal is not None or not self.turn.tool_calls

    def _output(self) -> list[dict[str, Any]]:
        output = [self.reasoning_item] if self.reasoning_item is not None else []
        output += [self._message_item("completed")] if self._has_message() else []
        output += [self._call_item(i, "completed") for i in range(len(self.turn.tool_calls))]
        return output

    def final(self) -> dict[str, Any]:
        status = "failed" if self.turn.failed else "incomplete" if self.turn.incomplete else None
        return self._response(status or "completed", self._output())

    def _event(self, kind: str, **data: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **data}
        self.seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + _encode(data) + b"\n\n"

    def _reasoning_events(self) -> Iterator[bytes]:
        item = self.reasoning_item
        assert item is not None
        ev = self._event
        rid = item["id"]
        yield ev(
            "response.output_item.added",
            output_index=0,
            item={**item, "summary": [], "encrypted_content": None},
        )
        for part in item["summary"]:
            text = part["text"]
            where = {"item_id": rid, "output_index": 0, "summary_index": 0}
            yield ev("response.reasoning_summary_part.added", **where, part={**part, "text": ""})
            for piece in _pieces(text, self.turn.delta_size):
                yield ev("response.reasoning_summary_text.delta", **where, delta=piece)
            yield ev("response.reasoning_summary_text.done", **where, text=text)
            yield ev("response.reasoning_summary_part.done", **where, part=part)
        yield ev("response.output_item.done", output_index=0, item=item)

    def events(self) -> Iterator[bytes]:
        turn = self.turn
        ev = self._event
        yield ev("response.created", response=self._response("in_progress", []))
        yield ev("response.in_progress", response=self._response("in_progress", []))
        index = 0
        if self.reasoning_item is not None:
            yield from self._reasoning_events()
            index = 1
        if self._has_message():
            mid = self.message_id
            yield ev(
                "response.output_item.added",
                output_index=index,
                item=self._message_item("in_progress"),
            )
            if turn.refusal is not None:
                part: dict[str, Any] = {"type": "refusal", "refusal": ""}
                yield ev(
                    "response.content_part.added",
                    item_id=mid,
                    output_index=index,
                    content_index=0,
                    part=part,
                )
                for piece in _pieces(turn.refusal, turn.delta_size):
                    yield ev(
                        "response.refusal.delta",
                        item_id=mid,
                        output_index=index,
                        content_index=0,
                        delta=piece,
                    )
                yield ev(
                    "response.refusal.done",
                    item_id=mid,
                    output_index=index,
                    content_index=0,
                    refusal=turn.refusal,
                )
                done_part: dict[str, Any] = {"type": "refusal", "refusal": turn.refusal}
            else:
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                yield ev(
                    "response.content_part.added",
                    item_id=mid,
                    output_index=index,
                    content_index=0,
                    part=part,
                )
                for piece in _pieces(turn.text, turn.delta_size):
                    yield ev(
                        "response.output_text.delta",
                        item_id=mid,
                        output_index=index,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
                yield ev(
                    "response.output_text.done",
                    item_id=mid,
                    output_index=index,
                    content_index=0,
                    text=turn.text,
                    logprobs=[],
                )
                done_part = {
                    "type": "output_text",
                    "text": turn.text,
                    "annotations": [],
                    "logprobs": [],
                }
            yield ev(
                "response.content_part.done",
                item_id=mid,
                output_index=index,
                content_index=0,
                part=done_part,
            )
            yield ev(
                "response.output_item.done",
                output_index=index,
                item=self._message_item("completed"),
            )
            index += 1
        for number, call in enumerate(turn.tool_calls):
            item_id = self.call_ids[number][0]
            out = index + number
            yield ev(
                "response.output_item.added",
                output_index=out,
                item=self._call_item(number, "in_progress"),
            )
            for piece in _pieces(call.arguments, turn.delta_size):
                yield ev(
                    "response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=out,
                    delta=piece,
                )
            yield ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=out,
                name=call.name,
                arguments=call.arguments,
            )
            yield ev(
                "response.output_item.done",
                output_index=out,
                item=self._call_item(number, "completed"),
            )
        if turn.failed:
            yield ev("response.failed", response=self.final())
        elif turn.incomplete:
            yield ev("response.incomplete", response=self.final())
        else:
            yield ev("response.completed", response=self.final())


class _ChatBuilder:
    """The Chat Completions chunk sequence for one turn (and the non-streamed completion)."""

    def __init__(self, fake: FakeOpenAI, turn: Turn, request: dict[str, Any], tokens: int) -> None:
        self.turn = turn
        self.request = request
        self.input_tokens = tokens
        self.completion_id = fake._new_id("chatcmpl")
        self.call_ids = [call.call_id or fake._new_id("call") for call in turn.tool_calls]
        self.model = request.get("model", "fake-model")

    def _finish_reason(self) -> str:
        if self.turn.incomplete:
            return self.turn.incomplete
        return "tool_calls" if self.turn.tool_calls else "stop"

    def _usage(self) -> dict[str, Any]:
        turn = self.turn
        output_tokens = max(
            1, (len(turn.text) + sum(len(c.arguments) for c in turn.tool_calls)) // 4
        )
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": self.input_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": turn.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
        }

    def _tool_calls(self) -> list[dict[str, Any]]:
        return [
            {"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for cid, c in zip(self.call_ids, self.turn.tool_calls, strict=True)
        ]

    def final(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.turn.text or None,
            "refusal": self.turn.refusal,
        }
        if self.turn.tool_calls:
            message["tool_calls"] = self._tool_calls()
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self._finish_reason(),
                    "logprobs": None,
                }
            ],
            "usage": self._usage(),
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": 1_760_000_000,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return b"data: " + _encode(chunk) + b"\n\n"

    def events(self) -> Iterator[bytes]:
        turn = self.turn
        yield self._chunk({"role": "assistant", "content": ""})
        if turn.failed:
            error = _error_body("scripted failure", turn.failed)
            yield b"data: " + _encode(error) + b"\n\n"
            return
        if turn.refusal is not None:
            for piece in _pieces(turn.refusal, turn.delta_size):
                yield self._chunk({"refusal": piece})
        for piece in _pieces(turn.text, turn.delta_size):
            yield self._chunk({"content": piece})
        for index, (call_id, call) in enumerate(zip(self.call_ids, turn.tool_calls, strict=True)):
            first = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield self._chunk({"tool_calls": [first]})
            for piece in _pieces(call.arguments, turn.delta_size):
                yield self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                )
        yield self._chunk({}, self._finish_reason())
        options = self.request.get("stream_options") or {}
        if options.get("include_usage"):
            usage = {
                "id": self.completion_id,
                "object": "chat.completion.chunk",
                "created": 1_760_000_000,
                "model": self.model,
                "choices": [],
                "usage": self._usage(),
            }
            yield b"data: " + _encode(usage) + b"\n\n"
        yield b"data: [DONE]\n\n"


# --------------------------------------------------------------- a tiny HTTP/1.1 server


class _Server:
    """Serves an ASGI app over HTTP/1.1 with keep-alive and chunked streaming, for tests only."""

    def __init__(self, app: FakeOpenAI) -> None:
        self.app = app
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.app.connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, _DropConnection):
            pass
        except asyncio.CancelledError:
            # Server shutdown cancels open connections; end quietly (asyncio's start_server
            # callback would otherwise log the cancellation as an error).
            pass
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: list[tuple[bytes, bytes]] = []
        length = 0
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
            if name == "content-length":
                length = int(value)
        body = await reader.readexactly(length) if length else b""
        path, _, query = target.partition("?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "scheme": "http",
            "server": ("127.0.0.1", 0),
        }
        received = False

        async def receive() -> Message:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect notification; the task is cancelled
            return {"type": "http.disconnect"}

        chunked = False

        async def send(message: Message) -> None:
            nonlocal chunked
            if message["type"] == "http.response.start":
                status = int(message["status"])
                out = [f"HTTP/1.1 {status} X\r\n".encode()]
                names = set()
                for name, value in message.get("headers", []):
                    names.add(bytes(name).lower())
                    out.append(bytes(name) + b": " + bytes(value) + b"\r\n")
                if b"content-length" not in names:
                    chunked = True
                    out.append(b"transfer-encoding: chunked\r\n")
                out.append(b"\r\n")
                writer.write(b"".join(out))
            else:
                data = bytes(message.get("body", b""))
                if chunked:
                    if data:
                        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    if not message.get("more_body"):
                        writer.write(b"0\r\n\r\n")
                else:
                    writer.write(data)
                await writer.drain()

        await self.app(scope, receive, send)
        return True


@contextlib.asynccontextmanager
async def serve(app: FakeOpenAI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port for the duration of the block; yields the base URL."""
    handler = _Server(app)
    server = await asyncio.start_server(handler.handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.close()
        for task in list(handler.tasks):
            task.cancel()
        if handler.tasks:
            await asyncio.gather(*handler.tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.contextmanager
def serve_in_thread(app: FakeOpenAI) -> Iterator[str]:
    """Serve ``app`` from its own event loop in a thread; yields the base URL.

    For tests whose own loop blocks while the service under test calls the model (Litestar's
    test client waits synchronously for a response): a fake on the same loop would never
    answer. ``app.script`` may be called from the test thread (a deque append is atomic).
    """
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[str] = loop.create_future()
    stop = asyncio.Event()

    async def run() -> None:
        async with serve(app) as base_url:
            ready.set_result(base_url)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(_wait(ready), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


async def _wait(future: asyncio.Future[str]) -> str:
    return await future


def raw_sse_app(body: bytes) -> Any:
    """An ASGI app answering any request with ``body`` verbatim as an event stream.

    For the byte-level quirks of lenient servers that :class:`FakeOpenAI` never produces.
    """

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def run_process(
    directory: Path,
    *,
    by_model: dict[str, Turn],
    latency_ms: float = 0.0,
    event_delay_ms: float = 0.0,
    generic: bool = False,
) -> Iterator[str]:
    """The fake as its own process (its CPU is not the caller's); yields its ``/v1`` base URL.

    Every call to a model in ``by_model`` answers with that turn after ``latency_ms``; other
    models answer from the queue scripted over HTTP. Its output goes to ``fake-openai.log``.
    """
    by_model_file = directory / "by_model.json"
    by_model_file.write_bytes(msgspec.json.encode(by_model))
    port_file = directory / "fake.port"
    port_file.unlink(missing_ok=True)  # a port left by an earlier fake here is not ours
    command = [
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port-file",
        str(port_file),
        "--latency-ms",
        str(latency_ms),
        "--event-delay-ms",
        str(event_delay_ms),
        "--by-model",
        str(by_model_file),
        *(["--generic"] if generic else []),
    ]
    log = directory / "fake-openai.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=_ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"the fake OpenAI server did not start:\n{tail}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _main(args: argparse.Namespace, by_model: dict[str, Turn]) -> None:
    fake = FakeOpenAI(
        latency_s=args.latency_ms / 1000.0,
        event_delay_s=args.event_delay_ms / 1000.0,
        by_model=by_model,
        generic=args.generic,
    )
    async with serve(fake, port=args.port) as base_url:
        if args.port_file:
            port_file = Path(args.port_file)
            await asyncio.to_thread(port_file.write_text, base_url.rsplit(":", 1)[1])
        print(f"fake openai listening on {base_url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default=None, help="write the bound port here")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    parser.add_argument("--event-delay-ms", type=float, default=0.0, help="delay between events")
    parser.add_argument("--generic", action="store_true", help="answer from the request's schemas")
    parser.add_argument("--by-model", default=None, help="JSON file {model: Turn} answered forever")
    arguments = parser.parse_args()
    scripted: dict[str, Turn] = {}
    if arguments.by_model:
        raw = Path(arguments.by_model).read_bytes()
        scripted = msgspec.json.decode(raw, type=dict[str, Turn])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(arguments, scripted))
    sys.exit(0)
