"""The offline engine: the embedded default provider (no key, no network, deterministic).

It behaves like a careful model driven through the same path as a real one: the planner call
answers with the plan JSON, each step asks for real tools with JSON arguments, reads their
outputs from the input items and writes Markdown built only from those outputs. It never
writes a number a tool did not compute, and it says when data is synthetic.

Structured facts come from ``ModelRequest.hints`` (see ``orchestrator.context.RequestHints``);
when hints are missing (an embedder calling the provider directly) it falls back to the last
user message as the question and to "now" from the wall clock.

No language model runs, so its turns report no tokens (and so no LLM cost or LLM energy):
each turn is marked ``language_model=False`` and carries the CPU time this process spent
computing it (``time.thread_time`` around the synchronous decision, which runs in one piece on
a thread of the bounded CPU executor, :mod:`tools.cpu`, so no other run's work is counted and
the event loop stays free meanwhile). Run accounting turns that CPU time into a labelled
energy estimate (see :mod:`orchestrator.accounting`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from orchestrator.config import ToolsConfig
from orchestrator.providers._offline.analysis import analysis_policy
from orchestrator.providers._offline.business import (
    conversion_policy,
    factors_policy,
    footprint_policy,
    scenarios_policy,
)
from orchestrator.providers._offline.extract import DEFAULT_REGION, REGION_TIMEZONES
from orchestrator.providers._offline.grid import (
    grid_compare_policy,
    grid_history_policy,
    grid_timing_policy,
)
from orchestrator.providers._offline.intent import Intent, Understanding
from orchestrator.providers._offline.interpretation import Reading, interpret
from orchestrator.providers._offline.planning import answer_asks, plan_for
from orchestrator.providers._offline.ranking import grid_rank_policy
from orchestrator.providers._offline.report import report_policy
from orchestrator.providers._offline.scheduling import now_check_policy, shift_savings_policy
from orchestrator.providers._offline.turns import Answer, Decision, StepInput, tool_results
from orchestrator.providers.base import (
    ModelRequest,
    ModelTurn,
    ProviderEvent,
    TextDelta,
    ToolCallRequest,
    TurnUsage,
    UserMessage,
)
from tools.cpu import run_cpu_bound

__all__ = ["OFFLINE_MODEL", "OfflineProvider"]

OFFLINE_MODEL = "offline-engine"

Policy = Callable[[StepInput], Decision]

_CARBON: dict[Intent, Policy] = {
    Intent.GRID_TIMING: grid_timing_policy,
    Intent.GRID_HISTORY: grid_history_policy,
    Intent.GRID_COMPARE: grid_compare_policy,
    Intent.GRID_RANK: grid_rank_policy,
    Intent.NOW_CHECK: now_check_policy,
    Intent.SHIFT_SAVINGS: shift_savings_policy,
    Intent.FACTORS: factors_policy,
    Intent.CONVERSION: conversion_policy,
    Intent.FOOTPRINT: footprint_policy,
    Intent.COMPANY_REPORT: footprint_policy,
    Intent.SCENARIOS: scenarios_policy,
    Intent.ANALYSIS: footprint_policy,
}


def _carbon_policy_of(u: Understanding) -> Policy:
    return _CARBON.get(u.intent, grid_history_policy)


def _analysis_policy_of(u: Understanding) -> Policy:
    return analysis_policy


def _with_analysis(u: Understanding) -> bool:
    return u.intent is Intent.COMPANY_REPORT or (u.intent is Intent.FOOTPRINT and u.wants_trend)


def _now(hints: dict[str, Any]) -> datetime:
    raw = hints.get("now")
    if isinstance(raw, str) and raw:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            moment = datetime.now(UTC)
    else:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _local_today(moment: datetime, region: str) -> date:
    """The calendar day it is in ``region``'s local time (its grid data uses the same days)."""
    return moment.astimezone(ZoneInfo(REGION_TIMEZONES[region])).date()


def _read(hints: dict[str, Any]) -> Reading:
    """The question read with "today" in the local time of the region it is about."""
    moment = _now(hints)
    reading = interpret(hints, _local_today(moment, DEFAULT_REGION))
    region = reading.asks[0].region if reading.asks else DEFAULT_REGION
    today = _local_today(moment, region)
    return reading if today == reading.today else interpret(hints, today)


