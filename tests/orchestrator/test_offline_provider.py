"""The offline provider as a Provider: event shapes, usage estimates, tool loop reading, facts."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.assistants import AssistantSpec
from orchestrator.config import ToolsConfig
from orchestrator.plan import PLAN_JSON_SCHEMA, parse_plan
from orchestrator.providers._offline.turns import decode_facts, encode_facts, tool_results
from orchestrator.providers.base import (
    FunctionCall,
    FunctionCallOutput,
    InputItem,
    ModelRequest,
    ModelTurn,
    Provider,
    ProviderEvent,
    TextDelta,
    ToolCallRequest,
    ToolSchema,
    UserMessage,
)
from orchestrator.providers.offline import OfflineProvider
from orchestrator.registry import ToolRegistry

SPEC = AssistantSpec(name="carbon", model="offline", instructions="Be careful.")
NOW = "2026-03-18T09:00:00+00:00"
REGISTRY = ToolRegistry.from_catalog()


def hints(role: str, question: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "role": role,
        "question": question,
        "task": None,
        "step_index": None if role == "planner" else 0,
        "plan": None,
        "now": NOW,
        "history": [],
        "dataset": None,
        "earlier_outputs": [],
    }
    base.update(extra)
    return base


def request(
    role: str,
    question: str,
    items: tuple[InputItem, ...] = (),
    tools: tuple[str, ...] = (),
    **extra: Any,
) -> ModelRequest:
    return ModelRequest(
        assistant=SPEC,
        input=(UserMessage(f"Question: {question}"), *items),
        tools=REGISTRY.schemas(tools),
        response_schema=PLAN_JSON_SCHEMA if role == "planner" else None,
        hints=hints(role, question, **extra),
    )


async def collect(provider: OfflineProvider, req: ModelRequest) -> list[ProviderEvent]:
    return [event async for event in provider.stream(req)]


def test_is_a_provider() -> None:
    provider = OfflineProvider(ToolsConfig())
    assert isinstance(provider, Provider)
    assert provider.name == "offline"


async def test_planner_answers_a_valid_plan_with_usage() -> None:
    events = await collect(OfflineProvider(), request("planner", "How green was it last week?"))
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()
    plan = parse_plan(turn.text)
    assert [s.kind for s in plan.steps] == ["carbon", "report"]
    # The text is streamed first as deltas that add up to the final text.
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == turn.text
    # No language model ran: no tokens, and the CPU time the engine spent is measured.
    assert not turn.usage.language_model
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (0, 0)
    assert turn.usage.cpu_ms > 0
    assert turn.model == "offline-engine"


async def test_step_first_turn_requests_tools_with_schema_complete_arguments() -> None:
    req = request(
        "carbon",
        "When is the grid cleanest tomorrow in GB?",
        tools=("grid_best_window", "grid_intensity"),
    )
    events = await collect(OfflineProvider(), req)
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.text == ""
    assert turn.tool_calls == tuple(calls)
    assert [c.name for c in calls] == ["grid_best_window", "grid_intensity"]
    assert len({c.call_id for c in calls}) == 2
    for call in calls:
        arguments = msgspec.json.decode(call.arguments)
        schema: ToolSchema = REGISTRY.schemas([call.name])[0]
        assert set(arguments) == set(schema.parameters["properties"])
        tool = REGISTRY.get(call.name)
        assert tool is not None
        msgspec.json.decode(call.arguments, type=tool.input_type)  # valid for the tool
    assert (turn.usage.output_tokens, turn.usage.language_model) == (0, False)
    assert turn.usage.cpu_ms > 0


async def test_step_reads_tool_outputs_and_answers() -> None:
    call = FunctionCall("c1", "grid_intensity", '{"region":"ie","start_date":"2026-03-17"}')
    output = {
        "region": "ie",
        "region_name": "Republic of Ireland",
        "start_date": "2026-03-17",
        "end_date": "2026-03-17",
        "view": "raw",
        "stats": {
            "count": 96,
            "mean": 221.4,
            "min": 186.0,
            "min_at": "2026-03-17T12:00:00+00:00",
            "max": 266.0,
            "max_at": "2026-03-17T17:15:00+00:00",
        },
        "forecast_stats": None,
        "trend": None,
        "thresholds": {"p33": 205.0, "p66": 236.0},
        "level_counts": {"low": 32, "medium": 31, "high": 33},
        "periods": [],
        "months": [],
        "synthetic": True,
        "sources": [{"name": "synthetic grid profile", "kind": "grid", "synthetic": True}],
    }
    items = (call, FunctionCallOutput("c1", msgspec.json.encode(output).decode()))
    req = request("carbon", "How green was the grid yesterday?", items, ("grid_intensity",))
    events = await collect(OfflineProvider(), req)
    turn = events[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()
    assert "221 gCO2/kWh" in turn.text
    assert "SYNTHETIC" in turn.text
    (facts,) = decode_facts(turn.text)
    assert facts["findings"][0]["topic"] == "grid_history"


async def test_tool_error_is_explained_not_hidden() -> None:
    call = FunctionCall("c1", "grid_intensity", "{}")
    items = (call, FunctionCallOutput("c1", '{"error": "source unavailable"}'))
    req = request("carbon", "How green was the grid yesterday?", items, ("grid_intensity",))
    turn = (await collect(OfflineProvider(), req))[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()
    assert "source unavailable" in turn.text


async def test_unexpected_tool_output_shape_is_reported_not_guessed() -> None:
    call = FunctionCall("c1", "grid_intensity", "{}")
    items = (call, FunctionCallOutput("c1", '{"region": "ie", "values": [1, 2]}'))
    req = request("carbon", "How green was the grid yesterday?", items, ("grid_intensity",))
    turn = (await collect(OfflineProvider(), req))[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()
    assert "unexpected format: KeyError" in turn.text


async def test_missing_tool_is_said_plainly() -> None:
    req = request("carbon", "How green was the grid yesterday?")
    turn = (await collect(OfflineProvider(), req))[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()
    assert "`grid_intensity` tool is not available" in turn.text


async def test_without_hints_the_last_user_message_is_the_question() -> None:
    req = ModelRequest(
        assistant=SPEC,
        input=(UserMessage("hello"),),
        response_schema=PLAN_JSON_SCHEMA,
    )
    turn = (await collect(OfflineProvider(), req))[-1]
    assert isinstance(turn, ModelTurn)
    assert [s.kind for s in parse_plan(turn.text).steps] == ["report"]


async def test_greeting_in_a_data_step_computes_nothing() -> None:
    turn = (
        await collect(OfflineProvider(), request("carbon", "hello", tools=("grid_intensity",)))
    )[-1]
    assert isinstance(turn, ModelTurn)
    assert turn.tool_calls == ()


def test_tool_results_pair_calls_with_outputs() -> None:
    items: tuple[InputItem, ...] = (
        UserMessage("q"),
        FunctionCall("a", "t1", '{"x": 1}'),
        FunctionCall("b", "t2", "not json"),
        FunctionCallOutput("a", '{"value": 2}'),
    )
    first, second = tool_results(items)
    assert (first.name, first.arguments, first.output, first.ok) == (
        "t1",
        {"x": 1},
        {"value": 2},
        True,
    )
    assert (second.name, second.arguments, second.ok) == ("t2", {}, False)
    assert second.error == "no output was returned for this call"


def test_facts_round_trip_even_with_comment_terminators() -> None:
    facts = {"findings": [{"headline": "a --> b", "n": 1.5}]}
    block = encode_facts(facts)
    assert block.count("-->") == 1  # only the comment's own terminator
    assert decode_facts(f"text\n\n{block}") == [facts]
    assert decode_facts("<!-- offline-facts {not json} -->") == []


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_question_gets_a_valid_plan(question: str) -> None:
    decision = OfflineProvider().decide(request("planner", question))
    text = getattr(decision, "text", None)
    assert isinstance(text, str)
    parse_plan(text)


ALL_TOOLS = REGISTRY.names()


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["carbon", "analysis", "report"]))
def test_any_question_gets_a_first_move_with_valid_arguments(question: str, role: str) -> None:
    decision = OfflineProvider().decide(request(role, question, tools=ALL_TOOLS))
    if isinstance(decision, tuple):
        for call in decision:
            tool = REGISTRY.get(call.name)
            assert tool is not None
            msgspec.convert(call.arguments, type=tool.input_type)
    else:
        assert decision.text
