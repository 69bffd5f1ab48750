"""The plan: which specialist steps a question needs, as the planner must answer it.

The planner answers with JSON matching :data:`PLAN_JSON_SCHEMA` (sent to the provider as the
structured-output schema). :func:`parse_plan` is the single gate between model text and the
state machine: it decodes strictly and enforces the rules a schema cannot express.

Step kinds are the orchestrator's step assistants: :data:`STEP_KINDS` (carbon, analysis,
report) by default, plus any assistant an embedder adds. An orchestrator with extra assistants
sends :func:`plan_json_schema` of its kinds and validates with ``parse_plan(text, kinds)``.

Each step may name the tools it will call (``tools``): given each kind's tools,
:func:`plan_json_schema` offers one step variant per kind with that kind's tool names as an
enum, and :func:`parse_plan` rejects a tool the step's kind does not have. The machine then
offers the step only those tools (none for ``[]``); a step without ``tools`` (an older plan,
the offline engine's, :data:`DEFAULT_PLAN`) is offered all of its assistant's tools.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from orchestrator.events import PlanStepRef

__all__ = [
    "DEFAULT_PLAN",
    "MAX_NOTES_CHARS",
    "MAX_PLAN_STEPS",
    "MAX_TASK_CHARS",
    "PLAN_JSON_SCHEMA",
    "STEP_KINDS",
    "Plan",
    "PlanInvalid",
    "PlanStep",
    "StepKind",
    "parse_plan",
    "plan_json_schema",
    "plan_refs",
    "render_plan",
]

# A step kind is the name of a step assistant: the built-in ones, or one an embedder added.
StepKind = str
STEP_KINDS: Final[tuple[StepKind, ...]] = ("carbon", "analysis", "report")
# Each kind at most once, so a plan has at most as many steps as there are kinds.
MAX_PLAN_STEPS: Final = len(STEP_KINDS)
# A task is one sentence: a longer one is a model that lost its way (rejected, retried).
MAX_TASK_CHARS: Final = 400
# Notes are optional reasoning, kept short in events (longer ones are cut, not rejected).
MAX_NOTES_CHARS: Final = 500


class PlanStep(msgspec.Struct, frozen=True):
    """One specialist step: its kind and the task sentence the planner wrote for it."""

    kind: StepKind
    task: str
    # The tools the step will call (names from its assistant's tools); None: all of them.
    tools: tuple[str, ...] | None = None


class Plan(msgspec.Struct, frozen=True):
    """Ordered steps (1 to one per kind, no duplicate kinds, ``report`` present and last)."""

    steps: tuple[PlanStep, ...]
    notes: str | None = None
    # How the planner read the question, when it says (the offline engine always does; the
    # JSON schema sent to models does not ask for it). Relayed as the planner event's
    # ``data.interpretation``.
    interpretation: dict[str, Any] | None = None


class PlanInvalid(Exception):
    """The planner's text is not a valid plan; ``message`` is fed back to the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Written by hand (not derived) because it is a wire contract with real models: strict
# structured-output form, every property required, closed objects, nullable ``notes``.
PLAN_JSON_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "description": (
                "1 to 3 steps in execution order, no kind twice; 'report' is always the last step."
            ),
            # Bounds a grammar-constrained model too: without them, llama.cpp's grammar lets it
            # repeat items until the step timeout. (No maxLength on the strings: OpenAI's
            # strict mode does not list it as supported; parse_plan bounds them instead, and
            # the planner's output token cap bounds the whole answer.)
            "minItems": 1,
            "maxItems": MAX_PLAN_STEPS,
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": list(STEP_KINDS)},
                    "task": {
                        "type": "string",
                        "description": "One sentence: what this step must find out or write.",
                    },
                },
                "required": ["kind", "task"],
                "additionalProperties": False,
            },
        },
        "notes": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "Optional short reasoning about the plan, or null.",
        },
    },
    "required": ["steps", "notes"],
    "additionalProperties": False,
}

DEFAULT_PLAN: Final = Plan(
    steps=(
        PlanStep("carbon", "Find the carbon and grid-intensity facts relevant to the question."),
        PlanStep("analysis", "Analyse the relevant data and quantify trends and opportunities."),
        PlanStep("report", "Write the report answering the question from the earlier findings."),
    ),
    notes="default plan (the planner's output was not usable)",
)

_decoder = msgspec.json.Decoder(Plan)


def _steps_description(max_steps: int) -> str:
    return (
        f"1 to {max_steps} steps in execution order, no kind twice; 'report' is always the "
        "last step."
    )


