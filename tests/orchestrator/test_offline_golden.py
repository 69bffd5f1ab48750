"""Golden tests: representative questions through the REAL state machine with the offline engine.

Each run uses the real tools (tools.catalog), a pinned "now" and asserts the plan, the tools
called, and — with :func:`ungrounded_numbers` — that every number in the report is a tool
result (or a parameter taken from the question), up to the engine's documented display
rounding (round to the shown decimals; kgCO2e may be shown as tCO2e = kg / 1000).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from orchestrator import HistoryPair, Orchestrator, RunContext
from orchestrator.events import ToolExecution
from orchestrator.grounding import RENDER_TOOLS, ungrounded_numbers
from orchestrator.grounding import Sources as Grounding
from orchestrator.machine import RunResult
from orchestrator.providers.base import (
    FunctionCall,
    FunctionCallOutput,
    ModelRequest,
    ProviderEvent,
    UserMessage,
)
from orchestrator.providers.offline import OfflineProvider
from tools.analysis.upload import parse_upload
from tools.catalog_types import Dataset

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)  # a Wednesday morning
_RENDER_TOOLS = RENDER_TOOLS

# ------------------------------------------------------------------------- number checker
# The same checker the machine applies to language models' reports (orchestrator.grounding).


def test_checker_catches_invented_numbers() -> None:
    grounding = Grounding()
    grounding.add_value(
        {"mean": 231.456, "start": "2026-03-19T13:30:00+00:00", "total_kg": 12345.6, "n": [3]}
    )
    ok = (
        "Mean 231 gCO2/kWh (231.5), window 2026-03-19 13:30 UTC, total 12,346 kgCO2e "
        "(12.3 tCO2e), 3 points, scope CO2 33rd.\n1. act now"
    )
    assert ungrounded_numbers(ok, grounding) == []
    assert ungrounded_numbers("Mean 232 gCO2/kWh", grounding) == ["232"]
    assert ungrounded_numbers("on 2026-03-20", grounding) == ["2026-03-20"]
    assert ungrounded_numbers("at 14:00", grounding) == ["14:00"]
    assert ungrounded_numbers("saves 12%", grounding) == ["12"]


# ------------------------------------------------------------------------------- harness


class RecordingProvider:
    """The offline engine, plus a record of every request (to read the tool outputs)."""

    name = "offline"

    def __init__(self) -> None:
        self.inner = OfflineProvider()
        self.requests: list[ModelRequest] = []

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        self.requests.append(request)
        return self.inner.stream(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Outcome:
    result: RunResult
    provider: RecordingProvider
    question: str

    @property
    def kinds(self) -> list[str]:
        assert self.result.plan is not None
        return [step.kind for step in self.result.plan.steps]

    @property
    def tools(self) -> list[str]:
        return [
            e.data.tool
            for e in self.result.events
            if isinstance(e, ToolExecution) and e.data.status != "started"
        ]

    def failed_tools(self) -> list[str]:
        return [
            e.data.tool
            for e in self.result.events
            if isinstance(e, ToolExecution) and e.data.status == "failed"
        ]

    def arguments(self, tool: str) -> list[dict[str, Any]]:
        return [
            e.data.arguments
            for e in self.result.events
            if isinstance(e, ToolExecution) and e.data.tool == tool and e.data.status == "started"
        ]

    def grounding(self) -> Grounding:
        grounding = Grounding()
        grounding.add_text(self.question)
        seen: set[tuple[str, str]] = set()
        for request in self.provider.requests:
            for item in request.input:
                if isinstance(item, FunctionCallOutput):
                    # The whole result the engine computed from (the model reads a compact
                    # view of it in ``output``).
                    raw = item.result if item.result is not None else item.output
                    key = ("output", item.call_id)
                elif isinstance(item, FunctionCall) and item.name not in _RENDER_TOOLS:
                    # Arguments of data tools are the engine's documented parameters (dates,
                    # defaults); render-tool arguments are not sources (they copy tool values).
                    raw, key = item.arguments, ("call", item.call_id)
                else:
                    continue
                if key not in seen:
                    seen.add(key)
                    grounding.add_value(msgspec.json.decode(raw))
        return grounding

    def assert_grounded(self) -> None:
        # The lead ("I read this as ..." and its notices) restates the question's own figures
        # as read; the eval suite checks it. Every figure from the summary on is a tool's.
        report = self.result.report
        body = report[report.find("## Executive summary") :] if "## Executive" in report else report
        bad = ungrounded_numbers(body, self.grounding())
        assert bad == [], f"numbers not from any tool: {bad}\n\n{self.result.report}"


async def ask(
    question: str,
    dataset: Dataset | None = None,
    *,
    now: datetime = NOW,
    history: tuple[HistoryPair, ...] = (),
) -> Outcome:
    provider = RecordingProvider()
    orch = Orchestrator(provider=provider, stream_delta_interval_ms=0)
    context = RunContext(now=now, dataset=dataset, history=history)
    result = await orch.ask(question, context)
    assert result.status == "completed", result.error
    return Outcome(result, provider, question)


# ---------------------------------------------------------------------------- golden runs


async def test_cleanest_window_tomorrow() -> None:
    out = await ask("When is the grid cleanest tomorrow? I want to run the dishwasher.")
    assert out.kinds == ["carbon", "report"]
    assert out.tools[:2] == ["grid_best_window", "grid_intensity"]
    (args,) = out.arguments("grid_best_window")
    assert (args["region"], args["date"], args["duration_hours"]) == ("ie", "2026-03-19", 2.0)
    report = out.result.report
    for heading in (
        "## Executive summary",
        "## Key figures",
        "## Action items",
        "## Data provenance",
    ):
        assert heading in report
    assert "SYNTHETIC" in report
    out.assert_grounded()


async def test_hour_limits_reach_the_tool_and_the_report() -> None:
    out = await ask("When should I charge my EV tomorrow after 6pm?")
    (args,) = out.arguments("grid_best_window")
    assert (args["date"], args["earliest_hour"], args["latest_hour"]) == ("2026-03-19", 18, None)
    assert "Search limited to after 6pm (from local hour 18, Europe/Dublin)" in out.result.report
    out.assert_grounded()


async def test_grid_today_ev_northern_ireland() -> None:
    out = await ask("What's the best time to charge my EV today in Northern Ireland?")
    (args,) = out.arguments("grid_best_window")
    assert (args["region"], args["date"], args["duration_hours"]) == ("ni", "2026-03-18", 4.0)
    assert "Northern Ireland" in out.result.report
    assert "Running now" in out.result.report  # today: compared with starting immediately
    out.assert_grounded()


async def test_cleanest_window_in_the_past_is_not_scheduled() -> None:
    out = await ask("When was the grid cleanest yesterday?")
    (args,) = out.arguments("grid_best_window")
    assert args["date"] == "2026-03-17"
    assert "window on the Republic of Ireland grid was 2026-03-17" in out.result.report
    assert "delay-start" not in out.result.report
    out.assert_grounded()


async def test_stated_energy_gives_avoided_emissions() -> None:
    out = await ask("Best time today to run a 3 hour, 12 kWh load?")
    (args,) = out.arguments("grid_best_window")
    assert (args["duration_hours"], args["energy_kwh"]) == (3.0, 12.0)
    assert "Emissions avoided vs now" in out.result.report
    assert "Emissions avoided vs day mean" in out.result.report
    out.assert_grounded()


async def test_last_week_history() -> None:
    out = await ask("How green was the grid last week?")
    assert out.kinds == ["carbon", "report"]
    (args,) = out.arguments("grid_intensity")
    assert (args["start_date"], args["end_date"]) == ("2026-03-09", "2026-03-15")
    assert "Mean intensity" in out.result.report
    # Synthetic actuals are never presented as measurements.
    assert "(synthetic actuals)" in out.result.report
    assert "(measured)" not in out.result.report
    out.assert_grounded()


async def test_month_history_gb() -> None:
    out = await ask("What was the carbon intensity in GB in March 2025?")
    (args,) = out.arguments("grid_intensity")
    assert (args["region"], args["start_date"], args["end_date"]) == (
        "gb",
        "2025-03-01",
        "2025-03-31",
    )
    assert "Great Britain" in out.result.report
    out.assert_grounded()


async def test_compare_months() -> None:
    out = await ask("Compare this month with last month")
    (args,) = out.arguments("grid_compare")
    assert args["first_start_date"] == "2026-02-01"
    assert args["second_start_date"] == "2026-03-01"
    assert args["second_end_date"] == "2026-03-18"
    assert "Change" in out.result.report
    out.assert_grounded()


async def test_compare_regions() -> None:
    out = await ask("Northern Ireland vs Ireland grid intensity yesterday")
    assert [a["region"] for a in out.arguments("grid_intensity")] == ["ni", "ie"]
    assert "lower than" in out.result.report
    out.assert_grounded()


async def test_greeting() -> None:
    out = await ask("Hello!")
    assert out.kinds == ["report"]
    assert out.tools == []
    assert "Grid timing" in out.result.report
    out.assert_grounded()


async def test_off_topic() -> None:
    out = await ask("Who won the football last night?")
    assert out.kinds == ["report"]
    assert out.tools == []
    assert "outside what I can help with" in out.result.report
    out.assert_grounded()


@pytest.mark.parametrize("question", ["When is the grid cleanest tomorrow?", "Hello"])
async def test_deterministic(question: str) -> None:
    first = await ask(question)
    second = await ask(question)
    assert first.result.report == second.result.report


def upload(name: str, csv_text: str) -> Dataset:
    """A dataset exactly as the service builds it from an uploaded file."""
    parsed = parse_upload(csv_text.encode(), name, max_rows=10_000)
    return Dataset(
        id=f"ds-{name}", name=name, kind=parsed.kind, columns=parsed.columns, rows=parsed.rows
    )


SALES_CSV = "month,revenue,orders\n" + "\n".join(
    f"2025-{m:02d},{v},{o}"
    for m, v, o in [
        (1, 10200, 101),
        (2, 10450, 104),
        (3, 10900, 108),
        (4, 11050, 111),
        (5, 11400, 113),
        (6, 29800, 115),  # a one-off spike the analysis must flag
        (7, 11900, 118),
        (8, 12150, 121),
        (9, 12400, 124),
        (10, 12800, 127),
        (11, 13050, 130),
        (12, 13300, 133),
    ]
)

ACTIVITY_CSV = "date,category,quantity,unit,site\n" + "\n".join(
    f"2025-{m:02d},{cat},{qty},{unit},Dublin"
    for m in range(1, 7)
    for cat, qty, unit in [
        ("electricity", 4000 + 100 * m, "kWh"),
        ("natural_gas", 6000 - 500 * m, "kWh"),
        ("diesel", 300, "litre"),
    ]
)


async def test_uploaded_table_analysis() -> None:
    out = await ask("Analyse the revenue in my upload", upload("sales.csv", SALES_CSV))
    assert out.kinds == ["analysis", "report"]
    assert out.tools[0] == "analyze_table"
    (args,) = out.arguments("analyze_table")
    assert (args["use_dataset"], args["value_column"]) == (True, "revenue")
    report = out.result.report
    assert "2025-06" in report  # the planted spike is reported as an anomaly
    assert "uploaded dataset sales.csv" in report
    assert "SYNTHETIC" not in report  # real (uploaded) data is not called synthetic
    out.assert_grounded()


async def test_uploaded_table_column_named_by_one_word() -> None:
    csv_text = "month,gas_kwh,electricity_kwh\n2025-01,900,1200\n2025-02,800,1100\n2025-03,700,1300"
    out = await ask("What is the trend of electricity use?", upload("meters.csv", csv_text))
    (args,) = out.arguments("analyze_table")
    assert args["value_column"] == "electricity_kwh"
    assert "electricity_kwh" in out.result.report
    out.assert_grounded()


async def test_uploaded_activity_footprint() -> None:
    out = await ask("What is our carbon footprint?", upload("energy.csv", ACTIVITY_CSV))
    assert out.kinds == ["carbon", "report"]
    (args,) = out.arguments("carbon_footprint")
    assert args["use_dataset"] is True
    assert args["synthetic_profile"] is None
    assert "the uploaded activity data (energy.csv)" in out.result.report
    assert "18 activity records" in out.result.report
    out.assert_grounded()


async def test_uploaded_activity_analysis_picks_one_category() -> None:
    out = await ask("Analyse the gas trend in my data", upload("energy.csv", ACTIVITY_CSV))
    assert out.kinds == ["analysis", "report"]
    (args,) = out.arguments("analyze_table")
    assert (args["filter_column"], args["filter_value"]) == ("category", "natural_gas")
    assert "falling" in out.result.report
    out.assert_grounded()


async def test_synthetic_company_footprint() -> None:
    out = await ask(
        "What is the carbon footprint of a retail company with 40 staff, 3 shops and 5 vans?"
    )
    assert out.kinds == ["carbon", "report"]
    (args,) = out.arguments("carbon_footprint")
    profile = args["synthetic_profile"]
    assert (profile["sector"], profile["employees"], profile["sites"]) == ("retail", 40, 3)
    assert (profile["fleet_vehicles"], profile["months"]) == (5, 12)
    assert "synthetic retail company" in out.result.report
    assert "SYNTHETIC" in out.result.report
    assert [c.title for c in out.result.charts] == ["Emissions by category"]
    out.assert_grounded()


async def test_footprint_with_trend_runs_three_steps() -> None:
    out = await ask("What is the carbon footprint of a hotel with 60 staff and how is it trending?")
    assert out.kinds == ["carbon", "analysis", "report"]
    assert out.tools[:2] == ["carbon_footprint", "analyze_table"]
    (args,) = out.arguments("analyze_table")
    assert [point["date"] for point in args["series"]][:2] == ["2025-03", "2025-04"]
    assert "monthly footprint from the carbon step" in out.result.report
    out.assert_grounded()


async def test_synthetic_profile_limits_are_stated() -> None:
    out = await ask("Carbon footprint of an office with 20 employees and 4 electric vans")
    (args,) = out.arguments("carbon_footprint")
    assert args["synthetic_profile"]["fleet_vehicles"] == 4
    assert "models diesel vehicles" in out.result.report
    out.assert_grounded()


async def test_synthetic_business_analysis() -> None:
    out = await ask("Analyse the sales trend of a small business")
    assert out.kinds == ["analysis", "report"]
    assert out.tools[:2] == ["synthetic_business_data", "analyze_table"]
    assert "SYNTHETIC" in out.result.report
    assert any(source.synthetic for source in out.result.sources)
    out.assert_grounded()


async def test_reduction_scenarios_default_levers() -> None:
    out = await ask("How can we reduce our company's emissions?")
    assert out.kinds == ["carbon", "report"]
    assert out.tools[:2] == ["carbon_footprint", "reduction_scenarios"]
    (args,) = out.arguments("reduction_scenarios")
    levers = (args["shift_electricity_pct"], args["fleet_switch_pct"], args["cut_flights_pct"])
    assert levers == (30.0, 50.0, 25.0)
    assert "Reduction scenarios" in out.result.report
    out.assert_grounded()


async def test_reduction_scenario_named_lever() -> None:
    out = await ask(
        "What if we switch 40% of our vans to electric? We are a logistics firm with 30 staff "
        "and 12 vans."
    )
    (args,) = out.arguments("reduction_scenarios")
    assert (args["fleet_switch_pct"], args["fleet_target"]) == (40.0, "electric")
    assert (args["shift_electricity_pct"], args["cut_flights_pct"]) == (None, None)
    assert args["synthetic_profile"]["fleet_vehicles"] == 12
    assert "switch fleet to electric" in out.result.report
    out.assert_grounded()


async def test_all_island_yesterday() -> None:
    out = await ask("How clean was the all-island grid yesterday?")
    (args,) = out.arguments("grid_intensity")
    assert (args["region"], args["start_date"], args["end_date"]) == (
        "all",
        "2026-03-17",
        "2026-03-17",
    )
    out.assert_grounded()


async def test_compare_named_months() -> None:
    out = await ask("Was the grid cleaner in March 2025 than in April 2025?")
    (args,) = out.arguments("grid_compare")
    assert (args["first_start_date"], args["first_end_date"]) == ("2025-03-01", "2025-03-31")
    assert (args["second_start_date"], args["second_end_date"]) == ("2025-04-01", "2025-04-30")
    out.assert_grounded()


async def test_late_evening_moves_to_tomorrow() -> None:
    late = datetime(2026, 3, 18, 23, 30, tzinfo=UTC)
    out = await ask("When is the cleanest 3 hours today?", now=late)
    dates = [a["date"] for a in out.arguments("grid_best_window")]
    assert dates == ["2026-03-18", "2026-03-19"]  # the tool's error is acted on once
    assert out.failed_tools() == ["grid_best_window"]
    assert "2026-03-19" in out.result.report
    out.assert_grounded()


# ------------------------------------------------------- local time (Europe/Dublin, London)

SUMMER = datetime(2026, 7, 14, 9, 0, tzinfo=UTC)  # 10:00 IST


def tool_outputs(out: Outcome, tool: str) -> list[dict[str, Any]]:
    """The decoded outputs of ``tool`` as the engine read them."""
    ids = {
        item.call_id
        for request in out.provider.requests
        for item in request.input
        if isinstance(item, FunctionCall) and item.name == tool
    }
    found: dict[str, dict[str, Any]] = {}
    for request in out.provider.requests:
        for item in request.input:
            if isinstance(item, FunctionCallOutput) and item.call_id in ids:
                found[item.call_id] = msgspec.json.decode(item.result or item.output)
    return list(found.values())


async def test_summer_after_6pm_means_18_local() -> None:
    out = await ask("When should I charge my EV tomorrow after 6pm?", now=SUMMER)
    (args,) = out.arguments("grid_best_window")
    assert (args["date"], args["earliest_hour"]) == ("2026-07-15", 18)
    (best,) = tool_outputs(out, "grid_best_window")
    start = datetime.fromisoformat(best["window"]["start"])
    # 18:00 IST is 17:00 UTC: the window starts at or after it, and is shown in local time.
    assert start >= datetime(2026, 7, 15, 17, tzinfo=UTC)
    assert best["timezone"] == "Europe/Dublin"
    local = datetime.fromisoformat(best["window"]["start_local"])
    assert local.utcoffset() == timedelta(hours=1)
    assert local.hour >= 18
    report = out.result.report
    shown = f"2026-07-15 {local:%H:%M}-"
    assert shown in report
    assert f"IST ({start:%H:%M}-" in report
    assert "Search limited to after 6pm (from local hour 18, Europe/Dublin)" in report
    out.assert_grounded()


async def test_summer_window_from_a_fixed_local_evening() -> None:
    """An exact run: 18:00 IST is 17:00 UTC, so a 1-hour search from 18:00 IST that finds
    the evening's first slot reports it as 18:00-19:00 IST (17:00-18:00 UTC)."""
    out = await ask("Cleanest 1 hour tomorrow between 6pm and 7pm?", now=SUMMER)
    (args,) = out.arguments("grid_best_window")
    assert (args["earliest_hour"], args["latest_hour"]) == (18, 19)
    (best,) = tool_outputs(out, "grid_best_window")
    assert best["window"]["start"].startswith("2026-07-15T17:00:00")
    assert best["window"]["end"].startswith("2026-07-15T18:00:00")
    assert "2026-07-15 18:00-19:00 IST (17:00-18:00 UTC)" in out.result.report
    out.assert_grounded()


