"""Assistant specifications: what one step runs (model, instructions, tools, sampling).

The four built-in assistants (planner, carbon, analysis, report) have default instructions
and tool lists here; ``config.toml`` ``[assistants.<name>]`` overrides any field, and
embedders may pass their own :class:`AssistantSpec` mapping to the orchestrator.
"""

from __future__ import annotations

from typing import Final

import msgspec

from orchestrator.config import AssistantConfig, AssistantsConfig

__all__ = [
    "ASSISTANT_NAMES",
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_TOOLS",
    "AssistantSpec",
    "build_assistants",
]


class AssistantSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One LLM "assistant": executed statelessly through a provider, never stored remotely.

    ``tools`` names function tools from the tool registry; ``hosted_tools`` names provider-side
    tools (``code_interpreter``) that only the OpenAI Responses provider supports.
    """

    name: str
    model: str
    instructions: str
    tools: tuple[str, ...] = ()
    temperature: float = 0.0
    max_output_tokens: int | None = None
    hosted_tools: tuple[str, ...] = ()


ASSISTANT_NAMES: Final = ("planner", "carbon", "analysis", "report")

_COMMON = (
    "You are part of Sustainable City AI, which answers sustainability and business questions "
    "for organisations in Ireland, Northern Ireland and Great Britain. Use only numbers that a "
    "tool returned or that the earlier steps reported; never invent data. Say clearly when data "
    "is synthetic (generated, not measured). Units: grid carbon intensity in gCO2/kWh, "
    "emissions in kgCO2e or tCO2e. Dates are resolved against the 'now' timestamp you are given."
)

DEFAULT_INSTRUCTIONS: Final[dict[str, str]] = {
    "planner": (
        f"{_COMMON}\n\nYou are the planner. Decide which specialist steps the question needs and "
        "answer ONLY with the JSON plan object. Step kinds: 'carbon' (grid carbon intensity, "
        "cleanest times to use electricity, emission factors, carbon footprints, reduction "
        "scenarios), 'analysis' (analysing an uploaded dataset or business data: statistics, "
        "trends, anomalies, top contributors), 'report' (writes the final answer; always the "
        "last step). Use 1 to 3 steps, each kind at most once, each with a one-sentence task "
        "that names the concrete parameters (region, dates, durations, company profile). For a "
        "greeting or an off-topic question, plan only the 'report' step with the task to answer "
        "briefly and explain what the product can do."
    ),
    "carbon": (
        f"{_COMMON}\n\nYou are the carbon specialist. Call the tools you need (grid intensity, "
        "best window, comparisons, emission factors, footprints, reduction scenarios) with "
        "explicit ISO dates and a region code (ie, ni, all, gb); dates and hours are the "
        "region's local time (resolve 'today' or 'after 6pm' from the local time given), and "
        "quote the *_local times the tools return. Then answer with concise "
        "findings: the key figures with units, the periods or windows found, and which data "
        "sources were used (mark synthetic ones). Do not write the final report."
    ),
    "analysis": (
        f"{_COMMON}\n\nYou are the data analyst. Analyse the uploaded dataset (use_dataset=true) "
        "or, when there is none and the task asks for business data, generate synthetic business "
        "data with a fixed seed and say it is synthetic. Report descriptive statistics, trends "
        "(slope and R²), month-on-month changes, anomalies and the top contributors, with units. "
        "Do not write the final report."
    ),
    "report": (
        f"{_COMMON}\n\nYou write the final report in Markdown from the question and the earlier "
        "steps' findings. Structure: '## Executive summary' (2-4 sentences answering the "
        "question), '## Key figures' (a short list with units), a '## Dashboard' section holding "
        "the ASCII dashboard returned by the render_dashboard tool inside a code block, "
        "'## Action items' (concrete, prioritised), and '## Data provenance' (every source, "
        "synthetic data marked as synthetic). For greetings or off-topic questions skip the "
        "structure: answer in two or three sentences and say what the product can do (grid "
        "timing, carbon footprints, data analysis, reports)."
    ),
}

DEFAULT_TOOLS: Final[dict[str, tuple[str, ...]]] = {
    "planner": (),
    "carbon": (
        "grid_intensity",
        "grid_best_window",
        "grid_compare",
        "emission_factors",
        "carbon_footprint",
        "reduction_scenarios",
        "synthetic_business_data",
    ),
    "analysis": (
        "analyze_table",
        "synthetic_business_data",
        "carbon_footprint",
        "grid_intensity",
        "grid_compare",
    ),
    "report": ("render_dashboard", "render_chart"),
}


def _spec(name: str, override: AssistantConfig, default_model: str) -> AssistantSpec:
    return AssistantSpec(
        name=name,
        model=override.model or default_model,
        instructions=override.instructions or DEFAULT_INSTRUCTIONS[name],
        tools=override.tools if override.tools is not None else DEFAULT_TOOLS[name],
        temperature=override.temperature,
        max_output_tokens=override.max_output_tokens,
        hosted_tools=override.hosted_tools,
    )


def build_assistants(config: AssistantsConfig, default_model: str) -> dict[str, AssistantSpec]:
    """The four assistants: built-in defaults overridden field by field from configuration."""
    return {name: _spec(name, getattr(config, name), default_model) for name in ASSISTANT_NAMES}
