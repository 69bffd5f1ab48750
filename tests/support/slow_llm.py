"""A run made slow honestly: the fake OpenAI server as a process, answering one fixed plan.

The real-server tests (live SSE, scale-out) and ``bench/sse.py`` point the service's
``openai_chat`` provider at it: the production code path, each model call delayed upstream.
A run makes three model calls (plan, carbon step, report step).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

from tests.fakes.openai_server import Turn, run_process

__all__ = ["PLAN", "PLANNER_MODEL", "QUESTION", "STEP_MODEL", "provider_env", "slow_fake_llm"]

PLANNER_MODEL = "fake-planner"
STEP_MODEL = "fake-step"
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
PLAN = {
    "steps": [
        {"kind": "carbon", "task": "Estimate the footprint of 1,000 kWh"},
        {"kind": "report", "task": "Write the report"},
    ],
    "notes": None,
}
_STEP_ANSWER = "## Result\n\n1,000 kWh is about **300 kg CO2e**."


@contextlib.contextmanager
def slow_fake_llm(
    directory: Path, *, latency_ms: float, event_delay_ms: float = 0.0
) -> Iterator[str]:
    """The fake server answering every model call after ``latency_ms``; yields its base URL."""
    by_model = {
        PLANNER_MODEL: Turn(text=msgspec.json.encode(PLAN).decode()),
        STEP_MODEL: Turn(text=_STEP_ANSWER),
    }
    with run_process(
        directory, by_model=by_model, latency_ms=latency_ms, event_delay_ms=event_delay_ms
    ) as base_url:
        yield base_url


def provider_env(base_url: str) -> dict[str, str]:
    """Service environment that sends both the planner's and the steps' calls to the fake."""
    return {
        "APP__LLM__PROVIDER": "openai_chat",
        "APP__LLM__MODEL": STEP_MODEL,
        "APP__ASSISTANTS__PLANNER__MODEL": PLANNER_MODEL,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-test-dummy",
    }
