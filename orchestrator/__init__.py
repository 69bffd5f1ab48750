"""Sustainable City AI orchestrator: plan -> specialist steps -> report, as typed events.

Usable on its own (no web framework, no database)::

    orch = Orchestrator.from_settings(OrchestratorSettings())
    async for event in orch.stream("When is the grid cleanest tomorrow?"):
        print(event.message)
    result = await orch.ask("What is the footprint of a 50-person office?")

With an OpenTelemetry tracer provider configured, runs emit spans (``orchestrator.telemetry``;
add :func:`add_trace_context` to structlog's processors for trace ids in log lines).
"""

from __future__ import annotations

from orchestrator.assistants import (
    ASSISTANT_NAMES,
    NAME_RULE,
    RESERVED_NAMES,
    AssistantSpec,
    build_assistants,
    is_assistant_name,
)
from orchestrator.config import (
    WATTS_PER_CORE_MAX,
    AccountingConfig,
    AssistantConfig,
    AssistantsConfig,
    BudgetConfig,
    ExtraAssistantConfig,
    LLMConfig,
    ModelPrice,
    NonBlankStr,
    OrchestratorSettings,
    ToolsConfig,
)
from orchestrator.context import HistoryPair, RequestHints, RunContext
from orchestrator.error_codes import ErrorCode
from orchestrator.events import (
    TERMINAL_EVENT_TYPES,
    AgentResponse,
    AgentResponseData,
    AgentThinking,
    AgentThinkingData,
    ChartRef,
    Completed,
    CompletedData,
    DataSourceRef,
    ErrorData,
    ErrorEvent,
    Event,
    PlanStepRef,
    RunUsage,
    Started,
    StartedData,
    StepUsage,
    ToolExecution,
    ToolExecutionData,
    decode_envelope,
    decode_event,
    encode_envelope,
    encode_event,
    utc_timestamp,
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
from orchestrator.providers.base import (
    AuthenticationFailed,
    BadResponse,
    Provider,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refusal,
)
from orchestrator.providers.openai_responses import HOSTED_TOOLS
from orchestrator.providers.scripted import ScriptedProvider, ScriptExhausted
from orchestrator.questions import MAX_QUESTION_CHARS, question_problem
from orchestrator.registry import ToolRegistry, build_tool_services
from orchestrator.telemetry import (
    add_trace_context,
    current_traceparent,
    set_capture_content,
    tracing_enabled,
)
from tools.catalog_types import ToolError

__all__ = [
    "ASSISTANT_NAMES",
    "DEFAULT_PLAN",
    "ERROR_CODES",
    "HOSTED_TOOLS",
    "MAX_QUESTION_CHARS",
    "NAME_RULE",
    "PLAN_JSON_SCHEMA",
    "RESERVED_NAMES",
    "TERMINAL_EVENT_TYPES",
    "TRANSITIONS",
    "WATTS_PER_CORE_MAX",
    "AccountingConfig",
    "AgentResponse",
    "AgentResponseData",
    "AgentThinking",
    "AgentThinkingData",
    "AssistantConfig",
    "AssistantSpec",
    "AssistantsConfig",
    "AuthenticationFailed",
    "BadResponse",
    "BudgetConfig",
    "ChartRef",
    "Completed",
    "CompletedData",
    "DataSourceRef",
    "ErrorCode",
    "ErrorData",
    "ErrorEvent",
    "Event",
    "ExtraAssistantConfig",
    "HistoryPair",
    "IllegalTransition",
    "LLMConfig",
    "ModelPrice",
    "NonBlankStr",
    "Orchestrator",
    "OrchestratorSettings",
    "Plan",
    "PlanInvalid",
    "PlanStep",
    "PlanStepRef",
    "Provider",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "Refusal",
    "RequestHints",
    "RunContext",
    "RunResult",
    "RunUsage",
    "ScriptExhausted",
    "ScriptedProvider",
    "Started",
    "StartedData",
    "State",
    "StepUsage",
    "ToolError",
    "ToolExecution",
    "ToolExecutionData",
    "ToolRegistry",
    "ToolsConfig",
    "add_trace_context",
    "build_assistants",
    "build_provider",
    "build_tool_services",
    "current_traceparent",
    "decode_envelope",
    "decode_event",
    "encode_envelope",
    "encode_event",
    "is_assistant_name",
    "parse_plan",
    "plan_json_schema",
    "question_problem",
    "set_capture_content",
    "tracing_enabled",
    "utc_timestamp",
]
