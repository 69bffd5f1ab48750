"""Run metrics from the run service's events, and LLM metrics from the orchestrator's observer.

The run service calls :class:`RunMetrics` where runs are accepted, refused and ended, and for
every event it persisted (``app.runs.service``): the events already carry step durations,
tool names, statuses and durations, and the terminal outcome with its error code, so nothing
inside the state machine is instrumented for them. What events do not carry (each model call
with its provider and model, tokens, cost, failed attempts and retries) arrives through the
orchestrator's :class:`~orchestrator.RunObserver` hook, which this class implements too.

Offline turns are not LLM calls (no language model ran): they count nowhere here, exactly as
in a run's usage, so ``sca_llm_tokens_total`` always equals the sum of the runs' usage.
"""

from __future__ import annotations

import time
from typing import Final

from app.metrics.registry import Metrics
from orchestrator import (
    AgentResponse,
    Completed,
    ErrorEvent,
    Event,
    ModelCall,
    RunObserver,
    ToolExecution,
)

__all__ = ["RunMetrics"]

_TOKEN_KINDS: Final = ("input", "cached", "output", "reasoning")


class RunMetrics(RunObserver):
    """The run service's and the orchestrator's view of runs, as Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._began: dict[str, float] = {}

    # -- run service -------------------------------------------------------------------------

    def accepted(self, run_id: str) -> None:
        """A run was accepted and is about to execute in this process."""
        self._began[run_id] = time.perf_counter()
        self.metrics.runs_started.inc()
        self.metrics.runs_active.inc()

    def left(self, run_id: str) -> None:
        """The run's task in this process has ended (whatever the outcome)."""
        if self._began.pop(run_id, None) is not None:
            self.metrics.runs_active.dec()

    def refused(self, reason: str) -> None:
        """A run was refused before it started (``process_limit``, ``user_limit``, …)."""
        self.metrics.run_refusals.labels(reason=reason).inc()

    def event(self, event: Event) -> None:
        """An event the service persisted (its own terminal events included)."""
        m = self.metrics
        if isinstance(event, ToolExecution):
            data = event.data
            if data.status == "started":
                return
            tool = m.tools(data.tool)
            m.tool_calls.labels(tool=tool, status=data.status).inc()
            if data.duration_ms is not None:
                m.tool_duration.labels(tool=tool).observe(data.duration_ms / 1000)
        elif isinstance(event, AgentResponse):
            step = m.steps(event.data.step)
            m.step_duration.labels(step=step).observe(event.data.duration_ms / 1000)
        elif isinstance(event, Completed):
            m.runs_completed.inc()
            m.run_duration.labels(outcome="completed").observe(event.data.duration_ms / 1000)
        elif isinstance(event, ErrorEvent):
            m.runs_failed.labels(code=m.codes(event.data.code)).inc()
            began = self._began.get(event.run_id)
            if began is not None:  # a run of a dead process closed here has no start time
                m.run_duration.labels(outcome="failed").observe(time.perf_counter() - began)

    # -- orchestrator observer -----------------------------------------------------------------

    def model_call(self, call: ModelCall) -> None:
        m = self.metrics
        provider = m.providers(call.provider)
        model = m.models(call.model)
        if call.error_code is not None:
            code = m.codes(call.error_code)
            m.llm_errors.labels(provider=provider, model=model, code=code).inc()
            if call.retrying:
                m.llm_retries.labels(provider=provider, model=model, code=code).inc()
            return
        if not call.language_model:
            return
        m.llm_calls.labels(provider=provider, model=model).inc()
        m.llm_duration.labels(provider=provider, model=model).observe(call.duration_s)
        counts = (call.input_tokens, call.cached_tokens, call.output_tokens, call.reasoning_tokens)
        for kind, count in zip(_TOKEN_KINDS, counts, strict=True):
            m.llm_tokens.labels(provider=provider, model=model, kind=kind).inc(count)
        if call.cost_usd:
            m.llm_cost.labels(provider=provider, model=model).inc(call.cost_usd)
