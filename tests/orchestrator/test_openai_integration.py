"""The whole orchestrator through both OpenAI providers against the fake server over HTTP.

plan → carbon (a real ``grid_intensity`` tool call on synthetic grid data) → analysis → report,
then the faults of issue 5 §3, each ending in exactly one terminal event with a stable code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator import Orchestrator, RunResult
from orchestrator.assistants import DEFAULT_TOOLS, build_assistants
from orchestrator.config import AssistantsConfig, BudgetConfig, LLMConfig
from orchestrator.events import Completed, ErrorEvent, ToolExecution
from orchestrator.plan import STEP_KINDS, plan_json_schema
from orchestrator.providers.openai_chat import OpenAIChatProvider
from orchestrator.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes.openai_server import Call, FakeOpenAI, Turn, closed_port

# The planner's schema: a variant per step kind, each naming that kind's tools.
LEAN_PLAN_SCHEMA = plan_json_schema(STEP_KINDS, {kind: DEFAULT_TOOLS[kind] for kind in STEP_KINDS})

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
QUESTION = "When is the Irish grid cleanest today, and what does it mean for our report?"
PLAN = json.dumps(
    {
        "steps": [
            {"kind": "carbon", "task": "Find today's grid intensity in Ireland."},
            {"kind": "analysis", "task": "Relate it to the office's load."},
            {"kind": "report", "task": "Write the report."},
        ],
        "notes": None,
    }
)
GRID_ARGS = '{"region": "ie", "start_date": "2026-11-26", "end_date": "2026-11-26"}'
REPORT = "# Grid report\n\nRun flexible load in the cleanest hours."
# These runs script model text to test transport and the tool loop; the grounding checks
# (which would ask the scripted answers again) are tested in tests/orchestrator/recorded/.
BUDGETS = BudgetConfig(
    retry_backoff_s=0.01,
    provider_retries=2,
    max_tool_rounds_per_step=3,
    step_timeout_s=20,
    grounding_checks=False,
)

Kind = str  # "openai" | "openai_chat"
PROVIDERS: list[Kind] = ["openai", "openai_chat"]


def _happy_path(carbon_call: Call | None = None) -> list[Turn]:
    return [
        Turn(text=PLAN),
        Turn(tool_calls=(carbon_call or Call("grid_intensity", GRID_ARGS),)),
        Turn(text="Carbon: intensity is lowest overnight (synthetic data)."),
        Turn(text="Analysis: shifting 30% of load saves emissions."),
        Turn(text=REPORT),
    ]


Provider = OpenAIResponsesProvider | OpenAIChatProvider


def _provider(kind: Kind, base_url: str, **config: Any) -> Provider:
    if kind == "openai":
        return OpenAIResponsesProvider(
            LLMConfig(provider="openai", base_url=base_url, api_key="sk-int", **config)
        )
    return OpenAIChatProvider(
        LLMConfig(provider="openai_chat", base_url=base_url, api_key="sk-int", **config)
    )


async def _ask(provider: Provider, budgets: BudgetConfig = BUDGETS, **options: Any) -> RunResult:
    orchestrator = Orchestrator(provider, budgets=budgets, clock=lambda: NOW, **options)
    try:
        return await orchestrator.ask(QUESTION)
    finally:
        await orchestrator.aclose()


def _bodies(app: FakeOpenAI, kind: Kind) -> list[dict[str, Any]]:
    return app.bodies("/v1/responses" if kind == "openai" else "/v1/chat/completions")


def _terminal(result: RunResult) -> Completed | ErrorEvent:
    terminal = [e for e in result.events if isinstance(e, Completed | ErrorEvent)]
    assert len(terminal) == 1
    assert result.events[-1] is terminal[0]
    seqs = [e.seq for e in result.events]
    assert seqs == sorted(set(seqs))
    return terminal[0]


def _error_code(result: RunResult) -> str:
    terminal = _terminal(result)
    assert isinstance(terminal, ErrorEvent)
    assert result.status == "failed"
    return terminal.data.code


def _tool_outputs(body: dict[str, Any], kind: Kind) -> list[tuple[str, str]]:
    """(call_id, output) pairs sent back to the model in a request body."""
    if kind == "openai":
        return [
            (item["call_id"], item["output"])
            for item in body["input"]
            if item.get("type") == "function_call_output"
        ]
    return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]


def _issued_calls(body: dict[str, Any], kind: Kind) -> list[tuple[str, str]]:
    """(call_id, name) pairs of the model's earlier calls replayed in a request body."""
    if kind == "openai":
        return [
            (item["call_id"], item["name"])
            for item in body["input"]
            if item.get("type") == "function_call"
        ]
    return [
        (call["id"], call["function"]["name"])
        for m in body["messages"]
        if m["role"] == "assistant" and m.get("tool_calls")
        for call in m["tool_calls"]
    ]


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_full_run_plan_carbon_tool_analysis_report(
    fake: tuple[FakeOpenAI, str], kind: Kind
) -> None:
    app, base_url = fake
    app.script(*_happy_path())
    result = await _ask(_provider(kind, f"{base_url}/v1"))

    terminal = _terminal(result)
    assert isinstance(terminal, Completed)
    assert result.status == "completed"
    assert terminal.data.full_content == REPORT
    assert result.report == REPORT
    assert result.plan is not None
    assert [s.kind for s in result.plan.steps] == ["carbon", "analysis", "report"]
    tool_events = [e for e in result.events if isinstance(e, ToolExecution)]
    assert [(e.data.tool, e.data.status) for e in tool_events] == [
        ("grid_intensity", "started"),
        ("grid_intensity", "finished"),
    ]
    assert result.usage.llm_calls == 5
    assert result.usage.input_tokens > 0
    assert result.sources  # the synthetic grid data is cited

    bodies = _bodies(app, kind)
    assert len(bodies) == 5
    plan_body, carbon_1, carbon_2, analysis, report = bodies
    # The planner asks for strict structured output with the plan schema.
    if kind == "openai":
        assert plan_body["text"]["format"]["schema"] == LEAN_PLAN_SCHEMA
        assert plan_body["text"]["format"]["strict"] is True
        instructions = [b["instructions"] for b in bodies]
        tool_names = {t["name"] for t in carbon_1["tools"]}
        assert all(t["strict"] is True for t in carbon_1["tools"])
    else:
        assert plan_body["response_format"]["json_schema"]["schema"] == LEAN_PLAN_SCHEMA
        instructions = [b["messages"][0]["content"] for b in bodies]
        tool_names = {t["function"]["name"] for t in carbon_1["tools"]}
        assert all(t["function"]["strict"] is True for t in carbon_1["tools"])
    assert "grid_intensity" in tool_names
    assert len(set(instructions[:2])) == 2  # planner and carbon have their own instructions
    assert instructions[1] == instructions[2]  # same step, same assistant
    assert "tools" not in plan_body
    # The second carbon turn replays the call and answers it with the real tool output.
    ((issued_id, issued_name),) = _issued_calls(carbon_2, kind)
    ((output_id, output),) = _tool_outputs(carbon_2, kind)
    assert issued_name == "grid_intensity"
    assert output_id == issued_id
    # ... compact: the result's summary and figures, under a ref to the call.
    assert "error" not in json.loads(output)
    assert json.loads(output)["ref"] == issued_id
    assert _tool_outputs(analysis, kind) == []
    assert _tool_outputs(report, kind) == []


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_401_ends_the_run_and_is_recorded_for_health(
    fake: tuple[FakeOpenAI, str], kind: Kind
) -> None:
    app, base_url = fake
    app.script(Turn(status=401), *_happy_path())
    provider = _provider(kind, f"{base_url}/v1")
    result = await _ask(provider)
    assert _error_code(result) == "llm_auth_failed"
    assert len(_bodies(app, kind)) == 1  # never retried
    assert provider.last_auth_failure is not None
    assert "sk-int" not in provider.last_auth_failure


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize(
    "fault",
    [
        Turn(status=429, headers={"retry-after": "0"}),
        Turn(status=500),
        Turn(status=502),
        Turn(status=503),
        Turn(text='{"steps": [', fault="truncate"),
        Turn(text='{"steps": [', fault="drop"),
    ],
    ids=["429", "500", "502", "503", "truncated", "dropped"],
)
async def test_retryable_faults_are_retried_by_the_machine(
    fake: tuple[FakeOpenAI, str], kind: Kind, fault: Turn
) -> None:
    app, base_url = fake
    app.script(fault, *_happy_path())
    result = await _ask(_provider(kind, f"{base_url}/v1"))
    assert isinstance(_terminal(result), Completed)
    assert len(_bodies(app, kind)) == 6  # one retry of the planner call, nothing else


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_read_timeout_mid_stream_is_retried(fake: tuple[FakeOpenAI, str], kind: Kind) -> None:
    app, base_url = fake
    app.script(Turn(text=PLAN, fault="stall", stall_s=10), *_happy_path())
    result = await _ask(_provider(kind, f"{base_url}/v1", read_timeout_s=0.3))
    assert isinstance(_terminal(result), Completed)
    assert len(_bodies(app, kind)) == 6


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_persistent_503_ends_with_llm_unavailable(
    fake: tuple[FakeOpenAI, str], kind: Kind
) -> None:
    app, base_url = fake
    app.default = Turn(status=503)
    result = await _ask(_provider(kind, f"{base_url}/v1"))
    assert _error_code(result) == "llm_unavailable"
    assert len(_bodies(app, kind)) == 1 + BUDGETS.provider_retries  # bounded: no SDK retries


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_connection_refused_ends_with_llm_unavailable(kind: Kind) -> None:
    provider = _provider(kind, f"http://127.0.0.1:{closed_port()}/v1", connect_timeout_s=1)
    result = await _ask(provider)
    assert _error_code(result) == "llm_unavailable"


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize(
    ("carbon_call", "expected"),
    [
        (Call("grid_intensity", '{"region": '), "not valid JSON"),
        (Call("no_such_tool", "{}"), "unknown tool"),
    ],
    ids=["malformed-arguments", "unknown-tool"],
)
async def test_bad_tool_calls_are_answered_with_an_error_and_the_run_recovers(
    fake: tuple[FakeOpenAI, str], kind: Kind, carbon_call: Call, expected: str
) -> None:
    app, base_url = fake
    app.script(*_happy_path(carbon_call))
    result = await _ask(_provider(kind, f"{base_url}/v1"))
    assert isinstance(_terminal(result), Completed)
    carbon_2 = _bodies(app, kind)[2]
    ((call_id, output),) = _tool_outputs(carbon_2, kind)
    assert call_id == _issued_calls(carbon_2, kind)[0][0]
    assert expected in json.loads(output)["error"]
    failed = [
        e for e in result.events if isinstance(e, ToolExecution) and e.data.status == "failed"
    ]
    assert len(failed) == 1


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_endless_tool_calls_exhaust_the_budget(
    fake: tuple[FakeOpenAI, str], kind: Kind
) -> None:
    app, base_url = fake
    app.script(Turn(text=PLAN))
    app.default = Turn(tool_calls=(Call("grid_intensity", GRID_ARGS),))
    result = await _ask(_provider(kind, f"{base_url}/v1"))
    assert _error_code(result) == "budget_exhausted"
    # planner + (max rounds + 1) carbon turns, then it stops
    calls = 1 + BUDGETS.max_tool_rounds_per_step + 1
    assert len(_bodies(app, kind)) == calls
    # The error event reports what the failed run used and planned (clients and the run row).
    error = _terminal(result)
    assert isinstance(error, ErrorEvent)
    assert error.data.usage == result.usage
    assert error.data.usage is not None
    assert error.data.usage.llm_calls == calls
    assert error.data.usage.input_tokens > 0
    assert error.data.usage.wall_ms > 0
    assert error.data.plan is not None
    assert [step.kind for step in error.data.plan] == ["carbon", "analysis", "report"]


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize(
    ("bad_turn", "code"),
    [
        (Turn(refusal="I can't help with that."), "llm_refusal"),
        (Turn(text=""), "llm_bad_response"),
    ],
    ids=["refusal", "empty-answer"],
)
async def test_refusal_and_empty_answer_end_the_run(
    fake: tuple[FakeOpenAI, str], kind: Kind, bad_turn: Turn, code: str
) -> None:
    app, base_url = fake
    app.script(*_happy_path()[:4], bad_turn)
    result = await _ask(_provider(kind, f"{base_url}/v1"))
    assert _error_code(result) == code
    assert len(_bodies(app, kind)) == 5  # not retried


