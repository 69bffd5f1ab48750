"""Embedders add an assistant (a new step kind) with its own tool, without editing the package.

The planner is offered the added kind (schema enum and described in its input), plans it, and
the machine runs it like a built-in step; the default orchestrator is unchanged byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

import orchestrator.providers
from orchestrator import (
    PLAN_JSON_SCHEMA,
    AssistantSpec,
    Orchestrator,
    OrchestratorSettings,
    ToolRegistry,
    build_assistants,
    parse_plan,
    plan_json_schema,
)
from orchestrator.config import AssistantsConfig, BudgetConfig, ExtraAssistantConfig, LLMConfig
from orchestrator.events import (
    AgentResponse,
    AgentThinking,
    Completed,
    ErrorEvent,
    ToolExecution,
    decode_envelope,
    encode_envelope,
)
from orchestrator.plan import PlanInvalid, PlanStep
from orchestrator.providers.base import ModelRequest, UserMessage
from orchestrator.providers.scripted import Reply, ScriptedProvider, plan_reply, tool_call
from tests.support.machine import (
    FIXED_NOW,
    check_invariants,
    make_assistants,
    make_registry,
    tokens,
)
from tools.catalog_types import DataSource, ToolContext, ToolDefinition

# PLAN_JSON_SCHEMA as it was before step kinds became open: the wire contract with models.
# Today's wire schema: issue 15 added the step count bounds (minItems/maxItems).
PLAN_SCHEMA_BEFORE = (
    '{"type":"object","properties":{"steps":{"type":"array","description":"1 to 3 steps in '
    'execution order, no kind twice; \'report\' is always the last step.","minItems":1,'
    '"maxItems":3,"items":{"type":'
    '"object","properties":{"kind":{"type":"string","enum":["carbon","analysis","report"]},'
    '"task":{"type":"string","description":"One sentence: what this step must find out or '
    'write."}},"required":["kind","task"],"additionalProperties":false}},"notes":{"anyOf":'
    '[{"type":"string"},{"type":"null"}],"description":"Optional short reasoning about the '
    'plan, or null."}},"required":["steps","notes"],"additionalProperties":false}'
)

WATER_DESCRIPTION = "water use of sites: metered litres per day, leaks, savings"


class WaterInput(msgspec.Struct, frozen=True):
    site: str


class WaterUse(msgspec.Struct, frozen=True):
    site: str
    litres_per_day: float

    def summary(self) -> str:
        return f"{self.site}: {self.litres_per_day:g} L/day"

    def data_sources(self) -> Sequence[DataSource]:
        return [DataSource(name="Water meters", kind="meter", synthetic=False)]


def read_water_meter(args: WaterInput, ctx: ToolContext) -> WaterUse:
    return WaterUse(site=args.site, litres_per_day=1250.0)


def water_tools() -> ToolRegistry:
    tools = ToolRegistry.from_catalog()
    tools.register(
        ToolDefinition(
            name="water_meter",
            description="Today's metered water use of a site, in litres.",
            input_type=WaterInput,
            fn=read_water_meter,
        )
    )
    return tools


WATER = AssistantSpec(
    name="water",
    model="water-model",
    instructions="You are the water specialist. Read the meters; report litres per day.",
    tools=("water_meter",),
    description=WATER_DESCRIPTION,
)


def water_orchestrator(
    script: dict[str, list[Reply]],
) -> tuple[Orchestrator, ScriptedProvider]:
    provider = ScriptedProvider(script)
    orch = Orchestrator(
        provider,
        {"water": WATER},
        tools=water_tools(),
        clock=lambda: FIXED_NOW,
        budgets=BudgetConfig(grounding_checks=False),  # scripted text; see test_grounding.py
    )
    return orch, provider


def _planner_text(request: ModelRequest) -> str:
    first = request.input[0]
    assert isinstance(first, UserMessage)
    return first.text


async def test_an_added_assistant_is_planned_and_runs_with_its_own_tool() -> None:
    orch, provider = water_orchestrator(
        {
            "planner": [
                plan_reply(("water", "Read the Cork site's meter."), ("report", "Write it up."))
            ],
            "water": [
                Reply(tool_calls=(tool_call("water_meter", {"site": "Cork"}, "w1"),)),
                Reply(text="Cork uses 1250 L/day."),
            ],
            "report": [Reply(text="# Report\nCork uses 1250 L/day.")],
        }
    )
    assert orch.step_kinds == ("carbon", "analysis", "report", "water")
    result = await orch.ask("How much water does the Cork site use?")

    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:water",
        "tool:water_meter:started",
        "tool:water_meter:finished",
        "response:water",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events, added_agents=["water"])
    assert provider.remaining == 0
    assert result.status == "completed"
    assert result.report == "# Report\nCork uses 1250 L/day."
    assert result.plan is not None
    assert result.plan.steps[0] == PlanStep("water", "Read the Cork site's meter.")

    # The planner was offered the added kind: in its schema and described in its input.
    planner = provider.requests[0]
    assert planner.response_schema == plan_json_schema(orch.step_kinds, orch.step_tools)
    steps_schema = planner.response_schema["properties"]["steps"]
    variants = steps_schema["items"]["anyOf"]
    assert [v["properties"]["kind"]["enum"] for v in variants] == [
        ["carbon"],
        ["analysis"],
        ["report"],
        ["water"],
    ]
    # Each kind's variant offers that kind's tools, by name, as an enum.
    assert variants[3]["properties"]["tools"]["items"]["enum"] == ["water_meter"]
    planner_input = _planner_text(planner)
    assert f"- water: {WATER_DESCRIPTION}" in planner_input
    assert "- carbon: grid carbon intensity" in planner_input
    assert "- report: writes the final answer" in planner_input
    assert "(1 to 4 steps, each kind at most once, 'report' always the last step)" in (
        planner_input
    )

    # The water step ran its own assistant with its own tool.
    water_requests = [r for r in provider.requests if r.hints["role"] == "water"]
    assert len(water_requests) == 2
    # Its own assistant, with the [budgets] step output cap since it sets none.
    cap = BudgetConfig().step_max_output_tokens
    assert water_requests[0].assistant == msgspec.structs.replace(WATER, max_output_tokens=cap)
    assert [tool.name for tool in water_requests[0].tools] == ["water_meter"]
    assert water_requests[0].hints["plan"] == [
        {"kind": "water", "task": "Read the Cork site's meter."},
        {"kind": "report", "task": "Write it up."},
    ]
    report_request = next(r for r in provider.requests if r.hints["role"] == "report")
    assert "Findings of the water step:\nCork uses 1250 L/day." in _planner_text(report_request)

    # Events name the kind in the plan, the steps and the tool calls; progress is shared.
    thinking = result.events[3]
    assert isinstance(thinking, AgentThinking)
    assert thinking.agent_name == "water"
    assert thinking.message == "Water assistant: Read the Cork site's meter."
    assert (thinking.data.step, thinking.data.step_index, thinking.data.state) == (
        "water",
        0,
        "running_step",
    )
    assert thinking.data.plan is not None
    assert [ref.kind for ref in thinking.data.plan] == ["water", "report"]
    assert thinking.data.progress == 10
    finished = result.events[5]
    assert isinstance(finished, ToolExecution)
    assert (finished.data.step, finished.data.status) == ("water", "finished")
    assert finished.data.result_summary == "Cork: 1250 L/day"
    assert finished.message.startswith("Water assistant: water_meter finished")
    response = result.events[6]
    assert isinstance(response, AgentResponse)
    assert (response.data.step, response.data.output) == ("water", "Cork uses 1250 L/day.")
    assert response.data.progress == 52
    completed = result.events[-1]
    assert isinstance(completed, Completed)
    assert [(ref.kind, ref.task) for ref in completed.data.plan] == [
        ("water", "Read the Cork site's meter."),
        ("report", "Write it up."),
    ]
    assert [source.name for source in completed.data.sources] == ["Water meters"]
    # The wire form carries the added kind as a plain string, and reads back.
    wire = encode_envelope(completed)
    assert b'"plan":[{"kind":"water","task":"Read the Cork site\'s meter."}' in wire
    assert decode_envelope(wire) == completed


async def test_a_plan_naming_an_unknown_kind_is_rejected_listing_the_allowed_kinds() -> None:
    solar = plan_reply(("solar", "Size the panels."), ("report", "Write it up."))
    orch, provider = water_orchestrator({"planner": [solar, solar]})
    result = await orch.ask("Should we install solar panels?")

    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "thinking:planner",
        "error:planner_invalid",
    ]
    check_invariants(result.events)
    allowed = "unknown step kind(s): 'solar'; allowed: carbon, analysis, report, water"
    feedback = provider.requests[1].input[-1]
    assert isinstance(feedback, UserMessage)
    assert feedback.text.startswith(f"That plan is invalid: {allowed}.")
    error = result.events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.data.error == f"the planner's output was invalid: {allowed}"


async def test_the_default_orchestrator_sends_todays_schema_and_prompt() -> None:
    provider = ScriptedProvider(
        {"planner": [plan_reply(("report", "Answer."))], "report": [Reply(text="Hi.")]}
    )
    orch = Orchestrator(provider, clock=lambda: FIXED_NOW)
    assert orch.step_kinds == ("carbon", "analysis", "report")
    assert msgspec.json.encode(PLAN_JSON_SCHEMA).decode() == PLAN_SCHEMA_BEFORE
    assert msgspec.json.encode(plan_json_schema()).decode() == PLAN_SCHEMA_BEFORE
    # The orchestrator sends the schema with each kind's tools (the plan names a step's tools).
    lean = plan_json_schema(orch.step_kinds, orch.step_tools)
    assert orch.plan_schema == lean

    result = await orch.ask("Hello!")
    assert result.status == "completed"
    planner = provider.requests[0]
    assert planner.response_schema == lean
    assert "Step kinds you may plan" not in _planner_text(planner)
    assert _planner_text(planner).splitlines()[0] == "Question: Hello!"


def test_overriding_built_in_assistants_adds_no_kind_and_keeps_the_prompt() -> None:
    orch = Orchestrator(ScriptedProvider([]), make_assistants(), tools=make_registry())
    assert orch.step_kinds == ("carbon", "analysis", "report")
    assert orch.plan_schema == plan_json_schema(orch.step_kinds, orch.step_tools)


def test_parse_plan_takes_the_allowed_kinds() -> None:
    kinds = ("carbon", "analysis", "report", "water")
    four = msgspec.json.encode(
        {
            "steps": [{"kind": kind, "task": f"Do {kind}."} for kind in kinds[:2] + kinds[3:]]
            + [{"kind": "report", "task": "Write."}],
            "notes": None,
        }
    ).decode()
    assert [step.kind for step in parse_plan(four, kinds).steps] == [
        "carbon",
        "analysis",
        "water",
        "report",
    ]
    with pytest.raises(PlanInvalid, match=r"unknown step kind\(s\): 'water'; allowed: carbon, "):
        parse_plan(four)
    five = msgspec.json.encode(
        {
            "steps": [{"kind": kind, "task": "x"} for kind in ("water", *kinds)],
            "notes": None,
        }
    ).decode()
    with pytest.raises(PlanInvalid, match="the plan has 5 steps; at most 4 allowed"):
        parse_plan(five, kinds)


def _spec(name: str, *, description: str = "Does things.") -> AssistantSpec:
    return AssistantSpec(name=name, model="m", instructions="i", description=description)


@pytest.mark.parametrize(
    ("assistants", "message"),
    [
        ({"": _spec("")}, "an assistant name is empty"),
        ({" ": _spec(" ")}, "an assistant name is empty"),
        ({"Planner": _spec("Planner")}, "'Planner' duplicates 'planner'"),
        ({"REPORT": _spec("REPORT")}, "'REPORT' duplicates 'report'"),
        ({"water use": _spec("water use")}, "invalid assistant name 'water use'"),
        ({"water-use": _spec("water-use")}, "invalid assistant name 'water-use'"),
        ({"2water": _spec("2water")}, "invalid assistant name '2water'"),
        ({"wäter": _spec("wäter")}, "invalid assistant name 'wäter'"),
        ({"system": _spec("system")}, "'system' is reserved"),
        ({"water": _spec("carbon")}, "registered as 'water' is named 'carbon'"),
        ({"water": _spec("water", description=" ")}, "assistant 'water' needs a description"),
    ],
)
def test_bad_assistant_configuration_fails_at_construction(
    assistants: dict[str, AssistantSpec], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Orchestrator(ScriptedProvider([]), assistants, tools=water_tools())


def test_an_added_assistant_naming_an_unknown_tool_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="assistant 'water' names unknown tool"):
        Orchestrator(ScriptedProvider([]), {"water": WATER})


def test_from_settings_accepts_added_assistants_and_tools() -> None:
    orch = Orchestrator.from_settings(
        OrchestratorSettings(), assistants={"water": WATER}, tools=water_tools()
    )
    assert orch.step_kinds == ("carbon", "analysis", "report", "water")
    # The embedder's spec, with the [budgets] output cap of a step since it sets none.
    cap = BudgetConfig().step_max_output_tokens
    assert orch.assistants["water"] == msgspec.structs.replace(WATER, max_output_tokens=cap)
    assert orch.assistants["carbon"].description.startswith("grid carbon intensity")


# --- [assistants.extra.<name>]: the same, declared in configuration ---------------------------

CONFIGURED_WATER = ExtraAssistantConfig(
    description=WATER_DESCRIPTION,
    instructions="You are the water assistant. Analyse the meter readings you are given.",
    tools=("analyze_table", "render_chart"),
    temperature=0.2,
)


def test_build_assistants_adds_the_extra_assistants_after_the_built_in_ones() -> None:
    config = AssistantsConfig(
        extra={
            "water": CONFIGURED_WATER,
            "waste": ExtraAssistantConfig(
                description="waste streams", instructions="Waste.", model="waste-model"
            ),
        }
    )
    specs = build_assistants(config, "default-model")
    assert list(specs) == ["planner", "carbon", "analysis", "report", "water", "waste"]
    assert specs["water"] == AssistantSpec(
        name="water",
        model="default-model",
        instructions=CONFIGURED_WATER.instructions,
        tools=("analyze_table", "render_chart"),
        temperature=0.2,
        description=WATER_DESCRIPTION,
    )
    assert (specs["waste"].model, specs["waste"].tools) == ("waste-model", ())


def test_an_extra_assistant_may_not_take_a_built_in_name() -> None:
    config = AssistantsConfig(extra={"carbon": CONFIGURED_WATER})
    with pytest.raises(ValueError, match=r"configure the built-in one in \[assistants.carbon\]"):
        build_assistants(config, "m")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Water", "invalid assistant name 'Water'"),
        ("water-use", "invalid assistant name 'water-use'"),
        ("system", "'system' is reserved"),
        ("", "an assistant name is empty"),
    ],
)
def test_a_badly_named_extra_assistant_fails_from_settings(name: str, message: str) -> None:
    settings = OrchestratorSettings(assistants=AssistantsConfig(extra={name: CONFIGURED_WATER}))
    with pytest.raises(ValueError, match=message):
        Orchestrator.from_settings(settings)


def test_an_extra_assistant_without_a_description_fails_from_settings() -> None:
    blank = msgspec.structs.replace(CONFIGURED_WATER, description=" ")
    settings = OrchestratorSettings(assistants=AssistantsConfig(extra={"water": blank}))
    with pytest.raises(ValueError, match="assistant 'water' needs a description"):
        Orchestrator.from_settings(settings)


async def test_a_configured_assistant_is_planned_and_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = ScriptedProvider(
        {
            "planner": [plan_reply(("water", "Analyse the meters."), ("report", "Write it up."))],
            "water": [
                Reply(
                    tool_calls=(
                        tool_call(
                            "analyze_table",
                            {"series": [{"value": 1200.0}, {"value": 1300.0}]},
                            "a1",
                        ),
                    )
                ),
                Reply(text="The sites use 1250 L/day on average."),
            ],
            "report": [Reply(text="# Report\n1250 L/day.")],
        }
    )
    monkeypatch.setattr(orchestrator.providers, "build_provider", lambda *_: provider)
    settings = OrchestratorSettings(
        llm=LLMConfig(model="base-model"),
        assistants=AssistantsConfig(extra={"water": CONFIGURED_WATER}),
    )
    orch = Orchestrator.from_settings(settings)
    assert orch.provider is provider
    assert orch.step_kinds == ("carbon", "analysis", "report", "water")
    assert orch.plan_schema == plan_json_schema(orch.step_kinds, orch.step_tools)

    result = await orch.ask("How much water do our sites use?")
    assert tokens(result.events) == [
        "started",
        "thinking:planner",
        "response:planner",
        "thinking:water",
        "tool:analyze_table:started",
        "tool:analyze_table:finished",
        "response:water",
        "thinking:report",
        "response:report",
        "completed",
    ]
    check_invariants(result.events, added_agents=["water"])
    assert result.status == "completed"
    assert provider.remaining == 0
    assert result.plan is not None
    assert [step.kind for step in result.plan.steps] == ["water", "report"]

    # The planner's request offered the configured kind, in the schema enum and described.
    planner = provider.requests[0]
    assert planner.response_schema is not None
    variants = planner.response_schema["properties"]["steps"]["items"]["anyOf"]
    kinds = [v["properties"]["kind"]["enum"][0] for v in variants]
    assert kinds == ["carbon", "analysis", "report", "water"]
    assert f"- water: {WATER_DESCRIPTION}" in _planner_text(planner)
    # The water step ran the configured assistant: its model, instructions and tools.
    water = next(r for r in provider.requests if r.hints["role"] == "water")
    assert water.assistant.model == "base-model"
    assert water.assistant.instructions == CONFIGURED_WATER.instructions
    assert water.assistant.temperature == 0.2
    assert [tool.name for tool in water.tools] == ["analyze_table", "render_chart"]