def _hints(request: ModelRequest) -> dict[str, Any]:
    hints = dict(request.hints)
    if "question" not in hints:
        users = [item.text for item in request.input if isinstance(item, UserMessage)]
        hints["question"] = users[-1] if users else ""
    if not hints.get("role"):
        hints["role"] = "planner" if request.response_schema is not None else "report"
    return hints


class OfflineProvider:
    """Deterministic provider: same request in, same events out."""

    name = "offline"

    def __init__(self, tools_config: ToolsConfig | None = None) -> None:
        self._tools_config = tools_config or ToolsConfig()

    def decide(self, request: ModelRequest) -> Decision:
        """The engine's next move for ``request``: tool calls, or the final text."""
        hints = _hints(request)
        reading = _read(hints)
        role = str(hints["role"])
        if role == "planner":
            return Answer(msgspec.json.encode(plan_for(reading)).decode())
        earlier_raw = hints.get("earlier_outputs") or []
        earlier = tuple(
            (str(item.get("kind", "")), str(item.get("output", "")))
            for item in earlier_raw
            if isinstance(item, dict)
        )
        state = StepInput(
            role=role,
            understanding=reading.asks[0],
            schemas={tool.name: tool.parameters for tool in request.tools},
            results=tool_results(request.input),
            earlier=earlier,
            grid_source=self._tools_config.grid_source,
            reading=reading,
        )
        try:
            if role == "report":
                return report_policy(state)
            asks = [u for _, u in reading.steps(role)]
            if role == "analysis":
                asks += [u for _, u in reading.steps("carbon") if _with_analysis(u)]
                asks.sort(key=reading.asks.index)
            if not asks:
                return Answer(f"This question needs no {role} figures; nothing to compute.")
            policy_of = _analysis_policy_of if role == "analysis" else _carbon_policy_of
            return answer_asks(state, asks, policy_of)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A tool answered in a shape this engine does not know (e.g. a newer tool version):
            # say so instead of guessing, as a careful model would.
            return Answer(
                f"I could not read the tool results for this {role} step (unexpected format: "
                f"{type(exc).__name__}: {exc}), so I have no figures to report."
            )

    def _timed_decide(self, request: ModelRequest) -> tuple[Decision, TurnUsage]:
        """:meth:`decide` and the CPU time this thread spent on it."""
        started = time.thread_time()
        decision = self.decide(request)
        return decision, _engine_usage(started)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        # Reading the question and writing a report take milliseconds of pure Python each:
        # on the bounded CPU executor, so 200 runs queue there while the event loop keeps
        # emitting events (a new run's first event never waits behind others' turns).
        decision, usage = await run_cpu_bound(self._timed_decide, request)
        if isinstance(decision, Answer):
            chunks = _chunks(decision.text)
            for chunk in chunks:
                yield TextDelta(chunk)
            yield ModelTurn(text=decision.text, usage=usage, model=OFFLINE_MODEL)
            return
        step = request.hints.get("step_index")
        done = len(tool_results(request.input))
        calls: list[ToolCallRequest] = []
        for offset, call in enumerate(decision):
            arguments = msgspec.json.encode(call.arguments).decode()
            call_id = f"offline_{step if step is not None else 'x'}_{done + offset + 1}"
            calls.append(ToolCallRequest(call_id=call_id, name=call.name, arguments=arguments))
        for call_request in calls:
            yield call_request
        yield ModelTurn(text="", tool_calls=tuple(calls), usage=usage, model=OFFLINE_MODEL)

    async def aclose(self) -> None:
        """Nothing to release: the engine holds no connections."""


def _engine_usage(started: float) -> TurnUsage:
    """A turn of the engine: no language model, the CPU time since ``started`` (thread time)."""
    cpu_ms = round((time.thread_time() - started) * 1000, 3)
    return TurnUsage(cpu_ms=cpu_ms, language_model=False)


def _chunks(text: str, parts: int = 4) -> list[str]:
    """Split the final text into a few deltas at paragraph boundaries (like a streamed answer)."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) <= 1:
        return [text] if text else []
    size = max(1, -(-len(paragraphs) // parts))
    groups = ["\n\n".join(paragraphs[i : i + size]) for i in range(0, len(paragraphs), size)]
    return [g + "\n\n" for g in groups[:-1]] + [groups[-1]]