def _reasoning_run() -> list[Turn]:
    """The happy path as a reasoning model: it reasons before the plan and before each call."""
    return [
        Turn(text=PLAN, reasoning="Carbon first, then analysis, then the report."),
        Turn(
            text="Let me look at the grid.",
            reasoning="I need today's Irish grid intensity.",
            tool_calls=(Call("grid_intensity", GRID_ARGS),),
        ),
        Turn(reasoning="", tool_calls=(Call("grid_intensity", GRID_ARGS),)),
        Turn(text="Carbon: intensity is lowest overnight (synthetic data)."),
        Turn(text="Analysis: shifting 30% of load saves emissions."),
        Turn(text=REPORT),
    ]


async def test_reasoning_model_run_replays_reasoning_within_the_step(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(*_reasoning_run())
    provider = _provider("openai", f"{base_url}/v1")
    result = await _ask(provider, assistants=build_assistants(AssistantsConfig(), "o4-mini"))

    assert isinstance(_terminal(result), Completed)
    assert result.report == REPORT
    bodies = _bodies(app, "openai")
    assert len(bodies) == 6
    assert all(b["include"] == ["reasoning.encrypted_content"] for b in bodies)
    assert all(b["store"] is False and "temperature" not in b for b in bodies)
    _, rs_1, rs_2 = app.reasoning_items  # the planner's reasoning led to no call
    assert rs_1["encrypted_content"]
    assert rs_2["encrypted_content"]
    carbon_2, carbon_3, analysis = bodies[2], bodies[3], bodies[4]
    kinds = [item.get("type") for item in carbon_3["input"]]
    assert kinds == [
        "message",  # the step's input
        "message",  # the model's text of round 1
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert carbon_3["input"][2] == rs_1  # verbatim, right before the call it led to
    assert carbon_3["input"][5] == rs_2
    assert carbon_3["input"][1] == {
        "type": "message",
        "role": "assistant",
        "content": "Let me look at the grid.",
    }
    assert carbon_2["input"] == carbon_3["input"][:5]
    # Another step starts afresh: no reasoning of the carbon step.
    assert all(item.get("type") == "message" for item in analysis["input"])


async def test_reasoning_model_run_with_server_side_state_resends_no_reasoning(
    fake: tuple[FakeOpenAI, str],
) -> None:
    app, base_url = fake
    app.script(*_reasoning_run())
    provider = _provider("openai", f"{base_url}/v1", use_previous_response_id=True)
    result = await _ask(
        provider,
        assistants=build_assistants(AssistantsConfig(), "o4-mini"),
        use_previous_response_id=True,
    )

    assert isinstance(_terminal(result), Completed)
    bodies = _bodies(app, "openai")
    assert all("include" not in b and b["store"] is True for b in bodies)
    assert all(item.get("type") != "reasoning" for b in bodies for item in b["input"])
    carbon_2, carbon_3 = bodies[2], bodies[3]
    assert carbon_2["previous_response_id"]
    assert carbon_3["previous_response_id"]
    assert [item["type"] for item in carbon_3["input"]] == ["function_call_output"]


@pytest.mark.parametrize(
    ("model", "reasoning", "is_reasoning"),
    [
        ("gpt-4.1-mini", "auto", False),
        ("o3", "auto", True),
        ("gpt-5-mini", "auto", True),
        ("gpt-5-chat-latest", "auto", False),  # the non-reasoning ChatGPT snapshot
        ("reasoning-deployment", "always", True),  # an Azure/LiteLLM name "auto" cannot know
        ("o4-mini-alias", "never", False),
    ],
)
@pytest.mark.parametrize("kind", PROVIDERS)
async def test_reasoning_setting_decides_temperature_and_reasoning_replay(
    fake: tuple[FakeOpenAI, str], kind: Kind, model: str, reasoning: str, is_reasoning: bool
) -> None:
    app, base_url = fake
    app.script(*_happy_path())
    provider = _provider(kind, f"{base_url}/v1", reasoning=reasoning)
    result = await _ask(provider, assistants=build_assistants(AssistantsConfig(), model))

    assert isinstance(_terminal(result), Completed)
    bodies = _bodies(app, kind)
    assert {b["model"] for b in bodies} == {model}
    assert all(("temperature" in b) is not is_reasoning for b in bodies)
    if kind == "openai":
        expected = [["reasoning.encrypted_content"]] * len(bodies) if is_reasoning else []
        assert [b["include"] for b in bodies if "include" in b] == expected
