"""Assistant specifications: what one step runs (model, instructions, tools, sampling).

The four built-in assistants (planner, carbon, analysis, report) have default instructions
and tool lists here; ``config.toml`` ``[assistants.<name>]`` overrides any field, and
``[assistants.extra.<name>]`` adds an assistant (a new step kind the planner may plan,
described by its ``description``). Embedders may also pass their own :class:`AssistantSpec`
mapping to the orchestrator, to override a built-in assistant or to add one.
:func:`check_assistants` is the rule book for such a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import msgspec

from orchestrator.config import AssistantConfig, AssistantsConfig, ExtraAssistantConfig

__all__ = [
    "ASSISTANT_NAMES",
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_TOOLS",
    "NAME_RULE",
    "PLANNER",
    "RESERVED_NAMES",
    "AssistantSpec",
    "build_assistants",
    "check_assistants",
    "describe",
    "is_assistant_name",
]


class AssistantSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One LLM "assistant": executed statelessly through a provider, never stored remotely.

    ``tools`` names function tools from the tool registry; ``hosted_tools`` names provider-side
    tools (``code_interpreter``) that only the OpenAI Responses provider supports.
    ``description`` says in a sentence what the assistant is for: the planner chooses step
    kinds by it. Built-in assistants fall back to :data:`DEFAULT_DESCRIPTIONS`; an assistant an
    embedder adds must have one.
    """

    name: str
    model: str
    instructions: str
    tools: tuple[str, ...] = ()
    temperature: float = 0.0
    max_output_tokens: int | None = None
    hosted_tools: tuple[str, ...] = ()
    description: str = ""


PLANNER: Final = "planner"
ASSISTANT_NAMES: Final = (PLANNER, "carbon", "analysis", "report")
# Events of the run itself carry agent_name "system": no assistant may take that name.
RESERVED_NAMES: Final = frozenset({"system"})
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
# What :func:`is_assistant_name` accepts, in words (error messages quote it).
NAME_RULE: Final = "lowercase letters, digits and _, starting with a letter (at most 40 characters)"

# Instructions are the stable head of every prompt (cached by providers between runs), and
# are re-read on every call: short, no run-specific text, nothing the schemas already say.
_COMMON = (
    "Sustainable City AI, for Ireland, Northern Ireland and Great Britain. Use only numbers "
    "from tools or earlier steps; mark synthetic data. Units: gCO2/kWh, kgCO2e, tCO2e."
)

DEFAULT_INSTRUCTIONS: Final[dict[str, str]] = {
    "planner": (
        f"{_COMMON}\nYou plan. Answer ONLY with the JSON plan: 1-3 steps, each kind at most "
        "once, report last. carbon: grid intensity, cleanest times, emission factors, "
        "footprints, reduction scenarios. analysis: an uploaded dataset or business data "
        "(statistics, trends, anomalies, top contributors). report: the final answer. Each "
        "task is one sentence naming the parameters (region, dates, durations, company "
        "profile). tools: only those the step will call; [] if none; report gets a render "
        "tool only when a dashboard or chart helps. Greeting or off-topic: only a report "
        "step that answers briefly."
    ),
    "carbon": (
        f"{_COMMON}\nYou are the carbon specialist. Call the tools you need with ISO dates "
        "and a region (ie, ni, all, gb) in the region's local time (resolve 'today' from "
        "the local time given; quote *_local times). Answer with concise findings: key "
        "figures with units, periods or windows, sources (synthetic marked). No final report."
    ),
    "analysis": (
        f"{_COMMON}\nYou are the data analyst. Analyse the uploaded dataset "
        "(use_dataset=true) or, with none, synthetic business data (fixed seed, say so). "
        "Report statistics, trends (slope, R²), month-on-month changes, anomalies and top "
        "contributors, with units. No final report."
    ),
    "report": (
        f"{_COMMON}\nWrite the final report in Markdown from the question and the earlier "
        "findings: '## Executive summary' (2-4 sentences), '## Key figures' (units), "
        "'## Dashboard' if you rendered one (the system inserts it), '## Action items' "
        "(prioritised), '## Data provenance' (every source, synthetic marked). Greeting or "
        "off-topic: two or three sentences on what the product does (grid timing, "
        "footprints, data analysis, reports)."
    ),
}