def plan_json_schema(
    kinds: Sequence[StepKind] = STEP_KINDS,
    tools: Mapping[StepKind, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """:data:`PLAN_JSON_SCHEMA` for these step kinds (the enum, and the step count they allow).

    For :data:`STEP_KINDS` the result equals :data:`PLAN_JSON_SCHEMA`, key order included.
    With ``tools`` (each kind's tool names), a step is one of a variant per kind, and a kind
    that has tools has a required ``tools`` list whose items are an enum of them.
    """
    schema = copy.deepcopy(PLAN_JSON_SCHEMA)
    steps = schema["properties"]["steps"]
    steps["description"] = _steps_description(len(kinds))
    steps["maxItems"] = len(kinds)
    steps["items"]["properties"]["kind"]["enum"] = list(kinds)
    if tools is not None:
        # The planner's instructions say what the descriptions say: sent once less.
        del steps["description"]
        del schema["properties"]["notes"]["description"]
        steps["items"] = {"anyOf": [_step_variant(kind, tools.get(kind, ())) for kind in kinds]}
    return schema


def _step_variant(kind: StepKind, names: Sequence[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "kind": {"type": "string", "enum": [kind]},
        "task": {"type": "string"},
    }
    if names:
        properties["tools"] = {
            "type": "array",
            "items": {"type": "string", "enum": list(names)},
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _strip_fences(text: str) -> str:
    """Models without structured output often wrap JSON in a Markdown code fence."""
    stripped = text.strip()
    if stripped.startswith("```"):
        first_newline = stripped.find("\n")
        body = stripped[first_newline + 1 :] if first_newline != -1 else ""
        if body.rstrip().endswith("```"):
            body = body.rstrip()[:-3]
        return body.strip()
    return stripped


def parse_plan(
    text: str,
    kinds: Sequence[StepKind] = STEP_KINDS,
    tools: Mapping[StepKind, Sequence[str]] | None = None,
) -> Plan:
    """Decode and validate the planner's answer; raise :class:`PlanInvalid` saying what is wrong.

    ``kinds`` are the step kinds the plan may use (the orchestrator's step assistants); a plan
    has at most one step per kind, so at most ``len(kinds)`` steps. With ``tools`` (each
    kind's tool names), a step's ``tools`` must be among its kind's; they are kept in that
    order (a stable tool list keeps the prompt's prefix cacheable), duplicates dropped.
    """
    body = _strip_fences(text)
    if not body:
        raise PlanInvalid("the answer is empty; expected a JSON object with 'steps' and 'notes'")
    try:
        plan = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise PlanInvalid(f"not a valid plan JSON object: {exc}") from None
    steps = tuple(PlanStep(step.kind, step.task.strip(), step.tools) for step in plan.steps)
    if not steps:
        raise PlanInvalid("the plan has no steps; it needs at least the 'report' step")
    planned = [step.kind for step in steps]
    unknown = list(dict.fromkeys(kind for kind in planned if kind not in kinds))
    if unknown:
        raise PlanInvalid(
            f"unknown step kind(s): {', '.join(repr(kind) for kind in unknown)}; "
            f"allowed: {', '.join(kinds)}"
        )
    if len(steps) > len(kinds):
        raise PlanInvalid(f"the plan has {len(steps)} steps; at most {len(kinds)} allowed")
    duplicates = sorted({kind for kind in planned if planned.count(kind) > 1})
    if duplicates:
        raise PlanInvalid(f"step kind(s) used more than once: {', '.join(duplicates)}")
    if planned[-1] != "report":
        raise PlanInvalid("the last step must be 'report' (and 'report' must be present)")
    empty = [str(index + 1) for index, step in enumerate(steps) if not step.task]
    if empty:
        raise PlanInvalid(f"step(s) {', '.join(empty)} have an empty task")
    long = [str(index + 1) for index, step in enumerate(steps) if len(step.task) > MAX_TASK_CHARS]
    if long:
        raise PlanInvalid(
            f"step(s) {', '.join(long)} have a task longer than {MAX_TASK_CHARS} characters; "
            "write one short sentence per task"
        )
    if tools is not None:
        steps = tuple(_checked_tools(index, step, tools) for index, step in enumerate(steps))
    notes = plan.notes.strip()[:MAX_NOTES_CHARS] if plan.notes is not None else None
    return Plan(steps=steps, notes=notes or None, interpretation=plan.interpretation)


def _checked_tools(index: int, step: PlanStep, tools: Mapping[StepKind, Sequence[str]]) -> PlanStep:
    if step.tools is None:
        return step
    allowed = tools.get(step.kind, ())
    unknown = list(dict.fromkeys(name for name in step.tools if name not in allowed))
    if unknown:
        raise PlanInvalid(
            f"step {index + 1} ({step.kind}) names tool(s) it does not have: "
            f"{', '.join(unknown)}; its tools: {', '.join(allowed) or 'none'}"
        )
    chosen = tuple(name for name in allowed if name in step.tools)
    return PlanStep(step.kind, step.task, chosen)


def plan_refs(plan: Plan) -> list[PlanStepRef]:
    """The plan as shown to clients in events."""
    return [PlanStepRef(kind=step.kind, task=step.task) for step in plan.steps]


def render_plan(plan: Plan) -> str:
    """A short human rendering (the planner's ``agent_response`` output)."""
    lines = [
        f"{index}. {step.kind}: {step.task}"
        + (f" [tools: {', '.join(step.tools) or 'none'}]" if step.tools is not None else "")
        for index, step in enumerate(plan.steps, 1)
    ]
    return "\n".join(lines)