async def test_models_are_told_the_local_time() -> None:
    out = await ask("When is the grid cleanest tomorrow?", now=SUMMER)
    texts = [
        item.text
        for request in out.provider.requests
        for item in request.input
        if isinstance(item, UserMessage)
    ]
    assert any("local (IE/GB) Tuesday 2026-07-14 10:00 IST" in t for t in texts)


async def test_summer_today_is_the_local_day() -> None:
    # 23:30 UTC on 14 July is 00:30 IST on the 15th: "today" is the 15th, "tomorrow" the 16th.
    late = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    out = await ask("When is the grid cleanest tomorrow?", now=late)
    (args,) = out.arguments("grid_best_window")
    assert args["date"] == "2026-07-16"
    history = await ask("How green was the grid yesterday in GB?", now=late)
    (args,) = history.arguments("grid_intensity")
    assert (args["region"], args["start_date"]) == ("gb", "2026-07-14")
    (profile,) = tool_outputs(history, "grid_intensity")
    assert profile["raw_points"] == 48  # a whole local day of 30-minute points
    assert profile["points"][0][0].startswith("2026-07-13T23:00:00")
    assert " BST (" in history.result.report
    history.assert_grounded()


async def test_winter_window_shows_one_time() -> None:
    out = await ask("When should I charge my EV tomorrow after 6pm?")
    report = out.result.report
    (best,) = tool_outputs(out, "grid_best_window")
    start = datetime.fromisoformat(best["window"]["start"])
    assert f"2026-03-19 {start:%H:%M}-" in report
    assert " GMT" in report
    assert " UTC" not in report.split("## Data provenance")[0]


