"""Planner output validation: the single gate between model text and the state machine."""

from __future__ import annotations

import msgspec
import pytest

from orchestrator.plan import (
    DEFAULT_PLAN,
    PLAN_JSON_SCHEMA,
    Plan,
    PlanInvalid,
    PlanStep,
    parse_plan,
    plan_json_schema,
    plan_refs,
    render_plan,
)


def _plan_text(*steps: tuple[str, str], notes: str | None = None) -> str:
    body = {"steps": [{"kind": k, "task": t} for k, t in steps], "notes": notes}
    return msgspec.json.encode(body).decode()


def test_valid_plan_is_parsed_and_normalised() -> None:
    text = _plan_text(("carbon", "  Find the window. "), ("report", "Write it."), notes=" ok ")
    assert parse_plan(text) == Plan(
        steps=(PlanStep("carbon", "Find the window."), PlanStep("report", "Write it.")),
        notes="ok",
    )


def test_markdown_fenced_json_is_accepted() -> None:
    text = "```json\n" + _plan_text(("report", "Answer.")) + "\n```"
    assert parse_plan(text).steps == (PlanStep("report", "Answer."),)


def test_blank_notes_become_none() -> None:
    assert parse_plan(_plan_text(("report", "Answer."), notes="  ")).notes is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the answer is empty"),
        ("carbon then report", "not a valid plan JSON object"),
        ('{"steps": "carbon"}', "Expected `array`, got `str` - at `$.steps`"),
        (
            _plan_text(("energy", "x"), ("report", "y")),
            "unknown step kind(s): 'energy'; allowed: carbon, analysis, report",
        ),
        (_plan_text(), "the plan has no steps"),
        (_plan_text(("carbon", "x")), "the last step must be 'report'"),
        (_plan_text(("report", "x"), ("carbon", "y")), "the last step must be 'report'"),
        (
            _plan_text(("carbon", "a"), ("carbon", "b"), ("report", "c")),
            "step kind(s) used more than once: carbon",
        ),
        (
            _plan_text(("carbon", "a"), ("analysis", "b"), ("report", "c"), ("report", "d")),
            "the plan has 4 steps; at most 3 allowed",
        ),
        (_plan_text(("carbon", " "), ("report", "c")), "step(s) 1 have an empty task"),
    ],
)
def test_invalid_plans_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(text)
    assert message in caught.value.message


def test_schema_is_strict_and_matches_the_decoder() -> None:
    assert PLAN_JSON_SCHEMA["additionalProperties"] is False
    assert PLAN_JSON_SCHEMA["required"] == ["steps", "notes"]
    item = PLAN_JSON_SCHEMA["properties"]["steps"]["items"]
    assert item["required"] == ["kind", "task"]
    assert item["additionalProperties"] is False
    assert item["properties"]["kind"]["enum"] == ["carbon", "analysis", "report"]


def test_default_plan_is_itself_valid() -> None:
    encoded = msgspec.json.encode(DEFAULT_PLAN).decode()
    assert parse_plan(encoded).steps == DEFAULT_PLAN.steps


def test_refs_and_rendering() -> None:
    plan = Plan(steps=(PlanStep("analysis", "Look."), PlanStep("report", "Write.")))
    assert [(r.kind, r.task) for r in plan_refs(plan)] == [
        ("analysis", "Look."),
        ("report", "Write."),
    ]
    assert render_plan(plan) == "1. analysis: Look.\n2. report: Write."


def test_the_schema_bounds_the_step_count_for_any_kinds() -> None:
    steps = PLAN_JSON_SCHEMA["properties"]["steps"]
    assert (steps["minItems"], steps["maxItems"]) == (1, 3)
    five = plan_json_schema(("carbon", "analysis", "water", "energy", "report"))
    assert five["properties"]["steps"]["maxItems"] == 5
    assert five["properties"]["steps"]["items"]["properties"]["kind"]["enum"][2] == "water"


def test_a_rambling_task_is_invalid_and_long_notes_are_cut() -> None:
    task = "Find the window. " * 30
    with pytest.raises(PlanInvalid, match="longer than 400 characters"):
        parse_plan(msgspec.json.encode({"steps": [{"kind": "report", "task": task}]}).decode())
    plan = parse_plan(
        msgspec.json.encode(
            {"steps": [{"kind": "report", "task": "Answer."}], "notes": "why " * 300}
        ).decode()
    )
    assert plan.notes is not None
    assert len(plan.notes) == 500
