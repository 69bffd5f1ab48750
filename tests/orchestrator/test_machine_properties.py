"""Property test: random provider behaviours never break the run invariants.

Hypothesis generates scripts per role (valid/invalid plans, tool calls good and bad, provider
errors retryable or not, empty answers, streamed deltas, exhausted scripts), random budgets and
an optional cancellation at a random event. Whatever happens: seq is 1..n, progress never
decreases, exactly one terminal event ends the run, no illegal transition (which would surface
as ``internal_error``), and the result agrees with the terminal event.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import BudgetConfig, RunContext
from orchestrator.events import AgentResponse, Completed, ErrorEvent, Event
from orchestrator.machine import ERROR_CODES
from orchestrator.providers.base import (
    AuthenticationFailed,
    BadResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refusal,
)
from orchestrator.providers.scripted import Fail, Reply, ScriptItem, plan_reply, tool_call
from tests.support.machine import build, check_invariants

pytestmark = pytest.mark.usefixtures("captured_logs")


KINDS = ("carbon", "analysis", "report")

errors = st.sampled_from(
    [
        RateLimited("429", retry_after=0.0),
        ProviderTimeout("timeout"),
        ProviderUnavailable("503"),
        BadResponse("garbage"),
        AuthenticationFailed("401"),
        Refusal("no"),
    ]
)

tool_calls = st.sampled_from(
    [
        tool_call("add", {"a": 1, "b": 2}),
        tool_call("series", {"seed": 3, "months": None}),
        tool_call("chart", {"title": "T"}),
        tool_call("boom", {}),
        tool_call("domain_error", {}),
        tool_call("missing_tool", {}),
        tool_call("add", "{not json"),
        tool_call("add", {"a": "x", "b": 1}),
    ]
)

step_items: st.SearchStrategy[ScriptItem] = st.one_of(
    st.builds(
        Reply,
        text=st.sampled_from(["Findings with 42 kg.", "", "  "]),
        deltas=st.lists(st.sampled_from(["a", "b "]), max_size=3).map(tuple),
    ),
    st.builds(Reply, tool_calls=st.lists(tool_calls, min_size=1, max_size=3).map(tuple)),
    st.builds(Fail, error=errors, deltas=st.lists(st.just("x"), max_size=1).map(tuple)),
)


@st.composite
def plans(draw: st.DrawFn) -> ScriptItem:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return Reply(text=draw(st.sampled_from(["", "not json", '{"steps": []}'])))
    if choice == 1:
        return Fail(error=draw(errors))
    chosen = draw(st.lists(st.sampled_from(KINDS[:2]), unique=True, max_size=2))
    steps = [(kind, f"do {kind}") for kind in chosen]
    if draw(st.booleans()) or choice == 2:
        steps.append(("report", "write"))
    return plan_reply(*steps)


budgets = st.builds(
    BudgetConfig,
    max_messages_per_run=st.integers(1, 20),
    max_tool_rounds_per_step=st.integers(0, 3),
    planner_retries=st.integers(0, 1),
    default_plan_on_invalid=st.booleans(),
    tool_error_retries=st.integers(0, 2),
    provider_retries=st.integers(0, 2),
    retry_backoff_s=st.just(0.0),
    max_history_pairs=st.integers(0, 2),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    planner=st.lists(plans(), max_size=3),
    carbon=st.lists(step_items, max_size=5),
    analysis=st.lists(step_items, max_size=5),
    report=st.lists(step_items, max_size=5),
    budget=budgets,
    cancel_at=st.none() | st.integers(1, 25),
)
def test_random_provider_behaviour_keeps_the_invariants(
    planner: list[ScriptItem],
    carbon: list[ScriptItem],
    analysis: list[ScriptItem],
    report: list[ScriptItem],
    budget: BudgetConfig,
    cancel_at: int | None,
) -> None:
    script = {"planner": planner, "carbon": carbon, "analysis": analysis, "report": report}
    orch, _ = build(script, budgets=budget)
    seen: list[Event] = []

    async def emit(event: Event) -> None:
        seen.append(event)
        if cancel_at is not None and len(seen) == cancel_at:
            orch.cancel("prop-run")

    result = asyncio.run(orch.run("question?", RunContext(run_id="prop-run"), emit))

    assert seen == result.events
    check_invariants(seen)
    terminal = seen[-1]
    if isinstance(terminal, Completed):
        assert result.status == "completed"
        last_response = [e for e in seen if isinstance(e, AgentResponse)][-1]
        assert last_response.agent_name == "report"
        assert result.report == terminal.data.full_content == last_response.data.output
        assert result.report.strip() == result.report
        assert result.report
    else:
        assert isinstance(terminal, ErrorEvent)
        assert terminal.data.code in ERROR_CODES
        assert terminal.data.code != "internal_error"
        assert result.error == terminal.data
        expected = "cancelled" if terminal.data.code == "cancelled" else "failed"
        assert result.status == expected
        if terminal.data.code == "cancelled":
            assert cancel_at is not None
            assert cancel_at < len(seen)
    assert result.usage.messages <= budget.max_messages_per_run
    assert orch.active_runs() == ()
