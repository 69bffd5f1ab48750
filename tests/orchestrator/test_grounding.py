"""Grounding checks: the module's pieces, and the machine applying them to model answers.

Runs use the real default assistants, the real catalog tools and a scripted model (the recorded
tier, tests/orchestrator/recorded/, replays the same through the real SDK over HTTP).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from orchestrator import Orchestrator, RunContext
from orchestrator.config import BudgetConfig, OrchestratorSettings, ToolsConfig
from orchestrator.events import AgentThinking, Completed
from orchestrator.grounding import Sources, echoes_prompt, needs_data, ungrounded_numbers
from orchestrator.machine import RunResult
from orchestrator.providers.base import ProviderUnavailable
from orchestrator.providers.scripted import Fail, Reply, ScriptedProvider, plan_reply, tool_call

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
QUESTION = "When is the cleanest 3 hours to run the dishwasher in Ireland tomorrow?"
PLAN = plan_reply(("carbon", "Find the cleanest 3-hour window."), ("report", "Write it up."))
CALL = tool_call("grid_best_window", {"region": "ie", "duration_hours": 3}, "c1")
FINDINGS = "Cleanest: 01:45 to 04:45 on 2026-03-19, mean 200.57 gCO2/kWh (synthetic)."
REPORT = "Run it from 01:45 to 04:45 on 2026-03-19, at about 201 gCO2/kWh (16.7% below now)."


# --------------------------------------------------------------------------- the pieces


def test_figures_are_grounded_by_a_source_or_a_rounding_of_one() -> None:
    sources = Sources()
    sources.add_json('{"mean": 200.57, "start": "2026-03-19T01:45:00Z", "total_kg": 12345.6}')
    sources.add_text(QUESTION)
    report = "3 hours from 01:45 on 2026-03-19: 201 (200.6) gCO2/kWh, 12.3 tCO2e."
    assert ungrounded_numbers(report, sources) == []
    assert ungrounded_numbers("about 150 gCO2/kWh at 23:00", sources) == ["23:00", "150"]


def test_an_echo_is_told_from_an_answer_that_quotes_the_question() -> None:
    prompt = (
        f"Question: {QUESTION}\nNow (UTC): 2026-03-18T09:00:00+00:00\nPlan:\n"
        "1. carbon: Find the cleanest 3-hour window.\n2. report: Write it up.\n"
        "Your task (step 2 of 2, report): Write it up."
    )
    assert echoes_prompt(prompt, prompt)
    assert echoes_prompt(prompt.split("\nPlan:")[0], prompt)
    answer = f'You asked: "{QUESTION}" {REPORT} Delaying the load saves carbon at no cost.'
    assert not echoes_prompt(answer, prompt)
    assert not echoes_prompt("OK.", prompt)


def test_data_questions_are_read_as_the_offline_engine_reads_them() -> None:
    today = date(2026, 3, 18)
    assert needs_data({"question": QUESTION}, today)
    assert needs_data({"question": "What is the footprint of a bakery with 12 staff?"}, today)
    assert not needs_data({"question": "Hello there!"}, today)
    assert not needs_data({"question": "Who won the 1998 World Cup?"}, today)


# ------------------------------------------------------------------------- the machine


async def _run(script: dict[str, list[Reply | Fail]], **budgets: Any) -> RunResult:
    provider = ScriptedProvider(script)
    orchestrator = Orchestrator(
        provider, budgets=BudgetConfig(retry_backoff_s=0.001, **budgets), clock=lambda: NOW
    )
    try:
        return await orchestrator.ask(QUESTION, RunContext(now=NOW))
    finally:
        await orchestrator.aclose()


def _verdict(result: RunResult) -> dict[str, Any]:
    completed = result.events[-1]
    assert isinstance(completed, Completed)
    assert completed.data.grounding == result.grounding
    verdict: dict[str, Any] = msgspec.to_builtins(completed.data.grounding)
    return verdict


async def test_a_grounded_run_completes_with_an_ok_verdict_and_no_extra_calls() -> None:
    result = await _run(
        {
            "planner": [PLAN],
            "carbon": [Reply(tool_calls=(CALL,)), Reply(text=FINDINGS)],
            "report": [Reply(text=REPORT)],
        }
    )
    assert result.status == "completed"
    assert result.usage.messages == 5  # 4 model calls and 1 tool result
    assert _verdict(result) == {
        "status": "ok",
        "ungrounded_numbers": [],
        "checks": {
            "data_question": True,
            "data_step": "ok",
            "tools_called": "ok",
            "numbers": "ok",
            "echo": "ok",
        },
        "retried": [],
    }


async def test_an_invented_figure_is_asked_again_once_and_a_corrected_report_is_ok() -> None:
    invented = "Run it at 02:00, at about 150 gCO2/kWh."
    provider_script: dict[str, list[Reply | Fail]] = {
        "planner": [PLAN],
        "carbon": [Reply(tool_calls=(CALL,)), Reply(text=FINDINGS)],
        "report": [Reply(text=invented), Reply(text=REPORT)],
    }
    result = await _run(provider_script)
    verdict = _verdict(result)
    assert (verdict["status"], verdict["retried"]) == ("ok", ["numbers"])
    assert result.report == REPORT
    asked = [e.message for e in result.events if isinstance(e, AgentThinking)]
    assert any("02:00, 150" in message for message in asked)


async def test_with_the_checks_off_nothing_is_asked_again_and_the_run_is_unchecked() -> None:
    result = await _run(
        {
            "planner": [plan_reply(("report", "Answer."))],
            "report": [Reply(text="Overnight, at about 150 gCO2/kWh.")],
        },
        grounding_checks=False,
    )
    assert result.status == "completed"
    assert _verdict(result)["status"] == "unchecked"


async def test_offline_runs_are_unchecked_the_engine_grounds_its_reports() -> None:
    settings = OrchestratorSettings(tools=ToolsConfig(render_processes=0))
    orchestrator = Orchestrator.from_settings(settings)
    try:
        result = await orchestrator.ask(QUESTION, RunContext(now=NOW))
    finally:
        await orchestrator.aclose()
    assert result.status == "completed"
    assert _verdict(result)["status"] == "unchecked"


async def test_a_retry_log_line_carries_the_error_message(
    captured_logs: list[MutableMapping[str, Any]],
) -> None:
    down = Fail(error=ProviderUnavailable("openai chat completions: server error (HTTP 503): busy"))
    result = await _run(
        {
            "planner": [down, plan_reply(("report", "Answer."))],
            "report": [Reply(text="Run it overnight.")],
        },
        grounding_checks=False,  # a plan without a data step: this test is about the log
    )
    assert result.status == "completed"
    retries = [line for line in captured_logs if line["event"] == "run.provider_retry"]
    assert [line["error"] for line in retries] == [
        "openai chat completions: server error (HTTP 503): busy"
    ]


async def test_a_report_restating_the_findings_word_for_word_is_no_echo() -> None:
    result = await _run(
        {
            "planner": [PLAN],
            "carbon": [Reply(tool_calls=(CALL,)), Reply(text=FINDINGS)],
            "report": [Reply(text=f"## Answer\n\n{FINDINGS}")],
        }
    )
    assert result.status == "completed"
    assert _verdict(result)["retried"] == []
