"""Orchestrator configuration: typed, frozen, with production defaults.

The service (``app.settings``) embeds these structs in its own settings, decoded from
``config.toml`` plus environment overrides; embedders may construct them directly.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tools.footprint.factors import EmissionFactor

__all__ = [
    "WATTS_PER_CORE_MAX",
    "AccountingConfig",
    "AssistantConfig",
    "AssistantsConfig",
    "BudgetConfig",
    "ExtraAssistantConfig",
    "LLMConfig",
    "ModelPrice",
    "OrchestratorSettings",
    "ToolsConfig",
]

ProviderName = Literal["offline", "openai", "openai_chat"]
# Whether the model is a reasoning model (no temperature; encrypted reasoning replayed).
ReasoningMode = Literal["auto", "always", "never"]


class LLMConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which backend runs the assistants and how to reach it."""

    provider: ProviderName = "offline"
    model: str = "gpt-4.1-mini"
    base_url: str | None = None
    # Secret: comes from OPENAI_API_KEY (never from config.toml in production). Never logged.
    api_key: str | None = None
    organization: str | None = None
    project: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    max_retries: int = 2
    use_previous_response_id: bool = False
    stream_delta_interval_ms: int = 100
    # "auto" decides by OpenAI's model names; "always"/"never" for names it cannot know
    # (Azure deployments, LiteLLM aliases, local models).
    reasoning: ReasoningMode = "auto"
    # Azure OpenAI (openai_chat provider): deployment name and api-version.
    azure_deployment: str | None = None
    azure_api_version: str | None = None


class BudgetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits that guarantee every run ends: exceeding one ends the run with an error event."""

    max_messages_per_run: int = 40
    max_tool_rounds_per_step: int = 6
    step_timeout_s: float = 120.0
    run_timeout_s: float = 600.0
    planner_retries: int = 1
    default_plan_on_invalid: bool = False
    tool_error_retries: int = 2
    provider_retries: int = 3
    retry_backoff_s: float = 0.5
    max_history_pairs: int = 5


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """USD per one million tokens."""

    input: float
    cached_input: float = 0.0
    output: float


# Bounds of [accounting] watts_per_core: a busy core of any real machine draws well under this.
WATTS_PER_CORE_MAX = 500.0


class AccountingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cost and footprint estimates of the run's own compute (LLM use, or the offline engine's
    CPU time)."""

    wh_per_1k_tokens: float = 0.3
    grid_intensity_g_per_kwh: float = 300.0
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    # Power of one busy CPU core (W), for the energy estimate of offline runs (CPU seconds x
    # this). 10 W is a server package's power divided by its cores, roughly; 0 turns it off.
    watts_per_core: Annotated[float, msgspec.Meta(ge=0.0, le=WATTS_PER_CORE_MAX)] = 10.0


class AssistantConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-assistant overrides; unset fields fall back to built-in defaults / ``llm.model``."""

    model: str | None = None
    instructions: str | None = None
    temperature: float = 0.0
    max_output_tokens: int | None = None
    tools: tuple[str, ...] | None = None
    hosted_tools: tuple[str, ...] = ()


class ExtraAssistantConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An assistant added in configuration: a new step kind the planner may plan.

    Unlike a built-in assistant it has no defaults to fall back to, so ``description`` (what
    the planner chooses the step by) and ``instructions`` are required; ``tools`` name catalog
    tools (none by default). ``model`` defaults to ``llm.model``.
    """

    description: str
    instructions: str
    model: str | None = None
    temperature: float = 0.0
    max_output_tokens: int | None = None
    tools: tuple[str, ...] = ()
    hosted_tools: tuple[str, ...] = ()


class AssistantsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The built-in assistants' overrides, and ``extra`` assistants by name (the step kind)."""

    planner: AssistantConfig = AssistantConfig()
    carbon: AssistantConfig = AssistantConfig()
    analysis: AssistantConfig = AssistantConfig()
    report: AssistantConfig = AssistantConfig()
    # [assistants.extra.<name>]: added after the built-in kinds, in this order.
    extra: dict[str, ExtraAssistantConfig] = msgspec.field(default_factory=dict)


class ToolsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Domain tool settings (grid data source, emission factor overrides, chart rendering)."""

    grid_source: Literal["synthetic", "eirgrid", "uk", "file"] = "synthetic"
    grid_file: str | None = None
    eirgrid_base_url: str = "https://www.smartgriddashboard.com"
    uk_base_url: str = "https://api.carbonintensity.org.uk"
    http_timeout_s: float = 10.0
    http_retries: int = 2
    cache_ttl_s: float = 900.0
    emission_factors_file: str | None = None
    # Factors added or overriding the packaged ones (and the file's), same fields as the file.
    emission_factors: tuple[EmissionFactor, ...] = ()
    # Chart rendering worker processes (spawned on the first chart; matplotlib never runs on
    # the event loop's process). 0 draws charts in a thread of this process instead.
    render_processes: Annotated[int, msgspec.Meta(ge=0)] = 1


class OrchestratorSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :meth:`orchestrator.Orchestrator.from_settings` reads."""

    llm: LLMConfig = LLMConfig()
    budgets: BudgetConfig = BudgetConfig()
    accounting: AccountingConfig = AccountingConfig()
    assistants: AssistantsConfig = AssistantsConfig()
    tools: ToolsConfig = ToolsConfig()