# What each built-in step is for, as the planner is told when extra assistants join the plan
# (the built-in planner instructions already say this in their own words).
DEFAULT_DESCRIPTIONS: Final[dict[str, str]] = {
    "carbon": (
        "grid carbon intensity, cleanest times to use electricity, emission factors, carbon "
        "footprints, reduction scenarios"
    ),
    "analysis": (
        "analysing an uploaded dataset or business data: statistics, trends, anomalies, top "
        "contributors"
    ),
    "report": "writes the final answer; always the last step",
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


def _spec(
    name: str,
    config: AssistantConfig | ExtraAssistantConfig,
    default_model: str,
    *,
    instructions: str,
    tools: tuple[str, ...],
    description: str,
) -> AssistantSpec:
    """A spec from configuration; the fields a built-in assistant defaults are passed in."""
    return AssistantSpec(
        name=name,
        model=config.model or default_model,
        instructions=instructions,
        tools=tools,
        temperature=config.temperature,
        max_output_tokens=config.max_output_tokens,
        hosted_tools=config.hosted_tools,
        description=description,
    )


def _builtin_spec(name: str, override: AssistantConfig, default_model: str) -> AssistantSpec:
    return _spec(
        name,
        override,
        default_model,
        instructions=override.instructions or DEFAULT_INSTRUCTIONS[name],
        tools=override.tools if override.tools is not None else DEFAULT_TOOLS[name],
        description=DEFAULT_DESCRIPTIONS.get(name, ""),
    )


def _extra_spec(name: str, extra: ExtraAssistantConfig, default_model: str) -> AssistantSpec:
    return _spec(
        name,
        extra,
        default_model,
        instructions=extra.instructions,
        tools=extra.tools,
        description=extra.description,
    )


def build_assistants(config: AssistantsConfig, default_model: str) -> dict[str, AssistantSpec]:
    """The four built-in assistants, overridden field by field from configuration, then the
    ``extra`` ones in their configured order.

    An extra assistant may not take a built-in name (``ValueError``): the built-in one is
    configured in its own table. The other name rules are :func:`check_assistants`'s, which
    the orchestrator applies to the result.
    """
    specs = {
        name: _builtin_spec(name, getattr(config, name), default_model) for name in ASSISTANT_NAMES
    }
    for name, extra in config.extra.items():
        if name in ASSISTANT_NAMES:
            raise ValueError(
                f"extra assistant {name!r} has a built-in assistant's name: configure the "
                f"built-in one in [assistants.{name}]"
            )
        specs[name] = _extra_spec(name, extra, default_model)
    return specs


def is_assistant_name(name: str) -> bool:
    """Whether ``name`` may name an assistant (a step kind): :data:`NAME_RULE`, not reserved."""
    return _NAME.fullmatch(name) is not None and name not in RESERVED_NAMES


def describe(spec: AssistantSpec) -> str:
    """What the assistant is for: its own description, else the built-in one."""
    return spec.description.strip() or DEFAULT_DESCRIPTIONS.get(spec.name, "")


def check_assistants(assistants: Mapping[str, AssistantSpec]) -> None:
    """Reject a mapping an orchestrator cannot plan with, saying what is wrong (``ValueError``).

    Each key is the assistant's ``name``: lowercase letters, digits and ``_``, starting with a
    letter (it becomes a step kind in plans and events), not ``system``. An added assistant
    (not one of :data:`ASSISTANT_NAMES`) needs a ``description`` for the planner.
    """
    for key, spec in assistants.items():
        if not key or not key.strip():
            raise ValueError("an assistant name is empty")
        twin = next(
            (n for n in (*ASSISTANT_NAMES, *assistants) if n != key and n.lower() == key.lower()),
            None,
        )
        if twin is not None:
            raise ValueError(
                f"assistant name {key!r} duplicates {twin!r} (names differ only in case); "
                f"to override the {twin!r} assistant, register it as {twin!r}"
            )
        if not _NAME.fullmatch(key):
            raise ValueError(f"invalid assistant name {key!r}: use {NAME_RULE}, like 'water'")
        if key in RESERVED_NAMES:
            raise ValueError(f"assistant name {key!r} is reserved for the run's own events")
        if spec.name != key:
            raise ValueError(
                f"the assistant registered as {key!r} is named {spec.name!r}: each assistant "
                "must be registered under its own name (one assistant per name)"
            )
        if key not in ASSISTANT_NAMES and not spec.description.strip():
            raise ValueError(
                f"assistant {key!r} needs a description: the planner chooses steps by it"
            )
