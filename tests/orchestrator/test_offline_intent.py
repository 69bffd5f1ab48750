"""The offline planner: intent classification and the plan it answers (validated by plan.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import pytest

from orchestrator.plan import parse_plan
from orchestrator.providers._offline.intent import Intent, build_plan, understand

TODAY = date(2026, 3, 18)

ACTIVITY = {
    "id": "d1",
    "name": "energy.csv",
    "kind": "activity_records",
    "columns": ["date", "category", "quantity", "unit"],
    "rows": 12,
}
TABLE = {
    "id": "d2",
    "name": "sales.csv",
    "kind": "numeric_table",
    "columns": ["month", "revenue"],
    "rows": 24,
}


def intent_of(question: str, dataset: dict[str, Any] | None = None) -> Intent:
    return understand({"question": question, "dataset": dataset}, TODAY).intent


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("When is the grid cleanest tomorrow?", Intent.GRID_TIMING),
        ("What's the best time to charge my EV today?", Intent.GRID_TIMING),
        ("When should I run the dishwasher in Northern Ireland?", Intent.GRID_TIMING),
        ("How green was the grid last week?", Intent.GRID_HISTORY),
        ("What was the carbon intensity in GB yesterday?", Intent.GRID_HISTORY),
        ("Grid intensity in March 2025", Intent.GRID_HISTORY),
        ("Compare this month with last month", Intent.GRID_COMPARE),
        ("Was the grid cleaner in March 2025 than in April 2025?", Intent.GRID_COMPARE),
        ("Northern Ireland vs Ireland grid intensity today", Intent.GRID_COMPARE),
        ("What is the carbon footprint of a retail company with 40 staff?", Intent.FOOTPRINT),
        ("Estimate our scope 1 and 2 emissions", Intent.FOOTPRINT),
        ("How can we reduce our company's emissions?", Intent.SCENARIOS),
        ("What if we switch our fleet to electric vans? Our emissions?", Intent.SCENARIOS),
        ("Analyse the sales trend of a small business", Intent.ANALYSIS),
        ("Find anomalies in the revenue data", Intent.ANALYSIS),
        ("Hello!", Intent.GREETING),
        ("hi there", Intent.GREETING),
        ("What can you do?", Intent.GREETING),
        ("Who won the football last night?", Intent.OFF_TOPIC),
        ("Write me a poem about cats", Intent.NEEDS),
    ],
)
def test_intent(question: str, intent: Intent) -> None:
    assert intent_of(question) is intent


def test_dataset_steers_the_intent() -> None:
    assert intent_of("Summarise this file", TABLE) is Intent.ANALYSIS
    assert intent_of("Summarise this file", ACTIVITY) is Intent.FOOTPRINT
    assert intent_of("Analyse the trends in my upload", ACTIVITY) is Intent.ANALYSIS
    # A grid question stays a grid question even with an upload attached.
    assert intent_of("When is the grid cleanest tomorrow?", TABLE) is Intent.GRID_TIMING


def kinds(question: str, dataset: dict[str, Any] | None = None) -> list[str]:
    plan = build_plan(understand({"question": question, "dataset": dataset}, TODAY))
    parsed = parse_plan(msgspec.json.encode(plan).decode())
    return [step.kind for step in parsed.steps]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When is the grid cleanest tomorrow?", ["carbon", "report"]),
        ("How green was the grid last week?", ["carbon", "report"]),
        ("Compare this month with last month", ["carbon", "report"]),
        ("Carbon footprint of an office with 20 employees", ["carbon", "report"]),
        ("How can we reduce our company's emissions?", ["carbon", "report"]),
        ("Analyse the sales trend of a small business", ["analysis", "report"]),
        ("Our footprint and its monthly trend, for a firm of 30", ["carbon", "analysis", "report"]),
        ("Hello", ["report"]),
        ("Who won the football?", ["report"]),
    ],
)
def test_plans_are_valid(question: str, expected: list[str]) -> None:
    assert kinds(question) == expected


def test_plan_tasks_state_the_concrete_parameters() -> None:
    plan = build_plan(understand({"question": "When should I charge my EV tomorrow in NI?"}, TODAY))
    task = plan["steps"][0]["task"]
    assert "4 hours" in task
    assert "2026-03-19" in task
    assert "Northern Ireland" in task
    assert "(ni)" in task
    assert plan["notes"] == "intent: grid_timing"


def test_compare_task_names_both_periods() -> None:
    plan = build_plan(understand({"question": "Compare March 2025 and April 2025"}, TODAY))
    task = plan["steps"][0]["task"]
    assert "2025-03-01 to 2025-03-31" in task
    assert "2025-04-01 to 2025-04-30" in task


def test_default_region_is_ireland() -> None:
    u = understand({"question": "When is the grid cleanest?"}, TODAY)
    assert (u.region, u.region_stated) == ("ie", False)
    assert u.period().start == TODAY


def test_follow_up_continues_the_previous_question() -> None:
    history = [{"question": "When should I charge my EV today in NI?", "answer": "..."}]
    u = understand({"question": "And tomorrow?", "history": history}, TODAY)
    assert u.intent is Intent.GRID_TIMING
    assert (u.region, u.period().start, u.duration.hours) == ("ni", date(2026, 3, 19), 4.0)
    u = understand({"question": "What about GB?", "history": history}, TODAY)
    assert (u.intent, u.region, u.period().start) == (Intent.GRID_TIMING, "gb", TODAY)


def test_follow_up_with_its_own_topic_stands_alone() -> None:
    history = [{"question": "When should I charge my EV today?", "answer": "..."}]
    u = understand({"question": "How green was the grid last week?", "history": history}, TODAY)
    assert u.intent is Intent.GRID_HISTORY
    greeting = understand({"question": "thanks", "history": history}, TODAY)
    assert greeting.intent is Intent.GREETING
    off_topic = understand({"question": "Tell me a joke", "history": history}, TODAY)
    assert off_topic.intent is Intent.OFF_TOPIC
