"""The optional run observer: one record per model call attempt, matching the run's usage."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from orchestrator import ModelCall, RunObserver
from orchestrator.config import AccountingConfig, BudgetConfig, ModelPrice
from orchestrator.events import Completed, ErrorEvent
from orchestrator.providers.base import AuthenticationFailed, RateLimited, TurnUsage
from orchestrator.providers.scripted import Fail, Reply, plan_reply
from tests.support.machine import build

PLAN_REPORT = plan_reply(("report", "Answer briefly."))
PRICES = AccountingConfig(prices={"test-model": ModelPrice(input=1.0, output=2.0)})


class Recorder(RunObserver):
    def __init__(self) -> None:
        self.calls: list[ModelCall] = []

    def model_call(self, call: ModelCall) -> None:
        self.calls.append(call)


async def test_every_attempt_is_reported_and_the_answers_add_up_to_the_usage() -> None:
    orch, _ = build(
        [
            PLAN_REPORT,
            Fail(error=RateLimited("slow down", retry_after=0)),
            Reply(
                text="# Report\nDone.",
                usage=TurnUsage(
                    input_tokens=50, cached_tokens=10, output_tokens=7, reasoning_tokens=3
                ),
            ),
        ],
        accounting=PRICES,
    )
    recorder = Recorder()
    orch.observer = recorder
    result = await orch.ask("How green is my office?")

    terminal = result.events[-1]
    assert isinstance(terminal, Completed)
    usage = terminal.data.usage
    answered = [call for call in recorder.calls if call.error_code is None]
    failed = [call for call in recorder.calls if call.error_code is not None]
    assert [call.agent for call in recorder.calls] == ["planner", "report", "report"]
    assert {call.run_id for call in recorder.calls} == {terminal.run_id}
    assert {(call.provider, call.model) for call in recorder.calls} == {("scripted", "test-model")}
    assert len(answered) == usage.llm_calls == 2
    assert sum(call.input_tokens for call in answered) == usage.input_tokens
    assert sum(call.cached_tokens for call in answered) == usage.cached_tokens == 10
    assert sum(call.output_tokens for call in answered) == usage.output_tokens
    assert sum(call.reasoning_tokens for call in answered) == usage.reasoning_tokens == 3
    assert sum(call.cost_usd for call in answered) == pytest.approx(usage.cost_usd)
    assert usage.cost_usd > 0
    assert all(call.duration_s >= 0 for call in recorder.calls)
    [retried] = failed
    assert (retried.error_code, retried.retrying) == ("llm_rate_limited", True)
    assert retried.input_tokens == retried.output_tokens == 0


async def test_a_failure_that_ends_the_run_is_not_a_retry() -> None:
    orch, _ = build(
        [PLAN_REPORT, Fail(error=AuthenticationFailed("bad key"))],
    )
    recorder = Recorder()
    orch.observer = recorder
    result = await orch.ask("How green is my office?")
    terminal = result.events[-1]
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "llm_auth_failed"
    assert [(c.error_code, c.retrying) for c in recorder.calls] == [
        (None, False),
        ("llm_auth_failed", False),
    ]


async def test_retries_past_their_budget_end_the_run_and_say_so() -> None:
    orch, _ = build(
        [PLAN_REPORT, Fail(error=RateLimited("a")), Fail(error=RateLimited("b"))],
        budgets=BudgetConfig(provider_retries=1, retry_backoff_s=0),
    )
    recorder = Recorder()
    orch.observer = recorder
    await orch.ask("How green is my office?")
    assert [c.retrying for c in recorder.calls if c.error_code] == [True, False]


async def test_an_observer_that_raises_never_fails_the_run(
    captured_logs: list[MutableMapping[str, Any]],
) -> None:
    class Broken(RunObserver):
        def model_call(self, call: ModelCall) -> None:
            raise RuntimeError("observer bug")

    orch, _ = build([PLAN_REPORT, Reply(text="# Report\nDone.")])
    orch.observer = Broken()
    result = await orch.ask("How green is my office?")
    assert isinstance(result.events[-1], Completed)
    failures = [log for log in captured_logs if log["event"] == "run.observer_failed"]
    assert len(failures) == 2
    assert failures[0]["hook"] == "model_call"


def test_the_base_observer_does_nothing() -> None:
    RunObserver().model_call(
        ModelCall(run_id="r", agent="planner", provider="p", model="m", duration_s=0.0)
    )
