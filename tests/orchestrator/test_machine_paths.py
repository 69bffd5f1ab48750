"""Every path through the state machine, driven by the scripted provider.

Each test asserts the exact event sequence, the seq/progress invariants and the terminal event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import msgspec
import pytest

from orchestrator import BudgetConfig, Orchestrator, RunContext
from orchestrator.config import AccountingConfig, ModelPrice
from orchestrator.events import (
    AgentResponse,
    AgentThinking,
    Completed,
    ErrorEvent,
    Event,
    Started,
    ToolExecution,
    decode_envelope,
    encode_envelope,
)
from orchestrator.plan import DEFAULT_PLAN
from orchestrator.providers.base import (
    AssistantMessage,
    AuthenticationFailed,
    FunctionCall,
    FunctionCallOutput,
    ModelRequest,
    ProviderEvent,
    ProviderUnavailable,
    RateLimited,
    Refusal,
    TurnUsage,
    UserMessage,
)
from orchestrator.providers.scripted import Fail, Reply, plan_reply, tool_call
from tests.support.machine import (
    FIXED_NOW,
    build,
    check_invariants,
    make_assistants,
    make_registry,
    tokens,
)

pytestmark = pytest.mark.usefixtures("captured_logs")


PLAN_3 = plan_reply(
    ("carbon", "Find the grid facts."),
    ("analysis", "Analyse the series."),
    ("report", "Write the report."),
)
PLAN_REPORT = plan_reply(("report", "Answer briefly."))
PLAN_CARBON = plan_reply(("carbon", "Find the grid facts."), ("report", "Write the report."))


async def _until_active(orch: Orchestrator, run_id: str) -> None:
    for _ in range(1000):
        if run_id in orch.active_runs():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"run {run_id} never started")


def _terminal(events: list[Event]) -> ErrorEvent:
    last = events[-1]
    assert isinstance(last, ErrorEvent)
    return last


async def test_happy_path_with_tool_calls() -> None:
    orch, provider = build(
        [
            PLAN_3,
            Reply(tool_calls=(tool_call("add", {"a": 2, "b": 3}, "c1"),)),
            Reply(text="Carbon: 5 units."),
            Reply(
                tool_calls=(
                    tool_call("series", {"seed": 4, "months": 2}, "c2"),
                    tool_call("chart", {"title": "Trend"}, "c3"),
                )
            ),
            Reply(text="Analysis: trend up."),
            Reply(text="# Report\nAll good."),
        ],
        accounting=AccountingConfig(prices={"test-model": ModelPrice(input=1.0, output=2.0)}),
    )
    result = await orch.ask("How green is my office?")

    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "tool:add:started",
        "tool:add:finished",
        "response:carbon",
        "thinking:analysis",
        "tool:series:started",
        "tool:series:finished",
        "tool:chart:started",
        "tool:chart:finished",
        "response:analysis",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events)
    assert result.events[2].message == "Planner: plan carbon → analysis → report"
    assert [e.data.progress for e in result.events if isinstance(e, AgentResponse)] == [
        10,
        38,
        66,
        95,
    ]
    assert result.status == "completed"
    assert result.report == "# Report\nAll good."
    assert provider.remaining == 0
    completed = result.events[-1]
    assert isinstance(completed, Completed)
    assert completed.data.full_content == completed.data.final_response == result.report
    assert [(s.kind, s.task) for s in completed.data.plan] == [
        ("carbon", "Find the grid facts."),
        ("analysis", "Analyse the series."),
        ("report", "Write the report."),
    ]
    assert [(s.name, s.synthetic) for s in completed.data.sources] == [
        ("Arithmetic", False),
        ("Synthetic series", True),
    ]
    assert [(c.id, c.title) for c in completed.data.charts] == [("c1", "Trend")]
    usage = completed.data.usage
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens) == (6, 600, 120)
    assert usage.messages == 6 + 3  # model calls + tool results
    assert usage.cost_usd == pytest.approx((600 * 1.0 + 120 * 2.0) / 1_000_000)
    # The planner and each step report their own share of the cost; the shares add up.
    shares = [e.data.usage for e in result.events if isinstance(e, AgentResponse)]
    assert len(shares) == 4
    assert shares[0].cost_usd == pytest.approx((100 * 1.0 + 20 * 2.0) / 1_000_000)  # planner
    assert sum(s.cost_usd for s in shares) == pytest.approx(usage.cost_usd)
    assert usage.energy_wh == pytest.approx(0.72 * 0.3)
    assert usage.emissions_g_co2e == pytest.approx(0.72 * 0.3 / 1000 * 300)
    finished = [e for e in result.events if isinstance(e, ToolExecution)]
    assert finished[1].data.result_summary == "5 in total"
    assert finished[1].data.arguments == {"a": 2, "b": 3}
    assert finished[3].data.result_summary == "2 synthetic monthly values (seed 4)"

    # The tool loop feeds results back: the carbon step's second call replays the call + output.
    carbon_second = provider.requests[2]
    assert carbon_second.input[1:] == (
        FunctionCall("c1", "add", '{"a":2,"b":3}'),
        FunctionCallOutput("c1", '{"total":5}'),
    )
    # for_model() keeps large payloads out of the prompt.
    analysis_second = provider.requests[4]
    assert FunctionCallOutput("c2", '{"count":2,"first":40.0}') in analysis_second.input
    # Later steps get the earlier outputs, not the transcript: one user message.
    report_request = provider.requests[5]
    assert len(report_request.input) == 1
    assert isinstance(report_request.input[0], UserMessage)
    assert "Findings of the carbon step:\nCarbon: 5 units." in report_request.input[0].text
    assert "Findings of the analysis step:\nAnalysis: trend up." in report_request.input[0].text
    assert '"total"' not in report_request.input[0].text
    # Every event survives the wire envelope.
    assert [decode_envelope(encode_envelope(e)) for e in result.events] == result.events


async def test_greeting_plan_goes_straight_to_the_report() -> None:
    orch, _ = build([PLAN_REPORT, Reply(text="Hello! I answer sustainability questions.")])
    result = await orch.ask("hi")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events)
    report_thinking = result.events[3]
    assert isinstance(report_thinking, AgentThinking)
    assert report_thinking.data.state == "reporting"
    assert report_thinking.data.plan is not None
    assert [p.kind for p in report_thinking.data.plan] == ["report"]


async def test_planner_invalid_then_fixed() -> None:
    orch, provider = build([Reply(text="I think carbon."), PLAN_REPORT, Reply(text="Done.")])
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "response:planner",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events)
    retry = result.events[2]
    assert "the plan was invalid" in retry.message
    second = provider.requests[1]
    assert second.response_schema is not None
    assert second.input[1] == AssistantMessage("I think carbon.")
    feedback = second.input[2]
    assert isinstance(feedback, UserMessage)
    assert feedback.text.startswith("That plan is invalid: not a valid plan JSON object")


async def test_planner_invalid_twice_fails() -> None:
    bad = Reply(text='{"steps": [{"kind": "carbon", "task": "x"}], "notes": null}')
    orch, _ = build([bad, bad])
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "error:planner_invalid",
    ]
    check_invariants(result.events)
    error = _terminal(result.events).data
    assert "the last step must be 'report'" in error.error
    assert error.step == "planner"
    assert result.status == "failed"
    assert result.report == ""
    # The failed run's own LLM use is still accounted for.
    assert (result.usage.llm_calls, result.usage.input_tokens) == (2, 200)
    assert result.usage.energy_wh == pytest.approx(0.24 * 0.3)


async def test_planner_invalid_twice_uses_default_plan_when_allowed() -> None:
    orch, _ = build(
        [
            Reply(text="nope"),
            Reply(text="still nope"),
            Reply(text="Carbon facts."),
            Reply(text="Analysis facts."),
            Reply(text="Report."),
        ],
        budgets=BudgetConfig(default_plan_on_invalid=True),
    )
    result = await orch.ask("q")
    assert tokens(result.events)[:5] == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "thinking:planner",
        "response:planner",
    ]
    assert "using the default plan" in result.events[3].message
    assert result.plan == DEFAULT_PLAN
    assert result.status == "completed"
    check_invariants(result.events)


async def test_unknown_tool_is_reported_back_to_the_model() -> None:
    orch, provider = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("teleport", {"to": "mars"}, "c1"),)),
            Reply(text="Recovered without that tool."),
            Reply(text="Report."),
        ]
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "tool:teleport:started",
        "tool:teleport:failed",
        "response:carbon",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events)
    failed = result.events[5]
    assert isinstance(failed, ToolExecution)
    assert failed.data.error is not None
    assert failed.data.error.startswith("unknown tool 'teleport'; available tools: add, series")
    fed_back = provider.requests[2].input[-1]
    assert isinstance(fed_back, FunctionCallOutput)
    assert msgspec.json.decode(fed_back.output) == {"error": failed.data.error}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1,', "arguments for add are not valid JSON"),
        ('{"a": "one", "b": 2}', "invalid arguments for add: Expected `int`, got `str` - at `$.a`"),
        ('{"a": 1}', "invalid arguments for add: Object missing required field `b`"),
        ("[1, 2]", "invalid arguments for add: Expected `object`, got `array`"),
    ],
)
async def test_malformed_arguments_are_reported_back(arguments: str, expected: str) -> None:
    orch, provider = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("add", arguments, "c1"),)),
            Reply(tool_calls=(tool_call("add", {"a": 1, "b": 2}, "c2"),)),
            Reply(text="Fixed: 3."),
            Reply(text="Report."),
        ]
    )
    result = await orch.ask("q")
    assert tokens(result.events)[3:9] == [
        "thinking:carbon",
        "tool:add:started",
        "tool:add:failed",
        "tool:add:started",
        "tool:add:finished",
        "response:carbon",
    ]
    check_invariants(result.events)
    failed = result.events[5]
    assert isinstance(failed, ToolExecution)
    assert failed.data.error is not None
    assert failed.data.error.startswith(expected)
    assert provider.requests[2].input[-1] == FunctionCallOutput(
        "c1", msgspec.json.encode({"error": failed.data.error}).decode()
    )
    assert result.status == "completed"


async def test_malformed_json_arguments_are_shown_raw_in_the_event() -> None:
    orch, _ = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("add", "{oops", "c1"),)),
            Reply(text="x"),
            Reply(text="Report."),
        ]
    )
    result = await orch.ask("q")
    started = result.events[4]
    assert isinstance(started, ToolExecution)
    assert started.data.arguments == {"_raw": "{oops"}


async def test_tool_raising_then_tool_errors_exhausted() -> None:
    orch, _ = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("boom", {}, "c1"),)),
            Reply(tool_calls=(tool_call("domain_error", {}, "c2"),)),
            Reply(tool_calls=(tool_call("boom", {}, "c3"),)),
        ],
        budgets=BudgetConfig(tool_error_retries=2),
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "tool:boom:started",
        "tool:boom:failed",
        "tool:domain_error:started",
        "tool:domain_error:failed",
        "tool:boom:started",
        "tool:boom:failed",
        "error:tool_failed",
    ]
    check_invariants(result.events)
    errors = [e.data.error for e in result.events if isinstance(e, ToolExecution) and e.data.error]
    assert errors[0] == "boom raised RuntimeError: disk on fire"
    assert errors[1] == "region 'xx' is not supported; use ie, ni, all or gb"
    assert _terminal(result.events).data.step == "carbon"


async def test_max_tool_rounds_exhausted() -> None:
    loop_turn = Reply(tool_calls=(tool_call("add", {"a": 1, "b": 1}),))
    orch, _ = build(
        [PLAN_CARBON, loop_turn, loop_turn, loop_turn],
        budgets=BudgetConfig(max_tool_rounds_per_step=2),
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "tool:add:started",
        "tool:add:finished",
        "tool:add:started",
        "tool:add:finished",
        "error:budget_exhausted",
    ]
    check_invariants(result.events)
    assert "more than 2 times" in _terminal(result.events).data.error


async def test_max_messages_exhausted() -> None:
    orch, _ = build(
        [PLAN_CARBON, Reply(tool_calls=(tool_call("add", {"a": 1, "b": 1}),)), Reply(text="x")],
        budgets=BudgetConfig(max_messages_per_run=3),
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "tool:add:started",
        "tool:add:finished",
        "error:budget_exhausted",
    ]
    check_invariants(result.events)
    assert "budget of 3 messages" in _terminal(result.events).data.error


async def test_step_timeout() -> None:
    orch, _ = build(
        [PLAN_CARBON, Reply(text="too late", delay_s=30)],
        budgets=BudgetConfig(step_timeout_s=0.05),
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "error:step_timeout",
    ]
    check_invariants(result.events)
    assert _terminal(result.events).data.step == "carbon"


async def test_run_timeout() -> None:
    orch, _ = build(
        [PLAN_CARBON, Reply(text="too late", delay_s=30)],
        budgets=BudgetConfig(step_timeout_s=20, run_timeout_s=0.05),
    )
    result = await orch.ask("q")
    assert tokens(result.events)[-1] == "error:run_timeout"
    check_invariants(result.events)


async def test_rate_limited_then_success_honours_retry_after() -> None:
    orch, _ = build(
        [
            Fail(error=RateLimited("slow down", retry_after=0.01)),
            PLAN_REPORT,
            Reply(text="Report."),
        ],
        budgets=BudgetConfig(retry_backoff_s=5.0),  # retry_after wins over the backoff
    )
    result = await asyncio.wait_for(orch.ask("q"), timeout=2)
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "response:planner",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events)
    assert "rate limiting requests; retrying in 0.01 s (attempt 2)" in result.events[2].message
    assert result.usage.messages == 2  # a retried call is one logical message


async def test_provider_down_fails_after_bounded_retries() -> None:
    down = Fail(error=ProviderUnavailable("connection refused"))
    orch, provider = build(
        [down] * 4, budgets=BudgetConfig(provider_retries=3, retry_backoff_s=0.001)
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "thinking:planner",
        "thinking:planner",
        "error:llm_unavailable",
    ]
    check_invariants(result.events)
    error = _terminal(result.events).data
    assert (error.error, error.retryable, error.step) == ("connection refused", True, "planner")
    assert len(provider.requests) == 4
    assert [e.message.rsplit("retrying in ", 1)[1] for e in result.events[2:5]] == [
        "0.001 s (attempt 2)",
        "0.002 s (attempt 3)",
        "0.004 s (attempt 4)",
    ]


async def test_retry_that_would_exceed_the_run_limit_fails_now() -> None:
    orch, provider = build(
        [Fail(error=RateLimited("quota", retry_after=3600)), PLAN_REPORT],
        budgets=BudgetConfig(run_timeout_s=10),
    )
    result = await asyncio.wait_for(orch.ask("q"), timeout=2)
    assert tokens(result.events) == ["started", "thinking:planner", "error:llm_rate_limited"]
    assert "would exceed the run time limit" in _terminal(result.events).data.error
    assert provider.remaining == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AuthenticationFailed("invalid key"), "llm_auth_failed"),
        (Refusal("I cannot help with that"), "llm_refusal"),
    ],
)
async def test_non_retryable_provider_errors_fail_at_once(error: Exception, code: str) -> None:
    assert isinstance(error, AuthenticationFailed | Refusal)
    orch, provider = build([Fail(error=error), PLAN_REPORT])
    result = await orch.ask("q")
    assert tokens(result.events) == ["started", "thinking:planner", f"error:{code}"]
    assert _terminal(result.events).data.retryable is False
    assert len(provider.requests) == 1


async def test_stream_failing_after_partial_output_is_retried_from_scratch() -> None:
    orch, _ = build(
        [
            PLAN_REPORT,
            Fail(error=ProviderUnavailable("reset"), deltas=("Half a ",)),
            Reply(text="# Full report", deltas=("# Full ", "report")),
        ]
    )
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:report",
        "thinking:report:partial",
        "thinking:report",
        "thinking:report:partial",
        "thinking:report:partial",
        "response:report",
        "completed",
    ]
    partials = [
        e.data.partial_text
        for e in result.events
        if isinstance(e, AgentThinking) and e.data.partial_text is not None
    ]
    assert partials == ["Half a ", "# Full ", "# Full report"]
    assert result.report == "# Full report"
    check_invariants(result.events)


async def test_text_deltas_are_coalesced_by_interval() -> None:
    slow = Reply(text="abc", deltas=("a", "b", "c"), delta_delay_s=0.03)
    orch, _ = build([PLAN_REPORT, slow], delta_interval_ms=10_000)
    result = await orch.ask("q")
    assert "thinking:report:partial" not in tokens(result.events)
    orch, _ = build([PLAN_REPORT, slow], delta_interval_ms=20)
    result = await orch.ask("q")
    partial = [e for e in result.events if isinstance(e, AgentThinking) and e.data.partial_text]
    assert [e.data.partial_text for e in partial] == ["a", "ab", "abc"]


async def test_empty_answer_is_a_bad_response() -> None:
    orch, _ = build([PLAN_REPORT, Reply(text="   ")])
    result = await orch.ask("q")
    assert tokens(result.events)[-1] == "error:llm_bad_response"
    check_invariants(result.events)


async def test_script_exhausted_surfaces_as_bad_response() -> None:
    orch, _ = build([PLAN_REPORT])
    result = await orch.ask("q")
    assert tokens(result.events)[-1] == "error:llm_bad_response"
    assert "no turn left" in _terminal(result.events).data.error


async def test_cancelling_the_callers_task_emits_cancelled_then_raises() -> None:
    orch, _ = build([PLAN_CARBON, Reply(text="never", delay_s=30)])
    seen: list[Event] = []
    step_started = asyncio.Event()

    async def emit(event: Event) -> None:
        seen.append(event)
        if isinstance(event, AgentThinking) and event.agent_name == "carbon":
            step_started.set()

    task = asyncio.create_task(orch.run("q", RunContext(run_id="run-1"), emit))
    await asyncio.wait_for(step_started.wait(), timeout=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tokens(seen) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:carbon",
        "error:cancelled",
    ]
    check_invariants(seen)
    assert orch.active_runs() == ()


async def test_orch_cancel_ends_the_run_without_raising() -> None:
    orch, _ = build([PLAN_CARBON, Reply(text="never", delay_s=30)])
    task = asyncio.create_task(orch.ask("q", RunContext(run_id="run-2")))
    await _until_active(orch, "run-2")
    await asyncio.sleep(0.01)
    assert orch.cancel("run-2") is True
    result = await asyncio.wait_for(task, timeout=2)
    assert result.status == "cancelled"
    assert tokens(result.events)[-1] == "error:cancelled"
    assert result.error is not None
    assert result.error.code == "cancelled"
    check_invariants(result.events)
    assert orch.cancel("run-2") is False


async def test_stream_yields_in_order_and_cancel_via_orch() -> None:
    orch, _ = build([PLAN_CARBON, Reply(text="never", delay_s=30)])
    seen: list[Event] = []
    async for event in orch.stream("q", RunContext(run_id="run-3")):
        seen.append(event)
        if isinstance(event, AgentThinking) and event.agent_name == "carbon":
            assert orch.cancel("run-3")
    assert tokens(seen)[-2:] == ["thinking:carbon", "error:cancelled"]
    check_invariants(seen)


async def test_closing_the_stream_early_cancels_the_run() -> None:
    orch, provider = build([PLAN_CARBON, Reply(text="never", delay_s=30)])
    stream = orch.stream("q", RunContext(run_id="run-4"))
    first = await anext(stream)
    assert tokens([first]) == ["started"]
    await stream.aclose()
    assert orch.active_runs() == ()
    assert len(provider.requests) <= 2


async def test_stream_happy_path_matches_ask() -> None:
    script = [PLAN_REPORT, Reply(text="Report.")]
    orch, _ = build(script)
    streamed = [event async for event in orch.stream("q", RunContext(run_id="same"))]
    orch2, _ = build(script)
    asked = await orch2.ask("q", RunContext(run_id="same"))
    assert tokens(streamed) == tokens(asked.events)
    assert [e.data.progress for e in streamed] == [e.data.progress for e in asked.events]


async def test_emit_failure_propagates_unchanged() -> None:
    orch, _ = build([PLAN_REPORT, Reply(text="Report.")])

    async def emit(event: Event) -> None:
        if isinstance(event, AgentResponse):
            raise OSError("database gone")

    with pytest.raises(OSError, match="database gone"):
        await orch.run("q", None, emit)
    assert orch.active_runs() == ()


async def test_duplicate_run_id_is_rejected() -> None:
    orch, _ = build([PLAN_CARBON, Reply(text="never", delay_s=30)])
    task = asyncio.create_task(orch.ask("q", RunContext(run_id="dup")))
    await _until_active(orch, "dup")
    with pytest.raises(ValueError, match="already running"):
        await orch.ask("q", RunContext(run_id="dup"))
    orch.cancel("dup")
    assert (await task).status == "cancelled"


async def test_previous_response_id_mode_sends_only_new_items() -> None:
    orch, provider = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("add", {"a": 1, "b": 1}, "c1"),), response_id="resp_1"),
            Reply(text="Two."),
            Reply(text="Report."),
        ],
        previous_response_id=True,
    )
    await orch.ask("q")
    second = provider.requests[2]
    assert second.previous_response_id == "resp_1"
    assert second.input == (FunctionCallOutput("c1", '{"total":2}'),)


async def test_cost_uses_cached_price_and_model_prefix() -> None:
    usage = TurnUsage(input_tokens=1000, cached_tokens=400, output_tokens=100)
    orch, _ = build(
        [
            Reply(text=PLAN_REPORT.text, usage=usage, model="test-model-2026-01-01"),
            Reply(text="Report.", usage=TurnUsage()),
        ],
        accounting=AccountingConfig(
            prices={"test-model": ModelPrice(input=2.0, cached_input=0.5, output=8.0)}
        ),
    )
    result = await orch.ask("q")
    assert result.usage.cost_usd == pytest.approx((600 * 2.0 + 400 * 0.5 + 100 * 8.0) / 1e6)
    assert result.usage.cached_tokens == 400


async def test_hints_and_tool_context_carry_the_run_facts() -> None:
    from orchestrator import HistoryPair
    from tools.catalog_types import Dataset

    dataset = Dataset(
        id="ds1",
        name="energy.csv",
        kind="numeric_table",
        columns=("month", "kwh"),
        rows=({"month": "2026-01", "kwh": 10}, {"month": "2026-02", "kwh": 12}),
    )
    history = [HistoryPair(f"q{i}", f"a{i}" * 500) for i in range(7)]
    orch, provider = build(
        [
            PLAN_CARBON,
            Reply(tool_calls=(tool_call("context_echo", {}, "c1"),)),
            Reply(text="Carbon out."),
            Reply(text="Report."),
        ],
        services={"grid_source": object()},
    )
    context = RunContext(conversation_id="conv-1", history=history, dataset=dataset)
    result = await orch.ask("Analyse my energy", context)
    started = result.events[0]
    assert isinstance(started, Started)
    assert started.data.conversation_id == "conv-1"
    planner_hints = provider.requests[0].hints
    assert planner_hints["role"] == "planner"
    assert planner_hints["question"] == "Analyse my energy"
    assert planner_hints["task"] is None
    assert planner_hints["plan"] is None
    assert planner_hints["now"] == FIXED_NOW.isoformat()
    assert [h["question"] for h in planner_hints["history"]] == ["q2", "q3", "q4", "q5", "q6"]
    assert len(planner_hints["history"][0]["answer"]) == 800
    assert planner_hints["dataset"] == {
        "id": "ds1",
        "name": "energy.csv",
        "kind": "numeric_table",
        "columns": ["month", "kwh"],
        "rows": 2,
    }
    assert planner_hints["earlier_outputs"] == []
    report_hints = provider.requests[3].hints
    assert report_hints["role"] == "report"
    assert report_hints["step_index"] == 1
    assert report_hints["task"] == "Write the report."
    assert report_hints["plan"] == [
        {"kind": "carbon", "task": "Find the grid facts."},
        {"kind": "report", "task": "Write the report."},
    ]
    assert report_hints["earlier_outputs"] == [{"kind": "carbon", "output": "Carbon out."}]
    echoed = provider.requests[2].input[-1]
    assert isinstance(echoed, FunctionCallOutput)
    assert msgspec.json.decode(echoed.output) == {
        "now": FIXED_NOW.isoformat(),
        "dataset": "energy.csv",
        "services": ["grid_source"],
    }
    planner_text = provider.requests[0].input[0]
    assert isinstance(planner_text, UserMessage)
    assert "Uploaded dataset: 'energy.csv' (numeric_table, 2 rows" in planner_text.text


async def test_planner_deltas_are_not_streamed_as_partial_text() -> None:
    streamed_plan = Reply(
        text=PLAN_REPORT.text, deltas=(PLAN_REPORT.text[:10], PLAN_REPORT.text[10:])
    )
    orch, _ = build([streamed_plan, Reply(text="Report.", deltas=("Report.",))])
    result = await orch.ask("q")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:report",
        "thinking:report:partial",
        "response:report",
        "completed",
    ]


class _BrokenProvider:
    """A provider with a bug: raises a non-provider exception."""

    name = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        return self

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return self

    async def __anext__(self) -> ProviderEvent:
        raise self.error

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("error", [TimeoutError(), KeyError("oops")])
async def test_a_provider_bug_still_ends_with_one_internal_error(error: Exception) -> None:
    orch = Orchestrator(_BrokenProvider(error), make_assistants(), tools=make_registry())
    result = await orch.ask("q")
    assert tokens(result.events) == ["started", "thinking:planner", "error:internal_error"]
    check_invariants(result.events)
    assert result.status == "failed"


async def test_transitions_are_logged_with_run_state_step_duration_and_tokens(
    captured_logs: list[MutableMapping[str, Any]],
) -> None:
    orch, _ = build([PLAN_CARBON, Reply(tool_calls=(tool_call("boom", {}),)), Reply(text="x")])
    context = RunContext(
        run_id="logged", user_id="u-1", metadata={"request_id": "req-9", "event": "ignored"}
    )
    result = await orch.ask("q", context)
    started = result.events[0]
    assert isinstance(started, Started)
    assert started.data.user_id == "u-1"
    assert started.data.metadata == {"request_id": "req-9", "event": "ignored"}
    transitions = [e for e in captured_logs if e["event"] == "run.transition"]
    assert [(e["from_state"], e["state"], e["step"]) for e in transitions] == [
        ("pending", "planning", "planner"),
        ("planning", "running_step", "carbon"),
        ("running_step", "awaiting_tools", "carbon"),
        ("awaiting_tools", "running_step", "carbon"),
        ("running_step", "reporting", "report"),
        ("reporting", "failed", "report"),
    ]
    for entry in transitions:
        assert entry["run_id"] == "logged"
        assert entry["request_id"] == "req-9"
        assert entry["duration_ms"] >= 0
    assert transitions[1]["input_tokens"] == 100
    assert transitions[1]["output_tokens"] == 20
    tool_bug = next(e for e in captured_logs if e["event"] == "run.tool_error")
    assert tool_bug["tool"] == "boom"
    assert isinstance(tool_bug["exc_info"], RuntimeError)
