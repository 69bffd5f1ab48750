"""The offline engine's view of one model call: what was asked, which tools ran, what came back.

A network model re-reads the whole input on every call; so does the offline engine. It rebuilds
the step's tool history from the ``FunctionCall``/``FunctionCallOutput`` input items (stateless:
concurrent runs share one provider) and hands policies an immutable :class:`StepInput`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from orchestrator.providers._offline.intent import Understanding

if TYPE_CHECKING:
    from orchestrator.providers._offline.interpretation import Reading
from orchestrator.providers.base import FunctionCall, FunctionCallOutput, InputItem

__all__ = [
    "Answer",
    "Call",
    "Decision",
    "StepInput",
    "ToolResult",
    "decode_facts",
    "encode_facts",
    "tool_results",
]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One executed tool call of the current step: decoded output, or the error text."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    output: Any
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    text: str


Decision = tuple[Call, ...] | Answer


@dataclass(frozen=True, slots=True)
class StepInput:
    """Everything a step policy may look at: immutable, rebuilt for every call."""

    role: str
    understanding: Understanding
    schemas: dict[str, dict[str, Any]]  # offered tool name -> JSON Schema of its arguments
    results: tuple[ToolResult, ...]
    earlier: tuple[tuple[str, str], ...]  # (step kind, step output text)
    grid_source: str
    reading: Reading | None = None  # the whole question (every ask), for the report

    def last(self, name: str) -> ToolResult | None:
        for result in reversed(self.results):
            if result.name == name:
                return result
        return None

    def all(self, name: str) -> list[ToolResult]:
        return [r for r in self.results if r.name == name]

    def tries(self, name: str) -> int:
        return sum(1 for r in self.results if r.name == name)

    def can(self, name: str) -> bool:
        return name in self.schemas

    def call(self, name: str, **values: Any) -> Call:
        """A call with every schema property present (strict schemas require all keys):
        properties not given are sent as ``null``, as a strict-mode model would."""
        properties = self.schemas.get(name, {}).get("properties", {})
        arguments = {key: values.get(key) for key in properties}
        # Keys the schema does not list are still sent when given: the tool's input type is
        # the authority the machine validates against (and a schema can lag behind it).
        arguments.update({k: v for k, v in values.items() if k not in arguments})
        return Call(name, arguments)


def _decode_output(raw: str) -> tuple[Any, str | None]:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None, f"unreadable tool output: {raw[:200]}"
    if isinstance(value, dict) and "error" in value and len(value) <= 3:
        return None, str(value["error"])
    return value, None


def tool_results(items: tuple[InputItem, ...]) -> tuple[ToolResult, ...]:
    """Pair each function call of the input with its output, in call order."""
    calls: dict[str, FunctionCall] = {}
    outputs: dict[str, str] = {}
    order: list[str] = []
    for item in items:
        if isinstance(item, FunctionCall):
            calls[item.call_id] = item
            order.append(item.call_id)
        elif isinstance(item, FunctionCallOutput):
            outputs[item.call_id] = item.result if item.result is not None else item.output
    results: list[ToolResult] = []
    for call_id in order:
        call = calls[call_id]
        try:
            arguments = msgspec.json.decode(call.arguments)
        except msgspec.DecodeError:
            arguments = {}
        if not isinstance(arguments, dict):
            arguments = {}
        raw = outputs.get(call_id)
        output: Any = None
        error: str | None = "no output was returned for this call"
        if raw is not None:
            output, error = _decode_output(raw)
        results.append(ToolResult(call_id, call.name, arguments, output, error))
    return tuple(results)


# A step's findings travel to the report step inside its text output, as an HTML comment that
# Markdown renderers hide: the same numbers the visible text states, in machine-readable form.
_FACTS_RE = re.compile(r"<!-- offline-facts (\{.*?\}) -->", re.DOTALL)


def encode_facts(facts: dict[str, Any]) -> str:
    body = msgspec.json.encode(facts).decode().replace("-->", "--\\u003e")
    return f"<!-- offline-facts {body} -->"


def decode_facts(text: str) -> list[dict[str, Any]]:
    """Every facts block in ``text`` (malformed blocks are skipped, never trusted)."""
    out: list[dict[str, Any]] = []
    for match in _FACTS_RE.finditer(text):
        try:
            value = msgspec.json.decode(match.group(1))
        except msgspec.DecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out
