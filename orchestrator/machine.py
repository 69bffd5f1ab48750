"""The state machine: plan, run each planned step's assistant, execute its tools, report.

States and the ONE transition table are below; an illegal transition raises
:class:`IllegalTransition` (a bug, never a user error). A run is driven by
:meth:`Orchestrator.run` (the service's entry point: calls ``emit`` for every event, even the
terminal one on cancellation), :meth:`Orchestrator.stream` (async iterator of events) or
:meth:`Orchestrator.ask` (the final :class:`RunResult`). Every path ends in exactly one
terminal event (``completed`` or ``error``): budgets and timeouts guarantee it never hangs.

Each state's work is one method here: planning asks the planner until its plan is valid; a
step asks its model, stops at the final answer, else runs the tools it asked for and asks
again. What that work leans on lives in private modules, so this one reads as the states and
the loop: the run's record and its events in :mod:`orchestrator._run`, what the model is told
in :mod:`orchestrator._prompts` (the question, a history summary and the earlier steps'
outputs, not the transcript: that keeps tokens low and steps independent), one model call
with its retries in :mod:`orchestrator._model_call`, and a round of tool calls in
:mod:`orchestrator._tool_round`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar

import msgspec

from orchestrator._model_call import call_model
from orchestrator._prompts import StepTranscript, hints, planner_input, step_input
from orchestrator._run import (
    AGENT_LABELS,
    ERROR_CODES,
    Clock,
    Emit,
    EmitFailed,
    RunFailure,
    RunRecord,
    agent_label,
)
from orchestrator._tool_round import StepTools
from orchestrator.accounting import finish_run_usage
from orchestrator.assistants import (
    ASSISTANT_NAMES,
    PLANNER,
    AssistantSpec,
    build_assistants,
    check_assistants,
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
    ChartRef,
    Completed,
    DataSourceRef,
    ErrorData,
    ErrorEvent,
    Event,
    RunUsage,
    StepUsage,
)
from orchestrator.plan import (
    DEFAULT_PLAN,
    Plan,
    PlanInvalid,
    PlanStep,
    StepKind,
    parse_plan,
    plan_json_schema,
    render_plan,
)
from orchestrator.providers.base import (
    AssistantMessage,
    InputItem,
    ModelRequest,
    ModelTurn,
    Provider,
    UserMessage,
)
from orchestrator.registry import ToolRegistry, build_tool_services
from orchestrator.telemetry import step_span, traced_run
from tools.catalog_types import ToolContext
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

_T = TypeVar("_T")

_PLANNING_PROGRESS: Final = 1
_PLANNED_PROGRESS: Final = 10
_STEPS_END_PROGRESS: Final = 95


class IllegalTransition(RuntimeError):
    """The machine tried a transition the table does not allow (a bug)."""


class _Run(RunRecord):
    """One run's record (:class:`orchestrator._run.RunRecord`) and its place in the machine:
    it starts PENDING and moves only along :data:`TRANSITIONS`, every move logged."""

    state: State = State.PENDING

    @property
    def ended(self) -> bool:
        return self.state in _TERMINAL_STATES

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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _current_task() -> asyncio.Task[Any] | None:
    """The running task, or None when called outside the event loop (plain sync code)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


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
            return await traced_run(run, self.provider.name, self._drive(run))
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
        except EmitFailed as failed:
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
                        raise RunFailure(
                            "internal_error", "an unexpected timeout escaped a step"
                        ) from None
            except TimeoutError:
                raise RunFailure(
                    "run_timeout",
                    f"the run exceeded its {self.budgets.run_timeout_s:g} s time limit",
                ) from None
        except RunFailure as failure:
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
                RunFailure("cancelled", "the run was cancelled before it finished")
            )
            task = asyncio.current_task()
            if not (run.cancel_requested and task is not None and task.cancelling() <= 1):
                raise
            task.uncancel()
        except EmitFailed:
            raise
        except Exception as exc:  # a bug: still end the run with one terminal event
            status = "failed"
            run.log.exception("run.internal_error")
            if run.state not in _TERMINAL_STATES:
                run.transition(State.FAILED)
            self._finish_usage(run)
            error = await run.error_event(
                RunFailure("internal_error", f"internal error: {type(exc).__name__}")
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
        with step_span(run, "planner", None):
            plan = await self._plan(run)
        count = len(plan.steps)
        span = _STEPS_END_PROGRESS - _PLANNED_PROGRESS
        for index, step in enumerate(plan.steps):
            start = _PLANNED_PROGRESS + span * index // count
            end = _PLANNED_PROGRESS + span * (index + 1) // count
            with step_span(run, step.kind, index):
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

    # -- planning --------------------------------------------------------------------------

    async def _plan(self, run: _Run) -> Plan:
        run.transition(State.PLANNING, step="planner")
        await run.thinking(
            "planner", "choosing the steps for this question", progress=_PLANNING_PROGRESS
        )
        usage = StepUsage()
        started = time.perf_counter()
        plan = await self._within_step_time("planner", self._ask_for_plan(run, usage))
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

    async def _ask_for_plan(self, run: _Run, usage: StepUsage) -> Plan:
        """Ask the planner → return its plan if valid → else tell it why and ask again.

        After ``planner_retries`` invalid answers the run fails with ``planner_invalid``, or
        goes on with the default plan when ``default_plan_on_invalid`` says so.
        """
        listed_kinds = (
            {kind: self.assistants[kind] for kind in self.step_kinds} if self._added_kinds else None
        )
        items: list[InputItem] = [
            UserMessage(
                planner_input(
                    run,
                    max_history_pairs=self.budgets.max_history_pairs,
                    listed_kinds=listed_kinds,
                )
            )
        ]
        attempts = 0
        while True:
            request = ModelRequest(
                assistant=self.assistants["planner"],
                input=tuple(items),
                response_schema=self.plan_schema,
                response_schema_name="plan",
                hints=hints(run, "planner", max_history_pairs=self.budgets.max_history_pairs),
            )
            turn = await self._call_model(run, "planner", None, request, usage)
            try:
                return self._valid_plan(turn)
            except PlanInvalid as invalid:
                if attempts >= self.budgets.planner_retries:
                    return await self._after_invalid_plans(run, invalid)
                attempts += 1
                await run.thinking("planner", f"the plan was invalid ({invalid.message}); retrying")
                items += [
                    AssistantMessage(turn.text),
                    UserMessage(
                        f"That plan is invalid: {invalid.message}. "
                        "Answer again with only the JSON plan object."
                    ),
                ]

    def _valid_plan(self, turn: ModelTurn) -> Plan:
        if turn.tool_calls:
            raise PlanInvalid("answer with the JSON plan only; do not call tools")
        return parse_plan(turn.text, self.step_kinds)

    async def _after_invalid_plans(self, run: _Run, invalid: PlanInvalid) -> Plan:
        """The planner's retries are spent: fail the run, or use the default plan."""
        if not self.budgets.default_plan_on_invalid:
            raise RunFailure(
                "planner_invalid",
                f"the planner's output was invalid: {invalid.message}",
                step="planner",
            ) from None
        await run.thinking(
            "planner", f"the plan was invalid ({invalid.message}); using the default plan"
        )
        return DEFAULT_PLAN

    # -- steps -----------------------------------------------------------------------------

    async def _run_step(self, run: _Run, index: int, step: PlanStep, start: int, end: int) -> str:
        kind = step.kind
        step_state = State.REPORTING if kind == "report" else State.RUNNING_STEP
        run.transition(step_state, step=kind)
        await run.thinking(kind, step.task, progress=start, step_index=index, with_plan=True)
        usage = StepUsage()
        started = time.perf_counter()
        output = await self._within_step_time(
            kind, self._converse(run, index, step, step_state, usage, (start, end))
        )
        usage.wall_ms = round((time.perf_counter() - started) * 1000, 3)
        await run.response(
            kind, output, usage, progress=end, step_index=index, duration_ms=usage.wall_ms
        )
        return output

    async def _converse(
        self,
        run: _Run,
        index: int,
        step: PlanStep,
        step_state: State,
        usage: StepUsage,
        progress: tuple[int, int],
    ) -> str:
        """Ask the model → stop at its final answer → else run the tools it asked for → repeat.

        The step waits in AWAITING_TOOLS while a round of tool calls runs, then returns to
        ``step_state``; its budgets (tool rounds, failed calls, messages) end the run.
        """
        kind = step.kind
        spec = self.assistants[kind]
        history = self.budgets.max_history_pairs
        transcript = StepTranscript(
            step_input(run, index, step, max_history_pairs=history),
            chain_responses=self._use_previous_response_id,
        )
        tools = StepTools(
            run,
            kind,
            spec,
            self.tools,
            ToolContext(dataset=run.context.dataset, now=run.now_iso, services=self._services),
            usage,
            progress=progress,
            max_messages=self.budgets.max_messages_per_run,
            max_failures=self.budgets.tool_error_retries,
        )
        rounds = 0
        while True:
            request = ModelRequest(
                assistant=spec,
                input=transcript.request_input(),
                tools=self._schemas[kind],
                previous_response_id=transcript.previous_response_id,
                hints=hints(run, kind, max_history_pairs=history, step=step, index=index),
            )
            turn = await self._call_model(run, kind, index, request, usage)
            if not turn.tool_calls:
                return _final_answer(turn, kind)
            rounds += 1
            self._check_tool_rounds(rounds, kind)
            run.transition(State.AWAITING_TOOLS, step=kind)
            transcript.add_round(turn, await tools.run_round(turn))
            run.transition(step_state, step=kind)

    def _check_tool_rounds(self, rounds: int, step: str) -> None:
        if rounds > self.budgets.max_tool_rounds_per_step:
            raise RunFailure(
                "budget_exhausted",
                f"the {step} step asked for tools more than "
                f"{self.budgets.max_tool_rounds_per_step} times",
                step=step,
            )

    async def _within_step_time(self, step: str, work: Awaitable[_T]) -> _T:
        """``work``'s result, unless the planner's or step's time limit ends the run first
        (``step_timeout``). A ``TimeoutError`` that is not this limit's own passes through."""
        timeout = asyncio.timeout(self.budgets.step_timeout_s)
        try:
            async with timeout:
                return await work
        except TimeoutError:
            if timeout.expired():
                raise RunFailure(
                    "step_timeout",
                    f"the {step} step exceeded its {self.budgets.step_timeout_s:g} s time limit",
                    step=step,
                ) from None
            raise

    # -- model calls -----------------------------------------------------------------------

    async def _call_model(
        self,
        run: _Run,
        agent: str,
        step_index: int | None,
        request: ModelRequest,
        usage: StepUsage,
    ) -> ModelTurn:
        return await call_model(
            run,
            agent,
            step_index,
            request,
            usage,
            provider=self.provider,
            budgets=self.budgets,
            accounting=self.accounting,
            delta_interval_s=self._delta_interval_s,
        )


def _final_answer(turn: ModelTurn, step: str) -> str:
    output = turn.text.strip()
    if not output:
        raise RunFailure("llm_bad_response", "the model returned an empty answer", step=step)
    return output
