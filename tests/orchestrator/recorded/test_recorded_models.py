"""The recorded-model tier: misbehaving OpenAI-compatible servers, replayed over real HTTP.

Each transcript (``transcripts/*.json``, see ``make_transcripts.py``) is replayed byte for
byte by :mod:`tests.fakes.replay_server` to the real providers (``openai_chat`` for
llama-server's Chat Completions, ``openai`` for the Responses API), through the real ``openai``
SDK and the real state machine and tools. Every run must end in a defined, useful state: the
terminal event and its code, the grounding verdict, how many requests the server got, and
well inside the step timeout (a runaway model must never cost the step timeout).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from orchestrator import Orchestrator, RunContext
from orchestrator.config import BudgetConfig, LLMConfig
from orchestrator.events import AgentThinking, Completed, ErrorEvent, ToolExecution
from orchestrator.machine import RunResult
from orchestrator.providers.base import Provider
from orchestrator.providers.openai_chat import OpenAIChatProvider
from orchestrator.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes.openai_server import Call, FakeOpenAI, Turn, serve
from tests.fakes.replay_server import ReplayServer, Transcript, load_transcript, record, replay
from tests.orchestrator.recorded.make_transcripts import (
    CARBON_TEXT,
    PLAN,
    QUESTION,
    REPORT,
    TOOL,
    TOOL_ARGS,
)

TRANSCRIPTS = Path(__file__).parent / "transcripts"
NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
STEP_TIMEOUT_S = 20.0
BUDGETS = BudgetConfig(step_timeout_s=STEP_TIMEOUT_S, retry_backoff_s=0.01)


class Outcome(msgspec.Struct, kw_only=True):
    result: RunResult
    server: ReplayServer
    seconds: float

    @property
    def terminal(self) -> Completed | ErrorEvent:
        last = self.result.events[-1]
        assert isinstance(last, Completed | ErrorEvent)
        return last

    def thinking(self) -> list[str]:
        return [e.message for e in self.result.events if isinstance(e, AgentThinking)]

    def tool_statuses(self) -> list[tuple[str, str]]:
        return [
            (e.data.tool, e.data.status) for e in self.result.events if isinstance(e, ToolExecution)
        ]


def _provider(api: str, base_url: str) -> Provider:
    config = LLMConfig(
        provider="openai_chat" if api == "chat" else "openai",
        base_url=base_url,
        api_key="local",
        model="local-model",
    )
    if api == "chat":
        return OpenAIChatProvider(config)
    return OpenAIResponsesProvider(config)


async def _replay(name: str, budgets: BudgetConfig = BUDGETS) -> Outcome:
    return await _replay_transcript(load_transcript(TRANSCRIPTS / f"{name}.json"), budgets)


async def _replay_transcript(transcript: Transcript, budgets: BudgetConfig = BUDGETS) -> Outcome:
    async with replay(transcript) as (base_url, server):
        orchestrator = Orchestrator(
            _provider(transcript.api, base_url), budgets=budgets, clock=lambda: NOW
        )
        started = time.perf_counter()
        try:
            result = await orchestrator.ask(QUESTION, RunContext(now=NOW))
        finally:
            await orchestrator.aclose()
        seconds = time.perf_counter() - started
    assert seconds < STEP_TIMEOUT_S, f"{transcript.description} took {seconds:.1f} s"
    return Outcome(result=result, server=server, seconds=seconds)


def _grounding(outcome: Outcome) -> dict[str, Any]:
    terminal = outcome.terminal
    assert isinstance(terminal, Completed)
    assert terminal.data.grounding is not None
    grounding: dict[str, Any] = msgspec.to_builtins(terminal.data.grounding)
    return grounding


async def test_a_runaway_plan_is_cut_by_the_output_cap_and_planned_again() -> None:
    out = await _replay("runaway_plan_chat")
    assert isinstance(out.terminal, Completed)
    assert len(out.server.requests) == 5
    planner = out.server.requests[0]
    # The bounds that stop a grammar-constrained model: an output cap and maxItems.
    assert planner["max_tokens"] == BudgetConfig().planner_max_output_tokens
    steps = planner["response_format"]["json_schema"]["schema"]["properties"]["steps"]
    assert (steps["minItems"], steps["maxItems"]) == (1, 3)
    assert out.server.requests[2]["max_tokens"] == BudgetConfig().step_max_output_tokens
    assert out.server.requests[4]["max_tokens"] == BudgetConfig().report_max_output_tokens
    assert any("cut off at the output token limit" in m for m in out.thinking())
    assert "cut off" in out.server.requests[1]["messages"][-1]["content"]
    assert _grounding(out) == {
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


async def test_plans_cut_off_every_time_end_in_planner_invalid_at_once() -> None:
    out = await _replay("runaway_plan_twice_responses")
    terminal = out.terminal
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "planner_invalid"
    assert "cut off at the output token limit" in terminal.data.error
    assert len(out.server.requests) == 2  # planner_retries = 1
    assert out.server.requests[0]["max_output_tokens"] == 600
    assert out.seconds < 5


async def test_plans_cut_off_fall_back_to_the_default_plan_when_configured() -> None:
    budgets = msgspec.structs.replace(BUDGETS, default_plan_on_invalid=True)
    out = await _replay("runaway_plan_twice_responses", budgets)
    # The default plan's carbon step finds the transcript exhausted: the replay server's 500.
    terminal = out.terminal
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.step == "carbon"
    assert out.result.plan is not None
    assert [s.kind for s in out.result.plan.steps] == ["carbon", "analysis", "report"]


async def test_unparsable_json_is_retried_and_a_step_cut_off_twice_fails_clearly() -> None:
    out = await _replay("cut_off_json_and_step_responses")
    terminal = out.terminal
    assert isinstance(terminal, ErrorEvent)
    assert (terminal.data.code, terminal.data.step) == ("llm_output_truncated", "carbon")
    assert "after it was asked for at most 800 words" in terminal.data.error
    assert len(out.server.requests) == 5
    retry = out.server.requests[4]["input"][-1]
    assert retry["role"] == "user"
    assert "at most 800 words" in retry["content"]
    assert "not a valid plan JSON object" in out.server.requests[1]["input"][-1]["content"]


async def test_a_report_echoing_its_prompt_is_rejected_then_fails() -> None:
    out = await _replay("echoed_prompt_chat")
    terminal = out.terminal
    assert isinstance(terminal, ErrorEvent)
    assert (terminal.data.code, terminal.data.step) == ("llm_echoed_prompt", "report")
    assert len(out.server.requests) == 5
    assert "repeated the prompt" in out.server.requests[4]["messages"][-1]["content"]
    assert out.result.report == ""  # no echo is ever delivered as an answer


async def test_no_data_step_and_no_tool_calls_are_retried_then_flagged() -> None:
    out = await _replay("no_tool_calls_chat")
    assert isinstance(out.terminal, Completed)
    assert len(out.server.requests) == 6
    assert "needs data" in out.server.requests[1]["messages"][-1]["content"]
    assert "called no tool" in out.server.requests[3]["messages"][-1]["content"]
    assert "150" in out.server.requests[5]["messages"][-1]["content"]
    assert _grounding(out) == {
        "status": "flagged",
        "ungrounded_numbers": ["150"],
        "checks": {
            "data_question": True,
            "data_step": "ok",
            "tools_called": "failed",
            "numbers": "failed",
            "echo": "ok",
        },
        "retried": ["data_step", "tools_called", "numbers"],
    }


async def test_malformed_tool_arguments_go_back_to_the_model_and_the_run_recovers() -> None:
    out = await _replay("malformed_tool_arguments_chat")
    assert isinstance(out.terminal, Completed)
    assert len(out.server.requests) == 5
    assert out.tool_statuses() == [
        ("grid_best_window", "started"),
        ("grid_best_window", "failed"),
        ("grid_best_window", "started"),
        ("grid_best_window", "finished"),
    ]
    assert _grounding(out)["status"] == "ok"


async def test_an_unknown_tool_goes_back_to_the_model_and_the_run_recovers() -> None:
    out = await _replay("unknown_tool_responses")
    assert isinstance(out.terminal, Completed)
    assert len(out.server.requests) == 5
    error = out.server.requests[2]["input"][-1]
    assert error["type"] == "function_call_output"
    assert "unknown tool 'get_weather'" in error["output"]
    assert _grounding(out)["status"] == "ok"


@pytest.mark.parametrize("name", ["stale_connection_chat", "stale_connection_responses"])
async def test_a_stale_connection_is_retried_at_once_without_using_a_retry(name: str) -> None:
    # No provider retries at all: a retry that used the budget would fail the run.
    out = await _replay(name, msgspec.structs.replace(BUDGETS, provider_retries=0))
    assert isinstance(out.terminal, Completed)
    assert len(out.server.requests) == 5
    assert out.server.requests[1] == out.server.requests[2]  # the same request, sent again
    assert out.server.connections == 2
    assert not any("retrying" in m for m in out.thinking())
    assert _grounding(out)["status"] == "ok"


async def test_a_500_for_an_unparsable_request_is_not_retried() -> None:
    out = await _replay(
        "validation_error_500_chat", msgspec.structs.replace(BUDGETS, provider_retries=3)
    )
    terminal = out.terminal
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "llm_bad_response"
    assert "validation error" in terminal.data.error
    assert len(out.server.requests) == 1


async def test_a_run_recorded_through_the_recorder_replays_to_the_same_end() -> None:
    fake = FakeOpenAI()
    fake.script(
        Turn(text=PLAN),
        Turn(tool_calls=(Call(TOOL, TOOL_ARGS),)),
        Turn(text=CARBON_TEXT),
        Turn(text=REPORT),
    )
    async with serve(fake) as upstream, record(upstream, api="chat") as (base_url, recorder):
        orchestrator = Orchestrator(_provider("chat", base_url), budgets=BUDGETS, clock=lambda: NOW)
        try:
            live = await orchestrator.ask(QUESTION, RunContext(now=NOW))
        finally:
            await orchestrator.aclose()
    assert live.status == "completed"
    transcript = recorder.transcript("recorded from the fake server")
    assert len(transcript.exchanges) == 4
    assert transcript.exchanges[-1].sse[-1] == "data: [DONE]"
    # The file form round-trips, and replaying it ends the same way with the same requests.
    transcript = msgspec.json.decode(msgspec.json.encode(transcript), type=Transcript)
    out = await _replay_transcript(transcript)
    assert isinstance(out.terminal, Completed)
    assert out.result.report == live.report == REPORT
    assert out.server.requests == fake.bodies("/chat/completions")
    assert _grounding(out)["status"] == "ok"
