"""A scripted provider: plays back prepared model turns, like a recorded model.

For tests and benchmarks of the state machine without an LLM. Each :class:`Reply` streams its
deltas and then its final turn; a :class:`Fail` streams its deltas and then raises its
:class:`~orchestrator.providers.base.ProviderError`; either may first wait ``delay_s``. The
provider records every request it got, so tests can assert what the machine sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import msgspec

from orchestrator.providers.base import (
    BadResponse,
    ModelRequest,
    ModelTurn,
    ProviderError,
    ProviderEvent,
    TextDelta,
    ToolCallRequest,
    TurnUsage,
)

__all__ = [
    "Fail",
    "Reply",
    "ScriptExhausted",
    "ScriptItem",
    "ScriptedProvider",
    "plan_reply",
    "tool_call",
]


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One successful model call: optional deltas, then the final turn."""

    text: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    deltas: tuple[str, ...] = ()
    usage: TurnUsage = TurnUsage(input_tokens=100, output_tokens=20)
    delay_s: float = 0.0
    delta_delay_s: float = 0.0
    model: str | None = None
    response_id: str | None = None


class Fail(msgspec.Struct, frozen=True, kw_only=True):
    """One failing model call: optional deltas (partial output), then ``error`` is raised."""

    error: ProviderError
    deltas: tuple[str, ...] = ()
    delay_s: float = 0.0


ScriptItem = Reply | Fail


class ScriptExhausted(BadResponse):
    """The machine asked for more model calls than the script holds (a test bug)."""


_call_ids = itertools.count(1)


def tool_call(
    name: str, arguments: Mapping[str, Any] | str, call_id: str | None = None
) -> ToolCallRequest:
    """A tool call request; ``arguments`` may be a mapping (encoded) or a raw (maybe bad) string."""
    raw = arguments if isinstance(arguments, str) else msgspec.json.encode(arguments).decode()
    return ToolCallRequest(call_id=call_id or f"call_{next(_call_ids)}", name=name, arguments=raw)


def plan_reply(*steps: tuple[str, str], notes: str | None = None) -> Reply:
    """The planner's answer for ``(kind, task)`` steps, as the JSON text a model would write."""
    body = {"steps": [{"kind": kind, "task": task} for kind, task in steps], "notes": notes}
    return Reply(text=msgspec.json.encode(body).decode())


class ScriptedProvider:
    """Plays a script in call order, or per role (``hints["role"]``) when given a mapping."""

    name = "scripted"

    def __init__(self, script: Iterable[ScriptItem] | Mapping[str, Iterable[ScriptItem]]) -> None:
        self._by_role: dict[str, list[ScriptItem]] | None = None
        self._queue: list[ScriptItem] = []
        if isinstance(script, Mapping):
            self._by_role = {role: list(items) for role, items in script.items()}
        else:
            self._queue = list(script)
        self.requests: list[ModelRequest] = []
        self.closed = False

    def _next(self, request: ModelRequest) -> ScriptItem:
        if self._by_role is not None:
            role = str(request.hints.get("role"))
            queue = self._by_role.get(role, [])
        else:
            role, queue = "any", self._queue
        if not queue:
            raise ScriptExhausted(f"scripted provider has no turn left for role {role!r}")
        return queue.pop(0)

    @property
    def remaining(self) -> int:
        """Turns not played yet (tests assert the machine used the whole script)."""
        if self._by_role is not None:
            return sum(len(items) for items in self._by_role.values())
        return len(self._queue)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        self.requests.append(request)
        item = self._next(request)
        if item.delay_s > 0:
            await asyncio.sleep(item.delay_s)
        if isinstance(item, Fail):
            for delta in item.deltas:
                yield TextDelta(delta)
            raise item.error
        for delta in item.deltas:
            if item.delta_delay_s > 0:
                await asyncio.sleep(item.delta_delay_s)
            yield TextDelta(delta)
        for call in item.tool_calls:
            yield call
        yield ModelTurn(
            text=item.text,
            tool_calls=item.tool_calls,
            usage=item.usage,
            model=item.model or request.assistant.model,
            response_id=item.response_id,
        )

    async def aclose(self) -> None:
        self.closed = True
