"""The state machine: plan, run each planned step's assistant, execute its tools, report.

States and the ONE transition table are below; an illegal transition raises
:class:`IllegalTransition` (a bug, never a user error). A run is driven by
:meth:`Orchestrator.run` (the service's entry point: calls ``emit`` for every event, even the
terminal one on cancellation), :meth:`Orchestrator.stream` (async iterator of events) or
:meth:`Orchestrator.ask` (the final :class:`RunResult`). Every path ends in exactly one
terminal event (``completed`` or ``error``): budgets and timeouts guarantee it never hangs.

Each step's model input is the question, a history summary and the earlier steps' outputs,
not the transcript: that keeps tokens low and steps independent.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

import msgspec
import structlog

from orchestrator.accounting import add_turn, finish_run_usage, turn_cost_usd
from orchestrator.assistants import (
    ASSISTANT_NAMES,
    PLANNER,
    AssistantSpec,
    build_assistants,
    check_assistants,
    describe,
)
from orchestrator.config import (
    AccountingConfig,
    AssistantsConfig,
    BudgetConfig,
    LLMConfig,
    OrchestratorSettings,
)
from orchestrator.context import RunContext
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
    RunUsage,
    Started,
    StartedData,
    StepUsage,
    ToolExecution,
    ToolExecutionData,
    utc_timestamp,
)
from orchestrator.plan import (
    DEFAULT_PLAN,
    Plan,
    PlanInvalid,
    PlanStep,
    StepKind,
    parse_plan,
    plan_json_schema,
    plan_refs,
    render_plan,
)
from orchestrator.providers.base import (
    AssistantMessage,
    FunctionCall,
    FunctionCallOutput,
    InputItem,
    ModelRequest,
    ModelTurn,
    Provider,
    ProviderError,
    ProviderUnavailable,
    TextDelta,
    ToolCallRequest,
    UserMessage,
)
from orchestrator.registry import ToolRegistry, build_tool_services
from tools.catalog_types import ChartOutput, ToolContext, ToolError, ToolOutput, model_payload
from tools.cpu import run_cpu_bound
from tools.grid.zones import region_zone
from tools.render.executor import RENDERER_SERVICE, ChartRenderer

__all__ = [
    "AGENT_LABELS",
    "ERROR_CODES",
    "TRANSITIONS",
    "Emit",
    "IllegalTransition",
    "Orchestrator",
    "RunResult",
    "State",
    "agent_label",
]

log = structlog.get_logger("orchestrator")
# The users' clock (Ireland and Great Britain keep the same one): models are told the local
# time so they resolve "today" and "after 6pm" as the grid tools read them.
_USERS_ZONE: Final = region_zone("all")


class State(StrEnum):
    PENDING = "pending"
    PLANNING = "planning"
    RUNNING_STEP = "running_step"
    AWAITING_TOOLS = "awaiting_tools"
    REPORTING = "reporting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_END: Final = frozenset({State.FAILED, State.CANCELLED})
_TERMINAL_STATES: Final = _END | {State.COMPLETED}

# The one transition table. Steps run in RUNNING_STEP (the report step in REPORTING) and go to
# AWAITING_TOOLS while the machine executes the tool calls a model turn requested.
TRANSITIONS: Final[Mapping[State, frozenset[State]]] = {
    State.PENDING: frozenset({State.PLANNING}) | _END,
    State.PLANNING: frozenset({State.RUNNING_STEP, State.REPORTING}) | _END,
    State.RUNNING_STEP: frozenset({State.AWAITING_TOOLS, State.RUNNING_STEP, State.REPORTING})
    | _END,
    State.AWAITING_TOOLS: frozenset({State.RUNNING_STEP, State.REPORTING}) | _END,
    State.REPORTING: frozenset({State.AWAITING_TOOLS, State.COMPLETED}) | _END,
    State.COMPLETED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}

ERROR_CODES: Final[dict[str, str]] = {
    "planner_invalid": "the planner did not produce a valid plan",
    "budget_exhausted": "a run budget was exhausted",
    "step_timeout": "a step took longer than its time limit",
    "run_timeout": "the run took longer than its time limit",
    "tool_failed": "tool calls kept failing",
    "cancelled": "the run was cancelled",
    "llm_rate_limited": "the language model provider is rate limiting requests",
    "llm_timeout": "the language model provider timed out",
    "llm_unavailable": "the language model provider is unavailable",
    "llm_bad_response": "the language model returned an unusable response",
    "llm_auth_failed": "the language model provider rejected the credentials",
    "llm_refusal": "the language model refused to answer",
    "internal_error": "an internal error occurred",
}

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

_PLANNING_PROGRESS: Final = 1
_PLANNED_PROGRESS: Final = 10
_STEPS_END_PROGRESS: Final = 95
_HISTORY_ANSWER_CHARS: Final = 800
_SUMMARY_CHARS: Final = 300


class IllegalTransition(RuntimeError):
    """The machine tried a transition the table does not allow (a bug)."""


class RunResult(msgspec.Struct, kw_only=True):
    """The outcome of one run: the report (empty unless completed) and everything it emitted."""

    run_id: str
    status: Literal["completed", "failed", "cancelled"]
    report: str
    plan: Plan | None
    usage: RunUsage
    sources: list[DataSourceRef]
    charts: list[ChartRef]
    events: list[Event]
    error: ErrorData | None = None


class _RunFailure(Exception):
    """Ends the run with an ``error`` event carrying ``code``."""

    def __init__(
        self, code: str, detail: str, *, step: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.step = step
        self.retryable = retryable


class _EmitFailed(Exception):
    """The consumer's ``emit`` raised: the run cannot report, so its error propagates as is."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _current_task() -> asyncio.Task[Any] | None:
    """The running task, or None when called outside the event loop (plain sync code)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Run:
    """Mutable state of one run: seq/progress counters, state, usage, collected outputs."""

    def __init__(
        self,
        *,
        run_id: str,
        question: str,
        context: RunContext,
        now: datetime,
        emit: Emit | None,
        clock: Clock,
    ) -> None:
        self.run_id = run_id
        self.question = question
        self.context = context
        self.now_iso = now.astimezone(UTC).isoformat()
        self._emit = emit
        self._clock = clock
        self.state = State.PENDING
        self.state_since = time.perf_counter()
        self.started = self.state_since
        self.seq = 0
        self.progress = 0
        self.events: list[Event] = []
        self.usage = RunUsage()
        self.plan: Plan | None = None
        self.outputs: list[tuple[str, str]] = []
        self.sources: dict[tuple[str, str, bool, str, str | None], DataSourceRef] = {}
        self.charts: dict[str, ChartRef] = {}
        self.cancel_requested = False
        self.cancel_pending = False
        self.task: asyncio.Task[Any] | None = None
        self.deadline = 0.0  # loop time when the run's time limit ends (set when it starts)
        self.log = log.bind(
            **{
                **{key: value for key, value in context.metadata.items() if key != "event"},
                "run_id": run_id,
                "conversation_id": context.conversation_id,
                "user_id": context.user_id,
            }
        )

    # -- state ---------------------------------------------------------------------------

    def transition(self, target: State, *, step: str | None = None) -> None:
        if target not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.state} -> {target} is not an allowed transition")
        now = time.perf_counter()
        self.log.info(
            "run.transition",
            from_state=str(self.state),
            state=str(target),
            step=step,
            duration_ms=round((now - self.state_since) * 1000, 3),
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
        )
        self.state = target
        self.state_since = now

    # -- events --------------------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        self.events.append(event)
        if self._emit is not None:
            try:
                await self._emit(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _EmitFailed(exc) from exc
            if self.cancel_pending and self.state not in _TERMINAL_STATES:
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
            )
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
            )
        )

    async def tool_event(self, agent: str, message: str, data: ToolExecutionData) -> None:
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
            )
        )

    async def completed_event(self, report: str, plan: Plan) -> None:
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
                ),
            )
        )

    async def error_event(self, failure: _RunFailure) -> ErrorData:
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

    # -- collected outputs ----------------------------------------------------------------

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


class Orchestrator:
    """Runs questions through planner -> steps -> report with one provider and tool registry."""

    def __init__(
        self,
        provider: Provider,
        assistants: Mapping[str, AssistantSpec] | None = None,
        budgets: BudgetConfig = BudgetConfig(),  # noqa: B008 - frozen, immutable default
        accounting: AccountingConfig = AccountingConfig(),  # noqa: B008 - frozen default
        tools: ToolRegistry | None = None,
        tool_context_services: dict[str, Any] | None = None,
        clock: Clock = _utcnow,
        *,
        stream_delta_interval_ms: int = 100,
        use_previous_response_id: bool = False,
    ) -> None:
        self.provider = provider
        self.budgets = budgets
        self.accounting = accounting
        self.tools = tools if tools is not None else ToolRegistry.from_catalog()
        check_assistants(assistants or {})
        merged = dict(build_assistants(AssistantsConfig(), LLMConfig().model))
        merged.update(assistants or {})
        for spec in merged.values():
            missing = [name for name in spec.tools if name not in self.tools]
            if missing:
                raise ValueError(
                    f"assistant {spec.name!r} names unknown tool(s): {', '.join(missing)}"
                )
        self.assistants: dict[str, AssistantSpec] = merged
        # Every assistant but the planner is a step kind: the built-in ones, then those added.
        self.step_kinds: tuple[StepKind, ...] = tuple(name for name in merged if name != PLANNER)
        self.plan_schema = plan_json_schema(self.step_kinds)
        self._added_kinds = tuple(name for name in merged if name not in ASSISTANT_NAMES)
        self._schemas = {name: self.tools.schemas(spec.tools) for name, spec in merged.items()}
        self._services = dict(tool_context_services or {})
        self._clock = clock
        self._delta_interval_s = max(stream_delta_interval_ms, 0) / 1000
        self._use_previous_response_id = use_previous_response_id
        self._active: dict[str, _Run] = {}

    @classmethod
    def from_settings(
        cls,
        settings: OrchestratorSettings,
        *,
        tool_context_services: dict[str, Any] | None = None,
        assistants: Mapping[str, AssistantSpec] | None = None,
        tools: ToolRegistry | None = None,
    ) -> Orchestrator:
        """Build provider, assistants, tools and budgets from configuration (``config.toml``).

        ``tool_context_services`` replaces the services built from ``settings.tools`` (a host
        that wraps them, e.g. with a shared cache, builds them with ``build_tool_services``).
        ``assistants`` override or add to the configured ones; ``tools`` replaces the catalog
        registry (e.g. ``ToolRegistry.from_catalog()`` plus the embedder's own tools).
        """
        from orchestrator.providers import build_provider

        return cls(
            build_provider(settings.llm, settings.tools),
            assistants={
                **build_assistants(settings.assistants, settings.llm.model),
                **(assistants or {}),
            },
            budgets=settings.budgets,
            accounting=settings.accounting,
            tools=tools if tools is not None else ToolRegistry.from_catalog(),
            tool_context_services=(
                tool_context_services
                if tool_context_services is not None
                else build_tool_services(settings.tools)
            ),
            stream_delta_interval_ms=settings.llm.stream_delta_interval_ms,
            use_previous_response_id=settings.llm.use_previous_response_id,
        )

    # -- public API ------------------------------------------------------------------------

    async def run(
        self, question: str, context: RunContext | None = None, emit: Emit | None = None
    ) -> RunResult:
        """Run to the end in the caller's task, awaiting ``emit`` for every event.

        If the caller's task is cancelled, the terminal ``error`` (code ``cancelled``) is still
        emitted, then :class:`asyncio.CancelledError` propagates. A cancellation requested with
        :meth:`cancel` instead returns the cancelled :class:`RunResult`. (A task cancelled
        before it first runs never enters this method, so it emits nothing.)
        """
        ctx = context or RunContext()
        run = _Run(
            run_id=ctx.run_id or uuid.uuid4().hex,
            question=question,
            context=ctx,
            now=ctx.now or self._clock(),
            emit=emit,
            clock=self._clock,
        )
        if run.run_id in self._active:
            raise ValueError(f"run {run.run_id!r} is already running")
        run.task = asyncio.current_task()
        self._active[run.run_id] = run
        try:
            return await self._drive(run)
        finally:
            self._active.pop(run.run_id, None)

    async def stream(
        self, question: str, context: RunContext | None = None
    ) -> AsyncGenerator[Event, None]:
        """Yield the run's events in order; closing the generator early cancels the run."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()

        async def emit(event: Event) -> None:
            queue.put_nowait(event)

        task = asyncio.create_task(self.run(question, context, emit))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
                if isinstance(event, Completed | ErrorEvent):
                    break
            else:
                task.result()  # the run ended without a terminal event: surface its exception
        finally:
            if not task.done():
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def ask(self, question: str, context: RunContext | None = None) -> RunResult:
        """Run to the end and return the result (report, plan, usage, sources, events)."""
        return await self.run(question, context)

    def cancel(self, run_id: str) -> bool:
        """Cancel a running run; it ends with an ``error`` event code ``cancelled``."""
        run = self._active.get(run_id)
        if run is None or run.task is None or run.task.done():
            return False
        if not run.cancel_requested:
            run.cancel_requested = True
            if run.task is _current_task():
                run.cancel_pending = True  # raised by the run itself once emit returns
            else:
                run.task.cancel()
        return True

    def active_runs(self) -> tuple[str, ...]:
        return tuple(self._active)

    async def aclose(self) -> None:
        """Cancel the runs still going, close the provider and stop the chart renderer's
        processes (``build_tool_services`` starts them lazily; a host passing its own
        services hands their renderer to this orchestrator to close)."""
        for run_id in list(self._active):
            self.cancel(run_id)
        await self.provider.aclose()
        renderer = self._services.get(RENDERER_SERVICE)
        if isinstance(renderer, ChartRenderer):
            await renderer.aclose()

    # -- run loop --------------------------------------------------------------------------

    async def _drive(self, run: _Run) -> RunResult:
        try:
            return await self._settle(run)
        except _EmitFailed as failed:
            run.log.error("run.emit_failed", error=type(failed.original).__name__)
            raise failed.original from None

    async def _settle(self, run: _Run) -> RunResult:
        """Execute the run and turn every way it can end into exactly one terminal event."""
        error: ErrorData | None = None
        status: Literal["completed", "failed", "cancelled"] = "completed"
        report = ""
        try:
            try:
                run.deadline = asyncio.get_running_loop().time() + self.budgets.run_timeout_s
                await run.started_event()
                async with asyncio.timeout(self.budgets.run_timeout_s):
                    try:
                        report = await self._execute(run)
                    except TimeoutError:  # not ours: ours surfaces only when the block exits
                        raise _RunFailure(
                            "internal_error", "an unexpected timeout escaped a step"
                        ) from None
            except TimeoutError:
                raise _RunFailure(
                    "run_timeout",
                    f"the run exceeded its {self.budgets.run_timeout_s:g} s time limit",
                ) from None
        except _RunFailure as failure:
            status = "failed"
            run.transition(State.FAILED, step=failure.step)
            run.log.warning("run.failed", code=failure.code, detail=failure.detail)
            self._finish_usage(run)
            error = await run.error_event(failure)
        except asyncio.CancelledError:
            if run.state is State.COMPLETED:
                raise  # cancelled while the completed event was being delivered
            status = "cancelled"
            run.transition(State.CANCELLED)
            run.log.info("run.cancelled")
            self._finish_usage(run)
            error = await run.error_event(
                _RunFailure("cancelled", "the run was cancelled before it finished")
            )
            task = asyncio.current_task()
            if not (run.cancel_requested and task is not None and task.cancelling() <= 1):
                raise
            task.uncancel()
        except _EmitFailed:
            raise
        except Exception as exc:  # a bug: still end the run with one terminal event
            status = "failed"
            run.log.exception("run.internal_error")
            if run.state not in _TERMINAL_STATES:
                run.transition(State.FAILED)
            self._finish_usage(run)
            error = await run.error_event(
                _RunFailure("internal_error", f"internal error: {type(exc).__name__}")
            )
        return RunResult(
            run_id=run.run_id,
            status=status,
            report=report,
            plan=run.plan,
            usage=run.usage,
            sources=list(run.sources.values()),
            charts=list(run.charts.values()),
            events=run.events,
            error=error,
        )

    async def _execute(self, run: _Run) -> str:
        plan = await self._plan(run)
        count = len(plan.steps)
        span = _STEPS_END_PROGRESS - _PLANNED_PROGRESS
        for index, step in enumerate(plan.steps):
            start = _PLANNED_PROGRESS + span * index // count
            end = _PLANNED_PROGRESS + span * (index + 1) // count
            output = await self._run_step(run, index, step, start, end)
            run.outputs.append((step.kind, output))
        report = run.outputs[-1][1]
        run.transition(State.COMPLETED)
        self._finish_usage(run)
        await run.completed_event(report, plan)
        return report

    def _finish_usage(self, run: _Run) -> None:
        finish_run_usage(self.accounting, run.usage)
        run.usage.wall_ms = round((time.perf_counter() - run.started) * 1000, 3)

    # -- planner ---------------------------------------------------------------------------

    async def _plan(self, run: _Run) -> Plan:
        run.transition(State.PLANNING, step="planner")
        await run.thinking(
            "planner", "choosing the steps for this question", progress=_PLANNING_PROGRESS
        )
        spec = self.assistants["planner"]
        items: list[InputItem] = [UserMessage(self._planner_input(run))]
        usage = StepUsage()
        started = time.perf_counter()
        attempts = 0
        plan: Plan
        timeout = self._step_timeout()
        try:
            async with timeout:
                while True:
                    request = ModelRequest(
                        assistant=spec,
                        input=tuple(items),
                        response_schema=self.plan_schema,
                        response_schema_name="plan",
                        hints=self._hints(run, "planner"),
                    )
                    turn = await self._call_model(run, "planner", None, request, usage)
                    try:
                        if turn.tool_calls:
                            raise PlanInvalid("answer with the JSON plan only; do not call tools")
                        plan = parse_plan(turn.text, self.step_kinds)
                        break
                    except PlanInvalid as invalid:
                        if attempts < self.budgets.planner_retries:
                            attempts += 1
                            await run.thinking(
                                "planner", f"the plan was invalid ({invalid.message}); retrying"
                            )
                            items += [
                                AssistantMessage(turn.text),
                                UserMessage(
                                    f"That plan is invalid: {invalid.message}. "
                                    "Answer again with only the JSON plan object."
                                ),
                            ]
                            continue
                        if not self.budgets.default_plan_on_invalid:
                            raise _RunFailure(
                                "planner_invalid",
                                f"the planner's output was invalid: {invalid.message}",
                                step="planner",
                            ) from None
                        plan = DEFAULT_PLAN
                        await run.thinking(
                            "planner",
                            f"the plan was invalid ({invalid.message}); using the default plan",
                        )
                        break
        except TimeoutError:
            if timeout.expired():
                raise self._step_timed_out("planner") from None
            raise
        run.plan = plan
        usage.wall_ms = round((time.perf_counter() - started) * 1000, 3)
        await run.response(
            "planner",
            render_plan(plan),
            usage,
            progress=_PLANNED_PROGRESS,
            step_index=None,
            duration_ms=usage.wall_ms,
            summary="plan " + " → ".join(step.kind for step in plan.steps),
            interpretation=plan.interpretation,
        )
        return plan

    # -- steps -----------------------------------------------------------------------------

    async def _run_step(self, run: _Run, index: int, step: PlanStep, start: int, end: int) -> str:
        kind = step.kind
        spec = self.assistants[kind]
        step_state = State.REPORTING if kind == "report" else State.RUNNING_STEP
        run.transition(step_state, step=kind)
        await run.thinking(kind, step.task, progress=start, step_index=index, with_plan=True)
        tool_schemas = self._schemas[kind]
        items: list[InputItem] = [UserMessage(self._step_input(run, index, step))]
        pending: list[InputItem] = list(items)
        previous_id: str | None = None
        usage = StepUsage()
        started = time.perf_counter()
        rounds = 0
        failures = 0
        calls_done = 0
        tool_ctx = ToolContext(
            dataset=run.context.dataset, now=run.now_iso, services=self._services
        )
        timeout = self._step_timeout()
        try:
            async with timeout:
                while True:
                    request = ModelRequest(
                        assistant=spec,
                        input=tuple(pending if previous_id else items),
                        tools=tool_schemas,
                        previous_response_id=previous_id,
                        hints=self._hints(run, kind, step=step, index=index),
                    )
                    turn = await self._call_model(run, kind, index, request, usage)
                    if not turn.tool_calls:
                        output = turn.text.strip()
                        if not output:
                            raise _RunFailure(
                                "llm_bad_response",
                                "the model returned an empty answer",
                                step=kind,
                            )
                        break
                    rounds += 1
                    if rounds > self.budgets.max_tool_rounds_per_step:
                        raise _RunFailure(
                            "budget_exhausted",
                            f"the {kind} step asked for tools more than "
                            f"{self.budgets.max_tool_rounds_per_step} times",
                            step=kind,
                        )
                    run.transition(State.AWAITING_TOOLS, step=kind)
                    new_items: list[InputItem] = []
                    if turn.text:
                        new_items.append(AssistantMessage(turn.text))
                    # Opaque provider items (e.g. encrypted reasoning) directly precede the
                    # calls they led to, as the model produced them.
                    new_items += turn.replay_items
                    new_items += [
                        FunctionCall(call.call_id, call.name, call.arguments)
                        for call in turn.tool_calls
                    ]
                    outputs: list[InputItem] = []
                    for call in turn.tool_calls:
                        self._count_messages(run, 1, kind)
                        progress = min(end - 1, start + calls_done) if end > start else start
                        result, failed = await self._call_tool(
                            run, kind, spec, call, tool_ctx, usage, progress
                        )
                        calls_done += 1
                        failures += failed
                        outputs.append(FunctionCallOutput(call.call_id, result))
                    items += new_items + outputs
                    pending = outputs
                    previous_id = turn.response_id if self._use_previous_response_id else None
                    if failures > self.budgets.tool_error_retries:
                        raise _RunFailure(
                            "tool_failed",
                            f"{failures} tool calls failed in the {kind} step "
                            f"(limit {self.budgets.tool_error_retries})",
                            step=kind,
                        )
                    run.transition(step_state, step=kind)
        except TimeoutError:
            if timeout.expired():
                raise self._step_timed_out(kind) from None
            raise
        usage.wall_ms = round((time.perf_counter() - started) * 1000, 3)
        await run.response(
            kind, output, usage, progress=end, step_index=index, duration_ms=usage.wall_ms
        )
        return output

    def _step_timeout(self) -> asyncio.Timeout:
        return asyncio.timeout(self.budgets.step_timeout_s)

    def _step_timed_out(self, step: str) -> _RunFailure:
        return _RunFailure(
            "step_timeout",
            f"the {step} step exceeded its {self.budgets.step_timeout_s:g} s time limit",
            step=step,
        )

    def _count_messages(self, run: _Run, count: int, step: str) -> None:
        if run.usage.messages + count > self.budgets.max_messages_per_run:
            raise _RunFailure(
                "budget_exhausted",
                f"the run exceeded its budget of {self.budgets.max_messages_per_run} messages",
                step=step,
            )
        run.usage.messages += count

    # -- model calls -----------------------------------------------------------------------

    async def _call_model(
        self,
        run: _Run,
        agent: str,
        step_index: int | None,
        request: ModelRequest,
        usage: StepUsage,
    ) -> ModelTurn:
        """One logical model call, retried with backoff on retryable provider errors."""
        self._count_messages(run, 1, agent)
        # A provider that computes its turn without I/O (the offline engine, a scripted or
        # cached one) never suspends, so a run would hold the loop from one tool thread hop to
        # the next: yield once per model call so concurrent runs and other clients take turns.
        await asyncio.sleep(0)
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                turn = await self._consume(run, agent, step_index, request)
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.budgets.provider_retries:
                    raise _RunFailure(
                        exc.code, exc.message, step=agent, retryable=exc.retryable
                    ) from None
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else self.budgets.retry_backoff_s * 2**attempt
                )
                if loop.time() + delay >= run.deadline:
                    raise _RunFailure(
                        exc.code,
                        f"{exc.message} (retry in {delay:g} s would exceed the run time limit)",
                        step=agent,
                        retryable=True,
                    ) from None
                attempt += 1
                run.log.info("run.provider_retry", code=exc.code, attempt=attempt, delay_s=delay)
                await run.thinking(
                    agent,
                    f"{ERROR_CODES.get(exc.code, exc.code)}; retrying in {delay:g} s "
                    f"(attempt {attempt + 1})",
                    step_index=step_index,
                )
                await asyncio.sleep(delay)
                continue
            model = turn.model or request.assistant.model
            cost = turn_cost_usd(self.accounting, model, turn.usage)
            add_turn(usage, turn.usage, cost)
            add_turn(run.usage, turn.usage, cost)
            return turn

    async def _consume(
        self, run: _Run, agent: str, step_index: int | None, request: ModelRequest
    ) -> ModelTurn:
        """Read one provider stream: coalesce text deltas into thinking events, get the turn.

        Tool calls are executed only after the turn completes, so retrying a stream that
        failed part-way never repeats a tool's side effect.
        """
        parts: list[str] = []
        streamed: list[ToolCallRequest] = []
        last_emit = time.perf_counter()
        stream = self.provider.stream(request)
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    now = time.perf_counter()
                    # The planner's text is the JSON plan: not worth streaming to people.
                    if agent != "planner" and now - last_emit >= self._delta_interval_s:
                        last_emit = now
                        await run.thinking(
                            agent, "writing…", step_index=step_index, partial_text="".join(parts)
                        )
                elif isinstance(event, ToolCallRequest):
                    streamed.append(event)
                else:
                    if not event.tool_calls and streamed:
                        return msgspec.structs.replace(event, tool_calls=tuple(streamed))
                    return event
        finally:
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()
        raise ProviderUnavailable("the provider stream ended without a final turn")

    # -- tools -----------------------------------------------------------------------------

    async def _call_tool(
        self,
        run: _Run,
        agent: str,
        spec: AssistantSpec,
        call: ToolCallRequest,
        ctx: ToolContext,
        usage: StepUsage,
        progress: int,
    ) -> tuple[str, bool]:
        """Execute one tool call; return (JSON output for the model, whether it failed)."""
        announced = ToolExecutionData(
            progress=progress,
            step=agent,
            call_id=call.call_id,
            tool=call.name,
            status="started",
            arguments=_arguments_for_event(call.arguments),
        )
        # The finished/failed events repeat the call's fields; progress stays the caller's.
        await run.tool_event(agent, f"calling {call.name}", msgspec.structs.replace(announced))
        started = time.perf_counter()
        tool = self.tools.get(call.name) if call.name in spec.tools else None
        error: str | None = None
        bug: Exception | None = None
        output = ""
        summary: str | None = None
        try:
            if tool is None:
                available = ", ".join(spec.tools) or "none"
                raise ToolError(f"unknown tool {call.name!r}; available tools: {available}")
            try:
                args = msgspec.json.decode(call.arguments or "{}", type=tool.input_type)
            except msgspec.ValidationError as exc:
                raise ToolError(f"invalid arguments for {call.name}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise ToolError(f"arguments for {call.name} are not valid JSON: {exc}") from None
            if inspect.iscoroutinefunction(tool.fn):
                result = await tool.fn(args, ctx)
            else:
                # Synchronous tools (footprints, table analysis) can take tens of ms on a big
                # upload: the tools' CPU thread keeps the loop serving other runs meanwhile.
                result = await run_cpu_bound(tool.fn, args, ctx)
            if inspect.isawaitable(result):
                result = await result
            output = msgspec.json.encode(model_payload(result)).decode()
            summary = run.collect(result) or _shorten(output, _SUMMARY_CHARS)
        except ToolError as exc:
            error = str(exc)
        except (asyncio.CancelledError, _RunFailure):
            raise
        except Exception as exc:
            error = f"{call.name} raised {type(exc).__name__}: {exc}"
            bug = exc
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if bug is not None:  # a tool bug, not a domain error: operators need the traceback
            run.log.error("run.tool_error", tool=call.name, exc_info=bug)
        usage.tool_ms += duration_ms
        run.usage.tool_ms += duration_ms
        if error is not None:
            run.log.info("run.tool_failed", tool=call.name, error=error)
            await run.tool_event(
                agent,
                f"{call.name} failed: {_shorten(error, _SUMMARY_CHARS)}",
                msgspec.structs.replace(
                    announced, status="failed", duration_ms=duration_ms, error=error
                ),
            )
            return msgspec.json.encode({"error": error}).decode(), True
        await run.tool_event(
            agent,
            f"{call.name} finished in {duration_ms:.0f} ms: {summary}",
            msgspec.structs.replace(
                announced, status="finished", duration_ms=duration_ms, result_summary=summary
            ),
        )
        return output, False

    # -- model inputs ----------------------------------------------------------------------

    def _history(self, run: _Run) -> list[dict[str, str]]:
        limit = self.budgets.max_history_pairs
        pairs = list(run.context.history)[-limit:] if limit > 0 else []
        return [
            {"question": pair.question, "answer": _shorten(pair.answer, _HISTORY_ANSWER_CHARS)}
            for pair in pairs
        ]

    def _hints(
        self, run: _Run, role: str, *, step: PlanStep | None = None, index: int | None = None
    ) -> dict[str, Any]:
        """The structured facts of :class:`orchestrator.context.RequestHints`."""
        dataset = run.context.dataset
        return {
            "role": role,
            "question": run.question,
            "task": step.task if step is not None else None,
            "step_index": index,
            "plan": (
                [{"kind": s.kind, "task": s.task} for s in run.plan.steps]
                if step is not None and run.plan is not None
                else None
            ),
            "now": run.now_iso,
            "history": self._history(run),
            "dataset": (
                {
                    "id": dataset.id,
                    "name": dataset.name,
                    "kind": dataset.kind,
                    "columns": list(dataset.columns),
                    "rows": len(dataset.rows),
                }
                if dataset is not None
                else None
            ),
            "earlier_outputs": [{"kind": kind, "output": output} for kind, output in run.outputs],
        }

    def _context_lines(self, run: _Run) -> list[str]:
        local = datetime.fromisoformat(run.now_iso).astimezone(_USERS_ZONE)
        lines = [
            f"Question: {run.question}",
            f"Now (UTC): {run.now_iso}",
            # Users are in Ireland and Great Britain (same clock); grid tools take local dates
            # and hours, so "today" and "after 6pm" are resolved in this time.
            f"Local time (Ireland and Great Britain): {local:%A %Y-%m-%d %H:%M} {local.tzname()}",
        ]
        history = self._history(run)
        if history:
            lines.append("Conversation so far (oldest first):")
            for pair in history:
                lines.append(f"- Q: {pair['question']}\n  A: {pair['answer']}")
        dataset = run.context.dataset
        if dataset is not None:
            lines.append(
                f"Uploaded dataset: {dataset.name!r} ({dataset.kind}, {len(dataset.rows)} rows; "
                f"columns: {', '.join(dataset.columns)}). Tools read it with use_dataset=true."
            )
        return lines

    def _planner_input(self, run: _Run) -> str:
        lines = self._context_lines(run)
        if self._added_kinds:
            # The built-in planner instructions list the built-in kinds only: name them all.
            lines.append(
                f"Step kinds you may plan (1 to {len(self.step_kinds)} steps, each kind at most "
                "once, 'report' always the last step):"
            )
            lines += [f"- {kind}: {describe(self.assistants[kind])}" for kind in self.step_kinds]
        return "\n".join(lines)

    def _step_input(self, run: _Run, index: int, step: PlanStep) -> str:
        lines = self._context_lines(run)
        if run.plan is not None:
            lines.append("Plan:")
            lines += [f"{i}. {s.kind}: {s.task}" for i, s in enumerate(run.plan.steps, 1)]
            total = len(run.plan.steps)
        else:
            total = index + 1
        lines.append(f"Your task (step {index + 1} of {total}, {step.kind}): {step.task}")
        for kind, output in run.outputs:
            lines.append(f"Findings of the {kind} step:\n{output}")
        return "\n".join(lines)


def _arguments_for_event(raw: str) -> dict[str, Any]:
    """The call's arguments as shown in events (malformed JSON is shown raw, shortened)."""
    try:
        value = msgspec.json.decode(raw or "{}")
    except msgspec.DecodeError:
        return {"_raw": _shorten(raw, _SUMMARY_CHARS)}
    return value if isinstance(value, dict) else {"_value": value}