@pytest.mark.parametrize(("day", "points"), [("2026-03-29", 92), ("2026-10-25", 100)])
async def test_clock_change_days_are_whole_local_days(day: str, points: int) -> None:
    out = await ask(f"How green was the grid on {day}?", now=datetime(2026, 11, 26, tzinfo=UTC))
    (args,) = out.arguments("grid_intensity")
    assert (args["start_date"], args["end_date"]) == (day, day)
    (profile,) = tool_outputs(out, "grid_intensity")
    assert profile["raw_points"] == points  # 23 or 25 hours of 15-minute points
    out.assert_grounded()


async def test_follow_up_uses_history() -> None:
    history = (HistoryPair("When should I charge my EV today in GB?", "(earlier answer)"),)
    out = await ask("And tomorrow?", history=history)
    (args,) = out.arguments("grid_best_window")
    assert (args["region"], args["date"], args["duration_hours"]) == ("gb", "2026-03-19", 4.0)
    out.assert_grounded()


async def test_step_output_carries_hidden_facts_not_the_report() -> None:
    out = await ask("How green was the grid last week?")
    carbon_request = next(r for r in out.provider.requests if r.hints.get("role") == "report")
    (earlier,) = carbon_request.hints["earlier_outputs"]
    assert "<!-- offline-facts " in earlier["output"]
    assert "offline-facts" not in out.result.report
    # No language model ran: no tokens, the engine's CPU time instead.
    assert (out.result.usage.input_tokens, out.result.usage.output_tokens) == (0, 0)
    assert out.result.usage.cpu_ms > 0


