"""The offline planner and the per-ask step loop.

A plan has at most one step per kind, so one carbon step answers every carbon ask of a
multi-part question, one after the other. The step's tool history is shared: :func:`answer_asks`
replays each ask's (deterministic) policy over the results in order to find which calls belong
to which ask, so the engine stays stateless across calls, like a model re-reading its input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import msgspec

from orchestrator.providers._offline.intent import Intent, Understanding, build_plan
from orchestrator.providers._offline.interpretation import Reading, describe
from orchestrator.providers._offline.turns import Answer, Decision, StepInput

__all__ = ["answer_asks", "plan_for"]

Policy = Callable[[StepInput], Decision]

# Intents whose single-ask plan (task wording included) predates multi-part questions.
_BUILT_IN = (
    Intent.GRID_TIMING,
    Intent.GRID_HISTORY,
    Intent.GRID_COMPARE,
    Intent.FACTORS,
    Intent.FOOTPRINT,
    Intent.ANALYSIS,
    Intent.SCENARIOS,
    Intent.GREETING,
    Intent.OFF_TOPIC,
)


def plan_for(reading: Reading) -> dict[str, Any]:
    """The planner's answer: steps for the asks, the notes, and the interpretation."""
    carbon = reading.steps("carbon")
    analysis = reading.steps("analysis")
    interpretation = reading.view()
    if len(reading.asks) == 1 and reading.asks[0].intent in _BUILT_IN:
        plan = build_plan(reading.asks[0])
        plan["interpretation"] = _builtins(interpretation)
        return plan
    steps: list[dict[str, str]] = []
    if carbon:
        steps.append({"kind": "carbon", "task": _task(carbon, len(reading.asks))})
    trend = [(i, u) for i, u in carbon if _reports_with_analysis(u)]
    if analysis or trend:
        steps.append({"kind": "analysis", "task": _task(analysis + trend, len(reading.asks))})
    steps.append(
        {
            "kind": "report",
            "task": (
                "Write the report answering every part: executive summary, key figures, ASCII "
                "dashboard, chart where relevant, action items and data provenance."
            ),
        }
    )
    intents = ", ".join(u.intent.value for u in reading.asks)
    return {
        "steps": steps,
        "notes": f"{len(reading.asks)} asks: {intents}",
        "interpretation": _builtins(interpretation),
    }


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _reports_with_analysis(u: Understanding) -> bool:
    return u.intent is Intent.COMPANY_REPORT or (u.intent is Intent.FOOTPRINT and u.wants_trend)


def _task(asks: list[tuple[int, Understanding]], total: int) -> str:
    if total == 1:
        return f"Answer: {describe(asks[0][1])}."
    return " ".join(f"Part {i + 1}: {describe(u)}." for i, u in asks)


def answer_asks(
    state: StepInput, asks: list[Understanding], policy_of: Callable[[Understanding], Policy]
) -> Decision:
    """Run each ask's policy in turn over its share of the step's tool results.

    Returns the next calls of the first ask that still needs tools, or, once every ask has
    answered, their answers joined (each keeps its own findings block).
    """
    consumed = 0
    texts: list[str] = []
    for u in asks:
        policy = policy_of(u)
        position = consumed
        while True:
            sub = replace(state, understanding=u, results=state.results[consumed:position])
            decision = policy(sub)
            if isinstance(decision, Answer):
                texts.append(decision.text)
                consumed = position
                break
            if position + len(decision) <= len(state.results):
                position += len(decision)  # these calls were made in an earlier turn
                continue
            return decision
    return Answer("\n\n".join(texts))
