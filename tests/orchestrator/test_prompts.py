"""The model inputs on their own: what a step is told, how much history, what a request sends.

The machine tests check these through whole runs; here the pure builders of
``orchestrator._prompts`` are read directly, so a change to a prompt shows as a change of text.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator._prompts import StepTranscript, hints, history, step_input
from orchestrator.context import HistoryPair, RunContext
from orchestrator.machine import _Run
from orchestrator.plan import Plan, PlanStep
from orchestrator.providers.base import (
    AssistantMessage,
    FunctionCall,
    FunctionCallOutput,
    InputItem,
    ModelTurn,
    ToolCallRequest,
    UserMessage,
)
from tests.support.machine import FIXED_NOW


def _run(history: Sequence[HistoryPair]) -> _Run:
    return _Run(
        run_id="r",
        question="How green is my commute?",
        context=RunContext(history=history),
        now=FIXED_NOW,
        emit=None,
        clock=lambda: FIXED_NOW,
    )


def test_history_keeps_the_last_pairs_and_shortens_long_answers() -> None:
    pairs = [HistoryPair(question=f"q{i}", answer=f"a{i}") for i in range(6)]
    pairs.append(HistoryPair(question="long", answer="x" * 1000))
    run = _run(pairs)

    kept = history(run, 3)

    assert [pair["question"] for pair in kept] == ["q4", "q5", "long"]
    assert kept[-1]["answer"] == "x" * 799 + "…"
    assert history(run, 0) == []


def test_a_step_is_told_the_facts_the_plan_its_task_and_the_earlier_findings() -> None:
    run = _run([HistoryPair(question="Last week?", answer="12 kg")])
    run.plan = Plan(
        steps=(PlanStep("carbon", "Estimate the commute"), PlanStep("report", "Write it up"))
    )
    run.outputs.append(("carbon", "3.1 kg CO2e a day"))

    text = step_input(run, 1, run.plan.steps[1], max_history_pairs=5)

    assert text.split("\n") == [
        "Question: How green is my commute?",
        "Now: 2026-03-18T09:30:00+00:00 UTC; local (IE/GB) Wednesday 2026-03-18 09:30 GMT",
        "Conversation so far (oldest first):",
        "- Q: Last week?",
        "  A: 12 kg",
        "Plan: carbon, report",
        "Your task (step 2 of 2, report): Write it up",
        "Findings of the carbon step:",
        "3.1 kg CO2e a day",
    ]
    facts = hints(run, "report", max_history_pairs=0, step=run.plan.steps[1], index=1)
    assert facts["history"] == []
    assert facts["earlier_outputs"] == [{"kind": "carbon", "output": "3.1 kg CO2e a day"}]
    assert facts["plan"] == [
        {"kind": "carbon", "task": "Estimate the commute"},
        {"kind": "report", "task": "Write it up"},
    ]


_CALL = ToolCallRequest("call_1", "estimate", '{"km": 12}')
_OUTPUT = FunctionCallOutput("call_1", '{"kg": 3.1}')
_TURN = ModelTurn(text="Let me compute.", tool_calls=(_CALL,), response_id="resp_1")
_WHOLE: tuple[InputItem, ...] = (
    UserMessage("Your task"),
    AssistantMessage("Let me compute."),
    FunctionCall("call_1", "estimate", '{"km": 12}'),
    _OUTPUT,
)


def test_the_transcript_resends_everything_by_default() -> None:
    transcript = StepTranscript("Your task", chain_responses=False)
    assert transcript.request_input() == (UserMessage("Your task"),)

    transcript.add_round(_TURN, [_OUTPUT])

    assert transcript.request_input() == _WHOLE
    assert transcript.previous_response_id is None


def test_a_chained_transcript_sends_only_the_outputs_after_the_response_that_asked() -> None:
    transcript = StepTranscript("Your task", chain_responses=True)
    transcript.add_round(_TURN, [_OUTPUT])

    assert transcript.request_input() == (_OUTPUT,)
    assert transcript.previous_response_id == "resp_1"
    assert tuple(transcript.items) == _WHOLE


def test_a_chained_transcript_resends_everything_when_the_provider_gave_no_id() -> None:
    transcript = StepTranscript("Your task", chain_responses=True)
    transcript.add_round(
        ModelTurn(text="Let me compute.", tool_calls=(_CALL,), response_id=None), [_OUTPUT]
    )

    assert transcript.request_input() == _WHOLE
    assert transcript.previous_response_id is None
