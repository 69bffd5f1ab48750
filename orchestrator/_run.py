"""The record of one run: its counters, its events, and what its tools produced.

A :class:`RunRecord` is the bookkeeping the state machine (:mod:`orchestrator.machine`) keeps
while it drives a run: the ``seq`` and never-decreasing ``progress`` every event carries, the
events themselves (built here, so every one has the same head and the same agent labels),
token and tool usage, the steps' outputs, and the provenance and charts of the tools'
results. It also holds the two cooperative-cancellation flags :meth:`Orchestrator.cancel`
sets, because only the record knows when an ``emit`` has returned.

At each step boundary (the start, the plan, a completed step, a tool call's start and end) the
record hands a
:class:`orchestrator.checkpoint.Checkpoint` of itself to the run's checkpointer just before it
emits the boundary event, and :meth:`RunRecord.restore` puts a checkpoint back, so a run can
continue where another process left it (:mod:`orchestrator.checkpoint`).

It never moves the run between states: the machine's subclass does, along its transition
table, so the states and the table stay in one place. The record is kept apart so the machine
module reads as the states and the loop, not as event plumbing.

:class:`RunFailure` lives here too: a failure is what the record's terminal ``error`` event
reports, by one of the stable codes of :mod:`orchestrator.error_codes`.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import structlog

from orchestrator.checkpoint import Checkpoint, Checkpointer, StepCheckpoint, StepOutput
from orchestrator.context import RunContext
from orchestrator.error_codes import ERROR_CODES, ErrorCode
from orchestrator.events import (
    AgentResponse,
    AgentResponseData,
    AgentThinking,
    AgentThinkingData,
    ChartRef,
    Completed,
    CompletedData,
    DataSourceRef,
    ErrorData,
    ErrorEvent,
    Event,
    GroundingVerdict,
    Resumed,
    ResumedData,
    RunUsage,
    Started,
    StartedData,
    StepUsage,
    ToolExecution,
    ToolExecutionData,
    utc_timestamp,
)
from orchestrator.plan import Plan, plan_refs
from tools.catalog_types import ChartOutput, ToolOutput

if TYPE_CHECKING:
    from orchestrator.machine import State

__all__ = [
    "AGENT_LABELS",
    "ERROR_CODES",
    "Clock",
    "Emit",
    "EmitFailed",
    "RunFailure",
    "RunRecord",
    "agent_label",
]

log = structlog.get_logger("orchestrator")


AGENT_LABELS: Final[dict[str, str]] = {
    "system": "System",
    "planner": "Planner",
    "carbon": "Carbon assistant",
    "analysis": "Analysis assistant",
    "report": "Report assistant",
}


def agent_label(agent: str) -> str:
    """The name events use for an agent (``water`` -> ``Water assistant`` for an added one)."""
    return AGENT_LABELS.get(agent) or f"{agent.replace('_', ' ').capitalize()} assistant"


Emit = Callable[[Event], Awaitable[None]]
Clock = Callable[[], datetime]


class RunFailure(Exception):
    """Ends the run with an ``error`` event carrying ``code``."""

    def __init__(
        self, code: ErrorCode, detail: str, *, step: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.step = step
        self.retryable = retryable


class EmitFailed(Exception):
    """The consumer's ``emit`` raised: the run cannot report, so its error propagates as is."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class RunRecord(ABC):
    """Mutable state of one run: seq/progress counters, usage, events, collected outputs."""

    # Where the run is (:class:`orchestrator.machine.State`): only the machine moves it.
    state: State

    def __init__(
        self,
        *,
        run_id: str,
        question: str,
        context: RunContext,
        now: datetime,
        emit: Emit | None,
        clock: Clock,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self.run_id = run_id
        self.question = question
        self.context = context
        self.now_iso = now.astimezone(UTC).isoformat()
        self._emit = emit
        self._clock = clock
        self.started = time.perf_counter()
        self.state_since = self.started  # when the run entered its current state
        self.seq = 0
        self.progress = 0
        self.events: list[Event] = []
        self.usage = RunUsage()
        self.plan: Plan | None = None
        self.outputs: list[tuple[str, str]] = []
        self.sources: dict[tuple[str, str, bool, str, str | None], DataSourceRef] = {}
        self.charts: dict[str, ChartRef] = {}
        # Every tool result of the run as the model payload, by call id (the ``ref`` a model
        # reads in its compact view of the result).
        self.tool_results: dict[str, Any] = {}
        self.cancel_requested = False
        self.cancel_pending = False
        self.task: asyncio.Task[Any] | None = None
        self.deadline = 0.0  # loop time when the run's time limit ends (set when it starts)
        self.checkpointer = checkpointer
        self.attempt = 0  # resumes before this attempt (0: the run's first attempt)
        # The state of the step in progress, for checkpoints (set by the step, None between).
        self.step_checkpoint: Callable[[], StepCheckpoint] | None = None
        self.log = log.bind(
            **{
                **{key: value for key, value in context.metadata.items() if key != "event"},
                "run_id": run_id,
                "conversation_id": context.conversation_id,
                "user_id": context.user_id,
            }
        )

    @property
    @abstractmethod
    def ended(self) -> bool:
        """Whether the run is in a terminal state (a pending cancellation no longer applies)."""

    # -- budgets ---------------------------------------------------------------------------

    def count_messages(self, count: int, step: str, limit: int) -> None:
        """Count model calls and tool results against the run's budget of ``limit``."""
        if self.usage.messages + count > limit:
            raise RunFailure(
                "budget_exhausted",
                f"the run exceeded its budget of {limit} messages",
                step=step,
            )
        self.usage.messages += count

    # -- events ----------------------------------------------------------------------------

    async def emit(self, event: Event, *, boundary: bool = False) -> None:
        """Deliver ``event``; a ``boundary`` event is preceded by the checkpoint it ends."""
        if boundary and self.checkpointer is not None:
            await self.checkpointer.save(self.snapshot(event.seq))
        self.events.append(event)
        if self._emit is not None:
            try:
                await self._emit(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise EmitFailed(exc) from exc
            if self.cancel_pending and not self.ended:
                # Orchestrator.cancel() was called from inside this run's own emit callback.
                self.cancel_pending = False
                raise asyncio.CancelledError

    def _head(self, progress: int) -> tuple[int, str, int]:
        self.seq += 1
        self.progress = max(self.progress, min(progress, 100))
        return self.seq, utc_timestamp(self._clock()), self.progress

    async def started_event(self) -> None:
        seq, ts, progress = self._head(0)
        await self.emit(
            Started(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name="system",
                message="Run started",
                data=StartedData(
                    progress=progress,
                    run_id=self.run_id,
                    conversation_id=self.context.conversation_id,
                    question=self.question,
                    user_id=self.context.user_id,
                    metadata=dict(self.context.metadata),
                ),
            ),
            boundary=True,  # the first checkpoint: a run that dies now resumes by planning
        )

    async def thinking(
        self,
        agent: str,
        message: str,
        *,
        progress: int | None = None,
        step_index: int | None = None,
        partial_text: str | None = None,
        with_plan: bool = False,
    ) -> None:
        seq, ts, current = self._head(self.progress if progress is None else progress)
        step = agent if agent != "planner" else None
        await self.emit(
            AgentThinking(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name=agent,
                message=f"{agent_label(agent)}: {message}",
                data=AgentThinkingData(
                    progress=current,
                    state=str(self.state),
                    step=step,
                    step_index=step_index,
                    partial_text=partial_text,
                    plan=plan_refs(self.plan) if with_plan and self.plan is not None else None,
                ),
            )
        )

    async def response(
        self,
        agent: str,
        output: str,
        usage: StepUsage,
        *,
        progress: int,
        step_index: int | None,
        duration_ms: float,
        summary: str | None = None,
        interpretation: dict[str, Any] | None = None,
    ) -> None:
        """The step's (or planner's) answer: a boundary, checkpointed with the outputs."""
        seq, ts, current = self._head(progress)
        what = summary or f"finished in {duration_ms / 1000:.1f} s"
        await self.emit(
            AgentResponse(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name=agent,
                message=f"{agent_label(agent)}: {what}",
                data=AgentResponseData(
                    progress=current,
                    step=agent,
                    step_index=step_index,
                    output=output,
                    usage=usage,
                    duration_ms=round(duration_ms, 3),
                    interpretation=interpretation,
                ),
            ),
            boundary=True,
        )

    async def tool_event(self, agent: str, message: str, data: ToolExecutionData) -> None:
        """A call started, finished or failed: each a boundary (a checkpoint says which call
        may have run)."""
        seq, ts, current = self._head(data.progress)
        data.progress = current
        await self.emit(
            ToolExecution(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name=agent,
                message=f"{agent_label(agent)}: {message}",
                data=data,
            ),
            boundary=True,
        )

    async def resumed_event(self, reason: str) -> None:
        """Say where a resumed run goes on: planning, the first step not completed, or
        (every step done) its completion."""
        from_step, step_index = "planner", None
        if self.plan is not None:
            done = len(self.outputs)
            from_step, step_index = (
                (self.plan.steps[done].kind, done)
                if done < len(self.plan.steps)
                else ("completed", None)
            )
        seq, ts, current = self._head(self.progress)
        where = f"step {step_index + 1} ({from_step})" if step_index is not None else from_step
        await self.emit(
            Resumed(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name="system",
                message=f"Run resumed at {where} (resume {self.attempt})",
                data=ResumedData(
                    progress=current,
                    from_step=from_step,
                    step_index=step_index,
                    attempt=self.attempt,
                    reason=reason,
                ),
            )
        )

    async def completed_event(
        self, report: str, plan: Plan, grounding: GroundingVerdict | None = None
    ) -> None:
        seq, ts, current = self._head(100)
        duration_ms = (time.perf_counter() - self.started) * 1000
        await self.emit(
            Completed(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name="system",
                message=f"Run completed in {duration_ms / 1000:.1f} s",
                data=CompletedData(
                    progress=current,
                    full_content=report,
                    final_response=report,
                    plan=plan_refs(plan),
                    usage=self.usage,
                    sources=list(self.sources.values()),
                    charts=list(self.charts.values()),
                    duration_ms=round(duration_ms, 3),
                    grounding=grounding,
                ),
            )
        )

    async def error_event(self, failure: RunFailure) -> ErrorData:
        """Emit the terminal ``error`` event; ``self.usage`` must be finished first."""
        seq, ts, current = self._head(self.progress)
        data = ErrorData(
            progress=current,
            code=failure.code,
            error=failure.detail,
            step=failure.step,
            retryable=failure.retryable,
            plan=plan_refs(self.plan) if self.plan is not None else None,
            usage=self.usage,
        )
        summary = ERROR_CODES.get(failure.code, failure.code)
        await self.emit(
            ErrorEvent(
                run_id=self.run_id,
                seq=seq,
                timestamp=ts,
                agent_name="system",
                message=f"Run {'cancelled' if failure.code == 'cancelled' else 'failed'}: "
                f"{summary} ({failure.code})",
                data=data,
            )
        )
        return data

    # -- checkpoints -----------------------------------------------------------------------

    def snapshot(self, seq: int) -> Checkpoint:
        """The run's resumable state as of the boundary event numbered ``seq``."""
        return Checkpoint(
            run_id=self.run_id,
            seq=seq,
            attempt=self.attempt,
            progress=self.progress,
            now=self.now_iso,
            plan=self.plan,
            outputs=[StepOutput(kind, output) for kind, output in self.outputs],
            usage=self.usage,
            sources=list(self.sources.values()),
            charts=list(self.charts.values()),
            step=self.step_checkpoint() if self.step_checkpoint is not None else None,
        )

    def restore(self, checkpoint: Checkpoint, *, last_seq: int, progress: int) -> None:
        """Continue from ``checkpoint``; events up to ``last_seq`` exist (seq goes on after
        it) and ``progress`` was reached (it never goes back)."""
        self.seq = max(checkpoint.seq, last_seq)
        self.progress = max(checkpoint.progress, progress)
        self.now_iso = checkpoint.now
        self.attempt = checkpoint.attempt + 1
        self.plan = checkpoint.plan
        self.outputs = [(done.kind, done.output) for done in checkpoint.outputs]
        self.usage = checkpoint.usage
        self.sources = {
            (s.name, s.kind, s.synthetic, s.detail, s.url): s for s in checkpoint.sources
        }
        self.charts = {chart.id: chart for chart in checkpoint.charts}

    # -- collected outputs -----------------------------------------------------------------

    def collect(self, result: object) -> str | None:
        """Record provenance and charts of a tool result; return its one-line summary."""
        summary: str | None = None
        if isinstance(result, ToolOutput):
            summary = result.summary()
            for source in result.data_sources():
                key = (source.name, source.kind, source.synthetic, source.detail, source.url)
                self.sources.setdefault(
                    key,
                    DataSourceRef(
                        name=source.name,
                        kind=source.kind,
                        synthetic=source.synthetic,
                        detail=source.detail,
                        url=source.url,
                    ),
                )
        if isinstance(result, ChartOutput):
            self.charts[result.chart_id] = ChartRef(
                id=result.chart_id, title=result.title, svg=result.svg
            )
            summary = summary or f"chart '{result.title}'"
        return summary
