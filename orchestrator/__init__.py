"""Sustainable City AI orchestrator: plan -> specialist steps -> report, as typed events.

Usable on its own (no web framework, no database)::

    orch = Orchestrator.from_settings(OrchestratorSettings())
    async for event in orch.stream("When is the grid cleanest tomorrow?"):
        print(event.message)
    result = await orch.ask("What is the footprint of a 50-person office?")
"""

from __future__ import annotations

from orchestrator.assistants import AssistantSpec, build_assistants
from orchestrator.config import (
    AccountingConfig,
    AssistantConfig,
    AssistantsConfig,
    BudgetConfig,
    LLMConfig,
    ModelPrice,
    OrchestratorSettings,
    ToolsConfig,
)
from orchestrator.context import HistoryPair, RequestHints, RunContext
from orchestrator.events import (
    AgentResponse,
    AgentThinking,
    ChartRef,
    Completed,
    DataSourceRef,
    ErrorEvent,
    Event,
    RunUsage,
    Started,
    StepUsage,
    ToolExecution,
    decode_envelope,
    decode_event,
    encode_envelope,
    encode_event,
)
from orchestrator.machine import (
    ERROR_CODES,
    TRANSITIONS,
    IllegalTransition,
    Orchestrator,
    RunResult,
    State,
)
from orchestrator.plan import (
    DEFAULT_PLAN,
    PLAN_JSON_SCHEMA,
    Plan,
    PlanInvalid,
    PlanStep,
    parse_plan,
    plan_json_schema,
)
from orchestrator.providers import build_provider
from orchestrator.providers.base import Provider, ProviderError
from orchestrator.registry import ToolRegistry

__all__ = [
    "DEFAULT_PLAN",
    "ERROR_CODES",
    "PLAN_JSON_SCHEMA",
    "TRANSITIONS",
    "AccountingConfig",
    "AgentResponse",
    "AgentThinking",
    "AssistantConfig",
    "AssistantSpec",
    "AssistantsConfig",
    "BudgetConfig",
    "ChartRef",
    "Completed",
    "DataSourceRef",
    "ErrorEvent",
    "Event",
    "HistoryPair",
    "IllegalTransition",
    "LLMConfig",
    "ModelPrice",
    "Orchestrator",
    "OrchestratorSettings",
    "Plan",
    "PlanInvalid",
    "PlanStep",
    "Provider",
    "ProviderError",
    "RequestHints",
    "RunContext",
    "RunResult",
    "RunUsage",
    "Started",
    "State",
    "StepUsage",
    "ToolExecution",
    "ToolRegistry",
    "ToolsConfig",
    "build_assistants",
    "build_provider",
    "decode_envelope",
    "decode_event",
    "encode_envelope",
    "encode_event",
    "parse_plan",
    "plan_json_schema",
]