async def test_emission_factors_lookup() -> None:
    out = await ask("What are the emission factors for diesel?")
    assert out.kinds == ["carbon", "report"]
    assert out.arguments("emission_factors") == [{"category": "diesel"}]
    assert "2.51233 kgCO2e per litre" in out.result.report
    out.assert_grounded()


async def test_single_named_lever_with_percentage() -> None:
    out = await ask("What would happen if we cut flights by 50%?")
    (args,) = out.arguments("reduction_scenarios")
    levers = (args["shift_electricity_pct"], args["fleet_switch_pct"], args["cut_flights_pct"])
    assert levers == (None, None, 50.0)
    assert "cut flights" in out.result.report
    out.assert_grounded()


async def test_too_long_range_is_narrowed_once() -> None:
    out = await ask("How green was the grid from 2024-01-01 to 2025-06-30?")
    ranges = [(a["start_date"], a["end_date"]) for a in out.arguments("grid_intensity")]
    assert ranges == [("2024-01-01", "2025-06-30"), ("2024-06-30", "2025-06-30")]
    assert "too long" in out.result.report  # the tool's refusal is quoted, not hidden
    out.assert_grounded()


async def test_checker_flags_a_tampered_real_report() -> None:
    out = await ask("How green was the grid last week?")
    out.assert_grounded()
    tampered = re.sub(r"averaged \d+ gCO2/kWh", "averaged 987,654 gCO2/kWh", out.result.report)
    assert tampered != out.result.report
    assert ungrounded_numbers(tampered, out.grounding()) == ["987,654"]


@pytest.mark.parametrize(
    "question",
    [
        "When is the cleanest time to run my washing machine this weekend?",
        "best time to charge the car next Monday in the UK",
        "What is the greenest 90 minutes tomorrow on the all-island grid?",
        "How green was the grid in January?",
        "carbon intensity past 30 days in Northern Ireland",
        "Compare the grid in 2025-01 and 2025-02",
        "Estimate scope 1 and 2 emissions for a hotel with 80 staff and 2 sites",
        "How much CO2 does a logistics company with 25 trucks emit in 2025?",
        "Show me order statistics for a manufacturing business",
        "When is the best time between 9am and 5pm tomorrow to run the washing machine?",
        "When should I run my heat pump tonight?",
        "Reduce our footprint by shifting 40% of electricity to cleaner hours; we have 120 staff",
    ],
)
async def test_more_questions_complete_with_grounded_numbers(question: str) -> None:
    out = await ask(question)
    assert out.kinds[-1] == "report"
    assert out.tools, "every one of these questions needs at least one tool"
    assert out.failed_tools() == []
    out.assert_grounded()
