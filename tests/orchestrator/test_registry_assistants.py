"""The tool registry, the built-in assistants, and the transition table."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from orchestrator import Orchestrator, ToolRegistry
from orchestrator.assistants import DEFAULT_INSTRUCTIONS, DEFAULT_TOOLS, build_assistants
from orchestrator.config import AssistantConfig, AssistantsConfig
from orchestrator.context import RunContext
from orchestrator.machine import TRANSITIONS, IllegalTransition, State, _Run
from orchestrator.providers.scripted import ScriptedProvider
from orchestrator.registry import UnknownTool, build_tool_services
from tests.support.machine import FIXED_NOW, AddInput, make_assistants, make_registry
from tools.catalog import CATALOG
from tools.catalog_types import ToolContext, ToolDefinition


def test_registry_from_catalog_holds_every_catalog_tool() -> None:
    registry = ToolRegistry.from_catalog()
    assert registry.names() == tuple(tool.name for tool in CATALOG)
    schema = registry.schemas(["grid_intensity"])[0]
    assert schema.parameters["additionalProperties"] is False


def test_every_default_assistant_tool_exists_in_the_catalog() -> None:
    registry = ToolRegistry.from_catalog()
    for name, tools in DEFAULT_TOOLS.items():
        assert all(tool in registry for tool in tools), name


def test_registry_rejects_duplicates_and_bad_names_and_allows_replace() -> None:
    registry = make_registry()

    def double(args: AddInput, ctx: ToolContext) -> int:
        return 2 * (args.a + args.b)

    replacement = ToolDefinition(name="add", description="Doubled.", input_type=AddInput, fn=double)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(replacement)
    registry.register(replacement, replace=True)
    tool = registry.get("add")
    assert tool is not None
    assert tool.description == "Doubled."
    bad = ToolDefinition(name="no spaces", description="x", input_type=AddInput, fn=double)
    with pytest.raises(ValueError, match="invalid tool name"):
        registry.register(bad)
    with pytest.raises(UnknownTool, match="unknown tool 'nope'"):
        registry.schemas(["add", "nope"])
    assert len(registry.copy()) == len(registry)


def test_build_assistants_overrides_field_by_field() -> None:
    config = AssistantsConfig(
        carbon=AssistantConfig(model="gpt-4.1", temperature=0.3, tools=("grid_intensity",)),
        report=AssistantConfig(instructions="Be brief.", max_output_tokens=500),
    )
    specs = build_assistants(config, "default-model")
    assert set(specs) == {"planner", "carbon", "analysis", "report"}
    assert specs["carbon"].model == "gpt-4.1"
    assert specs["carbon"].tools == ("grid_intensity",)
    assert specs["carbon"].temperature == 0.3
    assert specs["carbon"].instructions == DEFAULT_INSTRUCTIONS["carbon"]
    assert specs["report"].instructions == "Be brief."
    assert specs["report"].max_output_tokens == 500
    assert specs["report"].model == "default-model"
    assert specs["analysis"].tools == DEFAULT_TOOLS["analysis"]
    assert specs["planner"].tools == ()


def test_orchestrator_rejects_assistants_naming_unknown_tools() -> None:
    assistants = make_assistants()
    assistants["carbon"] = build_assistants(AssistantsConfig(), "m")["carbon"]
    with pytest.raises(ValueError, match="assistant 'carbon' names unknown tool"):
        Orchestrator(ScriptedProvider([]), assistants, tools=make_registry())


def test_transition_table_shape() -> None:
    terminal = {State.COMPLETED, State.FAILED, State.CANCELLED}
    for state in State:
        targets = TRANSITIONS[state]
        if state in terminal:
            assert targets == frozenset()
        else:
            assert {State.FAILED, State.CANCELLED} <= targets
    assert State.COMPLETED in TRANSITIONS[State.REPORTING]
    assert State.COMPLETED not in TRANSITIONS[State.RUNNING_STEP]


def test_illegal_transition_raises() -> None:
    run = _Run(
        run_id="r",
        question="q",
        context=RunContext(),
        now=FIXED_NOW,
        emit=None,
        clock=lambda: FIXED_NOW,
    )
    run.transition(State.PLANNING)
    with pytest.raises(IllegalTransition, match="planning -> completed"):
        run.transition(State.COMPLETED)


def test_from_settings_builds_the_configured_pieces() -> None:
    from orchestrator import LLMConfig, OrchestratorSettings, ToolsConfig
    from orchestrator.config import BudgetConfig
    from orchestrator.providers.offline import OfflineProvider
    from tools.grid import GRID_SOURCE_SERVICE, SyntheticGridSource

    settings = OrchestratorSettings(
        budgets=BudgetConfig(max_messages_per_run=7),
        assistants=AssistantsConfig(report=AssistantConfig(model="report-model")),
    )
    orch = Orchestrator.from_settings(settings)
    assert isinstance(orch.provider, OfflineProvider)
    assert orch.budgets.max_messages_per_run == 7
    assert orch.assistants["report"].model == "report-model"
    assert orch.assistants["carbon"].model == LLMConfig().model
    assert set(orch.tools.names()) == {tool.name for tool in CATALOG}

    chat = Orchestrator.from_settings(
        OrchestratorSettings(
            llm=LLMConfig(provider="openai_chat", base_url="http://127.0.0.1:9/v1", api_key="k")
        )
    )
    assert chat.provider.name == "openai_chat"
    services = build_tool_services(ToolsConfig())
    assert isinstance(services[GRID_SOURCE_SERVICE], SyntheticGridSource)


def test_inline_emission_factors_override_the_file_and_the_packaged_ones(tmp_path: Path) -> None:
    from orchestrator import ToolsConfig
    from tools.footprint.factors import EMISSION_FACTORS_SERVICE, EmissionFactor, FactorTable

    def electricity(value: float, source: str) -> EmissionFactor:
        return EmissionFactor(
            category="electricity",
            region="ie",
            unit="kWh",
            kgco2e_per_unit=value,
            year=2025,
            scope=2,
            ghg_category="Scope 2: purchased electricity (location-based)",
            source=source,
        )

    file = tmp_path / "factors.json"
    file.write_text(msgspec.json.encode({"factors": [electricity(0.3, "file")]}).decode())
    config = ToolsConfig(
        emission_factors_file=str(file), emission_factors=(electricity(0.25, "inline"),)
    )
    table = build_tool_services(config)[EMISSION_FACTORS_SERVICE]
    assert isinstance(table, FactorTable)
    factor, _ = table.lookup("electricity", "kWh", "ie")
    assert (factor.kgco2e_per_unit, factor.source) == (0.25, "inline")
    assert "configuration" in table.origin


def test_tool_services_fail_fast_on_bad_configuration(tmp_path: Path) -> None:
    from orchestrator import ToolsConfig
    from tools.catalog_types import ToolError

    with pytest.raises(ValueError, match=r"needs tools\.grid_file"):
        build_tool_services(ToolsConfig(grid_source="file"))
    with pytest.raises(ToolError, match="cannot read emission factors file"):
        build_tool_services(ToolsConfig(emission_factors_file=str(tmp_path / "none.toml")))
