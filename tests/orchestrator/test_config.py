"""The orchestrator's config structs carry their own limits: an embedder decoding them is checked.

A program that embeds the library builds its configuration with ``msgspec.convert`` (from its
own TOML, JSON or dict) or ``msgspec.json.decode``; a value outside a field's limits must be
refused there, with the field named, instead of surfacing as a hung or failing run later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from orchestrator import (
    AccountingConfig,
    AssistantConfig,
    BudgetConfig,
    ExtraAssistantConfig,
    LLMConfig,
    ModelPrice,
    OrchestratorSettings,
    ToolsConfig,
)
from orchestrator.cli import ConfigFileError, load_config

EXTRA = {"description": "water use", "instructions": "You are the water assistant."}


@pytest.mark.parametrize(
    ("struct", "data", "where", "limit"),
    [
        (BudgetConfig, {"max_messages_per_run": 0}, "$.max_messages_per_run", ">= 1"),
        (BudgetConfig, {"step_timeout_s": 0}, "$.step_timeout_s", "> 0"),
        (BudgetConfig, {"retry_backoff_s": -0.5}, "$.retry_backoff_s", ">= 0"),
        (LLMConfig, {"read_timeout_s": 0.0}, "$.read_timeout_s", "> 0"),
        (LLMConfig, {"max_retries": -1}, "$.max_retries", ">= 0"),
        (LLMConfig, {"model": "  "}, "$.model", "matching regex"),
        (AccountingConfig, {"watts_per_core": 501}, "$.watts_per_core", "<= 500"),
        (
            AccountingConfig,
            {"prices": {"gpt-x": {"input": -1, "output": 1}}},
            "$.prices[...].input",
            ">= 0",
        ),
        (ModelPrice, {"input": 1, "output": -0.1}, "$.output", ">= 0"),
        (AssistantConfig, {"temperature": 2.5}, "$.temperature", "<= 2.0"),
        (AssistantConfig, {"max_output_tokens": 0}, "$.max_output_tokens", ">= 1"),
        (ExtraAssistantConfig, {**EXTRA, "temperature": -1}, "$.temperature", ">= 0.0"),
        (ExtraAssistantConfig, {**EXTRA, "description": ""}, "$.description", "matching regex"),
        (ToolsConfig, {"http_timeout_s": 0}, "$.http_timeout_s", "> 0"),
        (ToolsConfig, {"render_processes": -1}, "$.render_processes", ">= 0"),
        (
            OrchestratorSettings,
            {"budgets": {"max_tool_rounds_per_step": 0}},
            "$.budgets.max_tool_rounds_per_step",
            ">= 1",
        ),
    ],
)
def test_convert_refuses_a_value_outside_the_fields_limits(
    struct: type[msgspec.Struct], data: dict[str, Any], where: str, limit: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert(data, struct)
    assert limit in str(info.value)
    assert str(info.value).endswith(f"- at `{where}`")
    # Decoding JSON applies the same limits.
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(data), type=struct)


def test_values_on_the_limits_are_accepted() -> None:
    budgets = msgspec.convert(
        {"max_messages_per_run": 1, "planner_retries": 0, "retry_backoff_s": 0}, BudgetConfig
    )
    assert (budgets.max_messages_per_run, budgets.planner_retries) == (1, 0)
    assert msgspec.convert({"watts_per_core": 500}, AccountingConfig).watts_per_core == 500.0
    assistant = msgspec.convert({"temperature": 2, "max_output_tokens": None}, AssistantConfig)
    assert (assistant.temperature, assistant.max_output_tokens) == (2.0, None)
    assert msgspec.convert({"model": " m "}, LLMConfig).model == " m "
    assert msgspec.convert({"render_processes": 0}, ToolsConfig).render_processes == 0


def test_the_defaults_are_within_the_limits() -> None:
    settings = OrchestratorSettings()
    assert msgspec.convert(msgspec.to_builtins(settings), OrchestratorSettings) == settings


def test_the_cli_refuses_a_config_file_outside_the_limits(tmp_path: Path) -> None:
    """``python -m orchestrator ask --config`` decodes the same structs, so the same limits."""
    config = tmp_path / "config.toml"
    config.write_text("[orchestrator]\nstep_timeout_s = 0\n")
    with pytest.raises(ConfigFileError, match=r"> 0.* at `\$\.orchestrator\.step_timeout_s`"):
        load_config(config, {})
    config.write_text("[orchestrator]\nstep_timeout_s = 0.5\n")
    assert load_config(config, {}).budgets.step_timeout_s == 0.5
