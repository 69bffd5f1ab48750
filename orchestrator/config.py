"""Orchestrator configuration: typed, frozen, with production defaults.

The service (``app.settings``) embeds these structs in its own settings, decoded from
``config.toml`` plus environment overrides; embedders may construct them directly.

Every limit sits on its field as ``Annotated[..., msgspec.Meta(...)]``, the one place it is
stated: ``msgspec.convert``/``msgspec.json.decode`` of these structs refuse a value outside it
(an embedder's config gets the same checks as the service's), and the service's start-up
messages (``orchestrator.step_timeout_s: expected number > 0, got 0``) are worded from it.
A non-blank string is a ``NonBlankStr``. Calling a struct's constructor directly checks no
constraint (msgspec validates on decode only), so build untrusted values with ``convert``.
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
    "NonBlankStr",
    "OrchestratorSettings",
    "ToolsConfig",
]

# A string with at least one character that is not whitespace (msgspec searches the pattern).
NonBlankStr = Annotated[str, msgspec.Meta(pattern=r"\S", description="non-empty string")]

ProviderName = Literal["offline", "openai", "openai_chat"]
# Whether the model is a reasoning model (no temperature; encrypted reasoning replayed).
ReasoningMode = Literal["auto", "always", "never"]


class LLMConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which backend runs the assistants and how to reach it."""

    provider: ProviderName = "offline"
    model: NonBlankStr = "gpt-4.1-mini"
    """Default model of every assistant; an empty name would only fail at the first call."""
    base_url: str | None = None
    # Secret: comes from OPENAI_API_KEY (never from config.toml in production). Never logged.
    api_key: str | None = None
    organization: str | None = None
    project: str | None = None
    connect_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """Seconds to connect to the LLM API; 0 would fail every call."""
    read_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """Seconds to wait for data from the LLM API; 0 would fail every call."""
    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    """SDK-level retries of non-model requests (model calls are retried by the machine)."""
    use_previous_response_id: bool = False
    stream_delta_interval_ms: Annotated[int, msgspec.Meta(ge=0)] = 100
    """Minimum milliseconds between streamed partial-text events; 0 sends every delta."""
    # "auto" decides by OpenAI's model names; "always"/"never" for names it cannot know
    # (Azure deployments, LiteLLM aliases, local models).
    reasoning: ReasoningMode = "auto"
    # Azure OpenAI (openai_chat provider): deployment name and api-version.
    azure_deployment: str | None = None
    azure_api_version: str | None = None
    prompt_cache_key: Annotated[str, msgspec.Meta(max_length=32)] = "sca"
    """Prefix of the Responses API ``prompt_cache_key`` (one key per assistant and tool set,
    so calls that share a prompt prefix share a cache); empty: no key is sent."""


class BudgetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits that guarantee every run ends: exceeding one ends the run with an error event."""

    max_messages_per_run: Annotated[int, msgspec.Meta(ge=1)] = 40
    """Model messages per run; a run needs at least the planner's."""
    max_tool_rounds_per_step: Annotated[int, msgspec.Meta(ge=1)] = 6
    """Tool-call rounds one step may take."""
    step_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    """Seconds one step may take."""
    run_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    """Seconds the whole run may take."""
    planner_retries: Annotated[int, msgspec.Meta(ge=0)] = 1
    """Retries of an invalid planner answer; 0 fails (or falls back) at the first."""
    default_plan_on_invalid: bool = False
    tool_error_retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Times a failing tool call is reported back to the model before the step fails."""
    provider_retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    """Retries of a retryable provider error (rate limit, 5xx, timeout) per call."""
    retry_backoff_s: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    """First backoff delay in seconds, doubled at each retry; 0 retries at once."""
    max_history_pairs: Annotated[int, msgspec.Meta(ge=0)] = 5
    """Earlier question/answer pairs of the conversation given to the planner."""
    max_run_tokens: Annotated[int, msgspec.Meta(ge=0)] = 200_000
    """Model tokens (input + output) one run may use; 0 for no limit."""
    offer_tools_after_use: bool = False
    """Keep offering a step the tools the plan named for it after each was called
    successfully; false answers the step's next call without tool schemas."""
    planner_max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] = 600
    """Output token cap of a planner answer (a plan is ~100-300 tokens) unless
    ``[assistants.planner] max_output_tokens`` says otherwise; a cut-off plan is retried."""
    step_max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] = 2000
    """Output token cap of a step's answer (carbon, analysis, added assistants) unless the
    assistant sets its own; a cut-off answer is retried once, asking for a shorter one."""
    report_max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] = 4000
    """Output token cap of the report step's answer unless ``[assistants.report]`` sets one."""
    grounding_checks: bool = True
    """Check language-model answers before a run counts as a success (data step planned, tools
    called, report figures found in tool results, no echoed prompt); see docs/models.md."""


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """USD per one million tokens."""

    input: Annotated[float, msgspec.Meta(ge=0)]
    """Price of uncached input tokens; a price is never negative."""
    cached_input: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Price of cached input tokens."""
    output: Annotated[float, msgspec.Meta(ge=0)]
    """Price of output tokens."""


# Bounds of [accounting] watts_per_core: a busy core of any real machine draws well under this.
WATTS_PER_CORE_MAX = 500.0


class AccountingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cost and footprint estimates of the run's own compute (LLM use, or the offline engine's
    CPU time)."""

    wh_per_1k_tokens: Annotated[float, msgspec.Meta(ge=0)] = 0.3
    """Estimated energy per 1,000 LLM tokens (Wh); 0 turns the token estimate off."""
    grid_intensity_g_per_kwh: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """Grid intensity of the energy estimates (gCO2e/kWh)."""
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    watts_per_core: Annotated[float, msgspec.Meta(ge=0.0, le=WATTS_PER_CORE_MAX)] = 10.0
    """Power of one busy CPU core (W), for the energy estimate of offline runs (CPU seconds x
    this). 10 W is a server package's power divided by its cores, roughly; 0 turns it off."""


class AssistantConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-assistant overrides; unset fields fall back to built-in defaults / ``llm.model``."""

    model: str | None = None
    instructions: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.0
    """Sampling temperature, in the range every supported API accepts."""
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Cap on the tokens of one answer; unset uses the ``[budgets]`` default of its role."""
    tools: tuple[str, ...] | None = None
    hosted_tools: tuple[str, ...] = ()


class ExtraAssistantConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An assistant added in configuration: a new step kind the planner may plan.

    Unlike a built-in assistant it has no defaults to fall back to, so ``description`` (what
    the planner chooses the step by) and ``instructions`` are required; ``tools`` name catalog
    tools (none by default). ``model`` defaults to ``llm.model``.
    """

    description: NonBlankStr
    """What the step is for: the planner chooses the step by it."""
    instructions: NonBlankStr
    """The assistant's system instructions."""
    model: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.0
    """Sampling temperature, in the range every supported API accepts."""
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Cap on the tokens of one answer; unset uses ``[budgets] step_max_output_tokens``."""
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
    http_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """HTTP timeout (s) of the live grid sources."""
    http_retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Retries of a failed request to a live grid source."""
    cache_ttl_s: Annotated[float, msgspec.Meta(ge=0)] = 900.0
    """Seconds fetched grid data is cached; 0 fetches every time."""
    emission_factors_file: str | None = None
    # Factors added or overriding the packaged ones (and the file's), same fields as the file.
    emission_factors: tuple[EmissionFactor, ...] = ()
    render_processes: Annotated[int, msgspec.Meta(ge=0)] = 1
    """Chart rendering worker processes (spawned on the first chart; matplotlib never runs on
    the event loop's process). 0 draws charts in a thread of this process instead."""


class OrchestratorSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :meth:`orchestrator.Orchestrator.from_settings` reads."""

    llm: LLMConfig = LLMConfig()
    budgets: BudgetConfig = BudgetConfig()
    accounting: AccountingConfig = AccountingConfig()
    assistants: AssistantsConfig = AssistantsConfig()
    tools: ToolsConfig = ToolsConfig()
