"""Lean prompts, through the real ``openai`` SDK over HTTP to the fake server.

What each model call sends is asserted on the request bodies the fake received: a step is
offered only the tools its plan named (and none once it used them), large tool results go back
compact with a reference, a dashboard is inserted by the machine rather than copied by the
model, every Responses call carries a ``prompt_cache_key`` with the stable head before the
run's input, cached tokens reach the usage events, and a run over its token budget ends with
``token_budget_exceeded``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from orchestrator import Orchestrator, RunResult
from orchestrator._results import RESULT_CHARS, compact_result
from orchestrator.assistants import DEFAULT_TOOLS
from orchestrator.config import BudgetConfig, LLMConfig
from orchestrator.events import AgentResponse, Completed, ErrorEvent, ToolExecution
from orchestrator.plan import PlanInvalid, parse_plan
from orchestrator.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes.openai_server import Call, FakeOpenAI, Turn

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
QUESTION = "When is the Irish grid cleanest tomorrow, and how green was last week?"
# Scripted answers are about what is sent, not grounded reports: the checks would re-ask.
BUDGETS = BudgetConfig(
    retry_backoff_s=0.01, provider_retries=1, step_timeout_s=20, grounding_checks=False
)
WEEK_ARGS = '{"region": "ie", "start_date": "2026-11-30", "end_date": "2026-12-05"}'
WINDOW_ARGS = json.dumps(
    {
        "region": "ie",
        "duration_hours": 3,
        "date": "2026-12-07",
        "start_date": None,
        "end_date": None,
        "earliest_hour": None,
        "latest_hour": None,
        "energy_kwh": None,
    }
)
DASHBOARD_ARGS = json.dumps(
    {
        "title": "Grid this week",
        "kpis": [{"label": "Mean", "value": 250, "unit": "gCO2/kWh"}],
        "bars": None,
        "bar_unit": None,
        "sparkline": None,
        "sparkline_label": None,
        "levels": None,
        "levels_label": None,
        "table_columns": None,
        "table_rows": None,
        "width": 60,
        "charset": "ascii",
        "synthetic": True,
    }
)


def _plan(*steps: dict[str, Any]) -> Turn:
    return Turn(text=json.dumps({"steps": list(steps), "notes": None}))


def _provider(base_url: str, **config: Any) -> OpenAIResponsesProvider:
    return OpenAIResponsesProvider(
        LLMConfig(provider="openai", base_url=f"{base_url}/v1", api_key="sk-lean", **config)
    )


async def _ask(base_url: str, budgets: BudgetConfig = BUDGETS, **config: Any) -> RunResult:
    orchestrator = Orchestrator(_provider(base_url, **config), budgets=budgets, clock=lambda: NOW)
    try:
        return await orchestrator.ask(QUESTION)
    finally:
        await orchestrator.aclose()


def _bodies(app: FakeOpenAI) -> list[dict[str, Any]]:
    return app.bodies("/v1/responses")


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in body.get("tools", [])]


def _outputs(body: dict[str, Any]) -> dict[str, str]:
    return {
        item["call_id"]: item["output"]
        for item in body["input"]
        if item.get("type") == "function_call_output"
    }


def _calls(body: dict[str, Any]) -> list[str]:
    return [item["call_id"] for item in body["input"] if item.get("type") == "function_call"]


# ----------------------------------------------------------------- tools per step


async def test_each_step_is_offered_only_the_tools_its_plan_names(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Best 3 h tomorrow in ie.", "tools": ["grid_best_window"]},
            {"kind": "report", "task": "Answer briefly.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_best_window", WINDOW_ARGS),)),
        Turn(text="Carbon: the cleanest 3 h are overnight (synthetic data)."),
        Turn(text="# Report\nRun it overnight."),
    )
    result = await _ask(base_url)

    assert result.status == "completed"
    assert result.plan is not None
    assert [step.tools for step in result.plan.steps] == [("grid_best_window",), ()]
    planner, carbon_1, carbon_2, report = _bodies(app)
    # The planner's schema bounds each kind's tools with an enum of that kind's tools.
    variants = planner["text"]["format"]["schema"]["properties"]["steps"]["items"]["anyOf"]
    enums = {v["properties"]["kind"]["enum"][0]: v["properties"]["tools"] for v in variants}
    assert enums["carbon"]["items"]["enum"] == list(DEFAULT_TOOLS["carbon"])
    assert enums["report"]["items"]["enum"] == ["render_dashboard", "render_chart"]
    assert "tools" not in planner
    # Only the planned tool's schema; after it was used, the step answers without schemas.
    assert _tool_names(carbon_1) == ["grid_best_window"]
    assert "tools" not in carbon_2
    assert "tool_choice" not in carbon_2
    # A step the plan gave no tools is offered none.
    assert "tools" not in report


async def test_a_step_keeps_its_tools_when_configured_to(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Best 3 h tomorrow.", "tools": ["grid_best_window"]},
            {"kind": "report", "task": "Answer.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_best_window", WINDOW_ARGS),)),
        Turn(text="Carbon: overnight."),
        Turn(text="# Report"),
    )
    result = await _ask(base_url, BudgetConfig(offer_tools_after_use=True))
    assert result.status == "completed"
    assert _tool_names(_bodies(app)[2]) == ["grid_best_window"]


async def test_a_plan_without_tools_offers_each_step_all_of_its_assistants_tools(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan({"kind": "carbon", "task": "Grid last week."}, {"kind": "report", "task": "Write."}),
        Turn(tool_calls=(Call("grid_intensity", WEEK_ARGS),)),
        Turn(text="Carbon: 250 gCO2/kWh."),
        Turn(text="# Report"),
    )
    result = await _ask(base_url)
    assert result.status == "completed"
    _, carbon_1, carbon_2, report = _bodies(app)
    assert _tool_names(carbon_1) == list(DEFAULT_TOOLS["carbon"])
    assert _tool_names(carbon_2) == list(DEFAULT_TOOLS["carbon"])  # nothing was planned
    assert _tool_names(report) == list(DEFAULT_TOOLS["report"])


async def test_a_tool_outside_the_steps_plan_is_refused_back_to_the_model(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Best 3 h.", "tools": ["grid_best_window"]},
            {"kind": "report", "task": "Answer.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_intensity", WEEK_ARGS),)),
        Turn(text="Carbon: no data."),
        Turn(text="# Report"),
    )
    result = await _ask(base_url)
    assert result.status == "completed"
    (output,) = _outputs(_bodies(app)[2]).values()
    assert json.loads(output)["error"] == (
        "unknown tool 'grid_intensity'; available tools: grid_best_window"
    )


def test_parse_plan_rejects_a_tool_the_steps_kind_does_not_have() -> None:
    text = json.dumps(
        {
            "steps": [
                {"kind": "carbon", "task": "x", "tools": ["render_chart"]},
                {"kind": "report", "task": "y", "tools": []},
            ],
            "notes": None,
        }
    )
    with pytest.raises(PlanInvalid, match=r"step 1 \(carbon\) names tool\(s\) it does not have"):
        parse_plan(text, tools=DEFAULT_TOOLS)


def test_parse_plan_keeps_the_assistants_tool_order_without_duplicates() -> None:
    text = json.dumps(
        {
            "steps": [
                {"kind": "carbon", "task": "x", "tools": ["grid_compare", "grid_intensity"] * 2},
                {"kind": "report", "task": "y", "tools": []},
            ],
            "notes": None,
        }
    )
    plan = parse_plan(text, tools=DEFAULT_TOOLS)
    assert plan.steps[0].tools == ("grid_intensity", "grid_compare")  # a stable prompt prefix


# ----------------------------------------------------------------- compact results


async def test_a_large_tool_result_goes_back_compact_with_a_reference(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Grid last week.", "tools": ["grid_intensity"]},
            {"kind": "report", "task": "Write.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_intensity", WEEK_ARGS, call_id="call_week"),)),
        Turn(text="Carbon: mean 250 gCO2/kWh."),
        Turn(text="# Report"),
    )
    result = await _ask(base_url)
    assert result.status == "completed"
    output = _outputs(_bodies(app)[2])["call_week"]
    compact = json.loads(output)
    assert len(output) <= RESULT_CHARS
    assert compact["ref"] == "call_week"
    finished = next(
        e for e in result.events if isinstance(e, ToolExecution) and e.data.status == "finished"
    )
    # The summary the events show, then the key figures, not the points.
    assert compact["summary"] == finished.data.result_summary
    assert {"mean", "min", "max"} <= set(compact["stats"])
    assert {"p33", "p66"} <= set(compact["thresholds"])
    assert "hours_of_day" not in compact
    assert "periods" not in compact
    # The run kept what the whole result says: its provenance.
    assert [s.kind for s in result.sources] == ["grid_intensity"]


def test_compact_result_sends_a_small_result_whole() -> None:
    payload = {"total": 5, "unit": "kgCO2e", "lines": [{"category": "gas", "kg": 5}]}
    assert compact_result(payload, ref="c1", summary="5 kg") == payload


def test_compact_result_shrinks_a_large_result_to_its_figures() -> None:
    payload = {
        "mean": 250.5,
        "stats": {"min": 100, "max": 400, "by_hour": list(range(24))},
        "periods": [{"start": f"2026-12-0{i}", "mean": 200 + i, "points": 4} for i in range(1, 9)],
        "points": [[f"2026-12-01T{h:02d}:00Z", 250.0, False] for h in range(24)] * 20,
        "note": "x" * 400,
    }
    compact = compact_result(payload, ref="c9", summary="mean 250", limit=600)
    assert len(msgspec.json.encode(compact)) <= 600
    assert compact["ref"] == "c9"
    assert compact["summary"] == "mean 250"
    assert compact["mean"] == 250.5
    assert compact["stats"]["min"] == 100
    assert compact["stats"]["max"] == 400
    assert len(compact["note"]) < 200  # long strings cut
    # The leanest tiers keep counts of the lists they drop.
    assert compact.get("points_count") == 480 or len(compact["points"]) <= 4


def test_compact_result_never_exceeds_its_limit() -> None:
    payload = {f"field_{i}": "v" * 150 for i in range(40)}
    compact = compact_result(payload, ref="c1", summary="s", limit=500)
    assert len(msgspec.json.encode(compact)) <= 500
    assert compact["ref"] == "c1"


async def test_a_rendered_dashboard_is_inserted_not_copied_by_the_model(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan({"kind": "report", "task": "Dashboard of the week.", "tools": ["render_dashboard"]}),
        Turn(tool_calls=(Call("render_dashboard", DASHBOARD_ARGS, call_id="call_dash"),)),
        Turn(text="## Executive summary\nClean overnight.\n\n## Dashboard\n\n## Action items\n- x"),
    )
    result = await _ask(base_url)
    assert result.status == "completed"
    output = json.loads(_outputs(_bodies(app)[2])["call_dash"])
    assert output["ref"] == "call_dash"
    assert "text" not in output
    assert "inserts this dashboard" in output["note"]
    report = result.report
    dashboard = report.split("## Dashboard\n\n```text\n", 1)[1].split("\n```", 1)[0]
    assert dashboard.splitlines()[1].startswith("Grid this week")
    assert report.index("## Dashboard") < report.index("## Action items")
    terminal = result.events[-1]
    assert isinstance(terminal, Completed)
    assert terminal.data.full_content == report


# ----------------------------------------------------------------- caching and usage


async def test_every_responses_call_has_a_prompt_cache_key_and_the_stable_head_first(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Best 3 h.", "tools": ["grid_best_window"]},
            {"kind": "report", "task": "Answer.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_best_window", WINDOW_ARGS),)),
        Turn(text="Carbon: overnight."),
        Turn(text="# Report", cached_tokens=40),
    )
    result = await _ask(base_url)
    assert result.status == "completed"
    bodies = _bodies(app)
    keys = [body["prompt_cache_key"] for body in bodies]
    assert [key.rsplit("-", 1)[0] for key in keys] == [
        "sca-planner",
        "sca-carbon",
        "sca-carbon",
        "sca-report",
    ]
    assert keys[1] != keys[2]  # the second carbon call has another head: no tool schemas
    for body in bodies:
        order = list(body)
        assert order[:2] == ["model", "instructions"]
        assert order[-1] == "input"  # the run's own part after the stable head


async def test_no_prompt_cache_key_when_configured_off(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    app.script(_plan({"kind": "report", "task": "Hi.", "tools": []}), Turn(text="Hello."))
    result = await _ask(base_url, prompt_cache_key="")
    assert result.status == "completed"
    assert all("prompt_cache_key" not in body for body in _bodies(app))


async def test_cached_tokens_reach_the_step_and_run_usage_events(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        Turn(
            text=json.dumps(
                {"steps": [{"kind": "report", "task": "Hi.", "tools": []}], "notes": None}
            ),
            cached_tokens=30,
        ),
        Turn(text="Hello.", cached_tokens=12),
    )
    result = await _ask(base_url)
    responses = [e for e in result.events if isinstance(e, AgentResponse)]
    assert [e.data.usage.cached_tokens for e in responses] == [30, 12]
    terminal = result.events[-1]
    assert isinstance(terminal, Completed)
    assert terminal.data.usage.cached_tokens == 42
    # Serialized for clients as part of the usage object.
    wire = msgspec.json.decode(msgspec.json.encode(terminal))
    assert wire["data"]["usage"]["cached_tokens"] == 42


# ----------------------------------------------------------------- token budget


async def test_a_run_over_its_token_budget_ends_with_token_budget_exceeded(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Grid last week.", "tools": ["grid_intensity"]},
            {"kind": "report", "task": "Write.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_intensity", WEEK_ARGS),)),
        Turn(text="Carbon."),
        Turn(text="# Report"),
    )
    # The fake counts a call's input as its body's characters / 4: two calls pass 500 tokens.
    result = await _ask(base_url, BudgetConfig(max_run_tokens=500))
    terminal = result.events[-1]
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "token_budget_exceeded"
    assert "more than its budget of 500" in terminal.data.error
    assert result.usage.input_tokens + result.usage.output_tokens > 500
    assert len(_bodies(app)) < 4  # no call after the budget was exceeded


async def test_no_token_limit_with_zero(fake: tuple[FakeOpenAI, str]) -> None:
    app, base_url = fake
    app.script(_plan({"kind": "report", "task": "Hi.", "tools": []}), Turn(text="Hello."))
    result = await _ask(base_url, BudgetConfig(max_run_tokens=0, grounding_checks=False))
    assert result.status == "completed"


# ----------------------------------------------------------------- the generic fake


async def test_the_generic_fake_plans_from_the_schema_and_calls_the_first_tool() -> None:
    from tests.fakes.openai_server import serve

    app = FakeOpenAI(generic=True)
    async with serve(app) as base_url:
        result = await _ask(base_url)
    assert result.status == "completed"
    assert result.plan is not None
    assert [(s.kind, s.tools) for s in result.plan.steps] == [
        ("carbon", ("grid_intensity",)),
        ("analysis", ("analyze_table",)),
        ("report", ("render_dashboard",)),
    ]
    finished = [
        e.data.tool
        for e in result.events
        if isinstance(e, ToolExecution) and e.data.status == "finished"
    ]
    assert finished == ["grid_intensity", "analyze_table", "render_dashboard"]
    assert result.usage.llm_calls == 7


async def test_chat_completions_offers_the_planned_tools_too(fake: tuple[FakeOpenAI, str]) -> None:
    from orchestrator.providers.openai_chat import OpenAIChatProvider

    app, base_url = fake
    app.script(
        _plan(
            {"kind": "carbon", "task": "Best 3 h tomorrow.", "tools": ["grid_best_window"]},
            {"kind": "report", "task": "Answer.", "tools": []},
        ),
        Turn(tool_calls=(Call("grid_best_window", WINDOW_ARGS),)),
        Turn(text="Carbon: overnight."),
        Turn(text="# Report"),
    )
    provider = OpenAIChatProvider(
        LLMConfig(provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-lean")
    )
    orchestrator = Orchestrator(provider, budgets=BUDGETS, clock=lambda: NOW)
    try:
        result = await orchestrator.ask(QUESTION)
    finally:
        await orchestrator.aclose()
    assert result.status == "completed"
    planner, carbon_1, carbon_2, report = app.bodies("/v1/chat/completions")
    assert "tools" not in planner
    assert [t["function"]["name"] for t in carbon_1["tools"]] == ["grid_best_window"]
    assert "tools" not in carbon_2
    assert [m["role"] for m in carbon_2["messages"]][-2:] == ["assistant", "tool"]
    assert "tools" not in report
