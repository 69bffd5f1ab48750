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

Durable runs: with a :class:`~orchestrator.checkpoint.Checkpointer`, the record saves a
checkpoint at every step boundary, and :meth:`Orchestrator.resume` continues a run from one
(state RESUMING instead of PENDING): it emits ``resumed``, skips the plan and the completed
steps, and picks a step in progress up after its last finished tool call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar

import msgspec

from orchestrator._model_call import call_model
from orchestrator._prompts import StepTranscript, hints, planner_input, step_input
from orchestrator._resume import StepProgress
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
from orchestrator.checkpoint import Checkpoint, Checkpointer, StepCheckpoint
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
    GroundingVerdict,
    RunUsage,
    StepUsage,
)
from orchestrator.grounding import (
    GroundingTracker,
    echoes_prompt,
    is_data_tool,
    needs_data,
    ungrounded_numbers,
)
from orchestrator.observe import RunObserver
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
    FunctionCallOutput,
    InputItem,
    ModelRequest,
    ModelTurn,
    OutputTruncated,
    Provider,
    ToolSchema,
    UserMessage,
)
from orchestrator.registry import ToolRegistry, build_tool_services
from orchestrator.telemetry import step_span, traced_run
from tools.catalog_types import ToolContext
from tools.cpu import CPU_PRIORITY
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
    RESUMING = "resuming"
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
    # A run resumed from a checkpoint goes on where it was: planning, a step, or (all its
    # steps done) its completion.
    State.RESUMING: frozenset(
        {State.PLANNING, State.RUNNING_STEP, State.REPORTING, State.COMPLETED}
    )
    | _END,
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
# Words asked of a step whose answer was cut off, per token of its output cap (a token is
# about 0.75 English words; asking for half of that leaves room for markup and figures).
_WORDS_PER_CAPPED_TOKEN: Final = 0.4
_MAX_LISTED_FIGURES: Final = 20


class _Resume(msgspec.Struct, frozen=True):
    """Why and from where a run is resumed."""

    checkpoint: Checkpoint
    reason: str


class IllegalTransition(RuntimeError):
    """The machine tried a transition the table does not allow (a bug)."""


class _Run(RunRecord):
    """One run's record (:class:`orchestrator._run.RunRecord`) and its place in the machine:
    it starts PENDING and moves only along :data:`TRANSITIONS`, every move logged."""

    state: State = State.PENDING

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.grounding = GroundingTracker()
        self.data_question: bool | None = None  # read at the first language-model answer

    @property
    def ended(self) -> bool:
        return self.state in _TERMINAL_STATES

    def snapshot(self, seq: int) -> Checkpoint:
        """The record's checkpoint, with what the grounding checks have seen so far."""
        grounding = self.grounding.state() if self.grounding.has_state else None
        return msgspec.structs.replace(super().snapshot(seq), grounding=grounding)

    def restore(self, checkpoint: Checkpoint, *, last_seq: int, progress: int) -> None:
        super().restore(checkpoint, last_seq=last_seq, progress=progress)
        if checkpoint.grounding is not None:
            self.grounding.restore(checkpoint.grounding)

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
    # The grounding checks' verdict of a completed run (also in its ``completed`` event).
    grounding: GroundingVerdict | None = None


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
        observer: RunObserver | None = None,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self.provider = provider
        # Told of every model call attempt (orchestrator.observe); None: nothing is reported.
        self.observer = observer
        # Where runs save their checkpoints (None: no checkpoints; ``run`` may name its own).
        self.checkpointer = checkpointer
        self.budgets = budgets
        self.accounting = accounting
        self.tools = tools if tools is not None else ToolRegistry.from_catalog()
        check_assistants(assistants or {})
        merged = dict(build_assistants(AssistantsConfig(), LLMConfig().model))
        merged.update(assistants or {})
        # Every model call has an output cap: a runaway answer ends at it, not at the timeout.
        merged = {name: _with_output_cap(spec, budgets) for name, spec in merged.items()}
        for spec in merged.values():
            missing = [name for name in spec.tools if name not in self.tools]
            if missing:
                raise ValueError(
                    f"assistant {spec.name!r} names unknown tool(s): {', '.join(missing)}"
                )
        self.assistants: dict[str, AssistantSpec] = merged
        # Every assistant but the planner is a step kind: the built-in ones, then those added.
        self.step_kinds: tuple[StepKind, ...] = tuple(name for name in merged if name != PLANNER)
        # Each kind's tools: the plan names the ones a step will use (see orchestrator.plan).
        self.step_tools = {kind: merged[kind].tools for kind in self.step_kinds}
        self.plan_schema = plan_json_schema(self.step_kinds, self.step_tools)
        self._added_kinds = tuple(name for name in merged if name not in ASSISTANT_NAMES)
        # Tool schemas by the names offered (a step's planned tools, else its assistant's).
        self._schemas: dict[tuple[str, ...], tuple[ToolSchema, ...]] = {
            spec.tools: self.tools.schemas(spec.tools) for spec in merged.values()
        }
        self._data_kinds = frozenset(
            kind
            for kind in self.step_kinds
            if any(is_data_tool(tool) for tool in merged[kind].tools)
        )
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
        observer: RunObserver | None = None,
    ) -> Orchestrator:
        """Build provider, assistants, tools and budgets from configuration (``config.toml``).

        ``tool_context_services`` replaces the services built from ``settings.tools`` (a host
        that wraps them, e.g. with a shared cache, builds them with ``build_tool_services``).
        ``assistants`` override or add to the configured ones; ``tools`` replaces the catalog
        registry (e.g. ``ToolRegistry.from_catalog()`` plus the embedder's own tools);
        ``observer`` is told of every model call (:class:`~orchestrator.RunObserver`).
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
            observer=observer,
        )

    # -- public API ------------------------------------------------------------------------

    async def run(
        self,
        question: str,
        context: RunContext | None = None,
        emit: Emit | None = None,
        *,
        checkpointer: Checkpointer | None = None,
    ) -> RunResult:
        """Run to the end in the caller's task, awaiting ``emit`` for every event.

        If the caller's task is cancelled, the terminal ``error`` (code ``cancelled``) is still
        emitted, then :class:`asyncio.CancelledError` propagates. A cancellation requested with
        :meth:`cancel` instead returns the cancelled :class:`RunResult`. (A task cancelled
        before it first runs never enters this method, so it emits nothing.) ``checkpointer``
        (default: the orchestrator's) receives the run's checkpoints.
        """
        ctx = context or RunContext()
        run = self._new_run(question, ctx, emit, checkpointer)
        return await self._own(run, None)

    async def resume(
        self,
        checkpoint: Checkpoint,
        question: str,
        context: RunContext | None = None,
        emit: Emit | None = None,
        *,
        reason: str = "resumed",
        last_seq: int = 0,
        progress: int = 0,
        checkpointer: Checkpointer | None = None,
    ) -> RunResult:
        """Continue the run ``checkpoint`` belongs to, as :meth:`run` would have finished it.

        ``question`` and ``context`` are the run's own (``context.run_id`` is taken from the
        checkpoint). ``last_seq``/``progress``: the highest ``seq`` and ``progress`` the run
        already emitted (events after the checkpoint may exist; numbering goes on after
        them). The run emits ``resumed`` (``data.reason``), then goes on: completed steps are
        not asked again; a step in progress continues after its last finished tool call, the
        call that was running repeated only if its tool is idempotent; a model call that was
        in flight is made again.
        """
        ctx = msgspec.structs.replace(context or RunContext(), run_id=checkpoint.run_id)
        run = self._new_run(question, ctx, emit, checkpointer)
        run.state = State.RESUMING
        run.restore(checkpoint, last_seq=last_seq, progress=progress)
        return await self._own(run, _Resume(checkpoint, reason))

    def _new_run(
        self,
        question: str,
        ctx: RunContext,
        emit: Emit | None,
        checkpointer: Checkpointer | None,
    ) -> _Run:
        return _Run(
            run_id=ctx.run_id or uuid.uuid4().hex,
            question=question,
            context=ctx,
            now=ctx.now or self._clock(),
            emit=emit,
            clock=self._clock,
            checkpointer=checkpointer if checkpointer is not None else self.checkpointer,
        )

    async def _own(self, run: _Run, resume: _Resume | None) -> RunResult:
        if run.run_id in self._active:
            raise ValueError(f"run {run.run_id!r} is already running")
        run.task = asyncio.current_task()
        self._active[run.run_id] = run
        # The run's CPU work (offline turns, tools, charts) queues behind older runs' only.
        priority = CPU_PRIORITY.set(time.monotonic())
        try:
            return await traced_run(run, self.provider.name, self._drive(run, resume))
        finally:
            CPU_PRIORITY.reset(priority)
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

    async def _drive(self, run: _Run, resume: _Resume | None) -> RunResult:
        try:
            return await self._settle(run, resume)
        except EmitFailed as failed:
            run.log.error("run.emit_failed", error=type(failed.original).__name__)
            raise failed.original from None

    async def _settle(self, run: _Run, resume: _Resume | None) -> RunResult:
        """Execute the run and turn every way it can end into exactly one terminal event."""
        error: ErrorData | None = None
        status: Literal["completed", "failed", "cancelled"] = "completed"
        report = ""
        grounding: GroundingVerdict | None = None
        try:
            try:
                run.deadline = asyncio.get_running_loop().time() + self.budgets.run_timeout_s
                if resume is None:
                    await run.started_event()
                else:
                    await run.resumed_event(resume.reason)
                # Fairness: runs started together each send their first event before any of
                # them builds a prompt (with 200 at once, the last one's first event would
                # otherwise wait for 199 planner set-ups on the loop).
                await asyncio.sleep(0)
                async with asyncio.timeout(self.budgets.run_timeout_s):
                    try:
                        report, grounding = await self._execute(run, resume)
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
            grounding=grounding,
        )

    async def _execute(self, run: _Run, resume: _Resume | None) -> tuple[str, GroundingVerdict]:
        if run.plan is not None:  # resumed after planning
            plan = run.plan
        else:
            with step_span(run, "planner", None):
                plan = await self._plan(run)
        in_progress = resume.checkpoint.step if resume is not None else None
        count = len(plan.steps)
        span = _STEPS_END_PROGRESS - _PLANNED_PROGRESS
        for index in range(len(run.outputs), count):  # a resumed run skips completed steps
            step = plan.steps[index]
            start = _PLANNED_PROGRESS + span * index // count
            end = _PLANNED_PROGRESS + span * (index + 1) // count
            resumed = (
                in_progress if in_progress is not None and in_progress.index == index else None
            )
            with step_span(run, step.kind, index):
                await self._run_step(run, index, step, start, end, resumed)
        report = run.outputs[-1][1]
        verdict = run.grounding.verdict(enabled=self.budgets.grounding_checks)
        if verdict.status == "flagged":
            run.log.warning(
                "run.grounding_flagged",
                checks=msgspec.to_builtins(verdict.checks),
                ungrounded_numbers=verdict.ungrounded_numbers,
            )
        run.transition(State.COMPLETED)
        self._finish_usage(run)
        await run.completed_event(report, plan, verdict)
        return report, verdict

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
            answer: str | None = None
            try:
                turn = await self._call_model(run, "planner", None, request, usage)
                answer = turn.text
                plan = self._valid_plan(turn)
            except OutputTruncated:
                # A runaway or long-winded plan: like any invalid answer, it is retried.
                invalid = PlanInvalid(
                    "the answer was cut off at the output token limit; write a short plan: "
                    f"at most {len(self.step_kinds)} steps, one short sentence per task"
                )
            except PlanInvalid as exc:
                invalid = exc
            else:
                missing = self._missing_data_step(run, plan, turn)
                if missing is None:
                    return plan
                if attempts >= self.budgets.planner_retries:
                    return await self._without_data_step(run, plan)
                run.grounding.retry("data_step")
                invalid = missing
            if attempts >= self.budgets.planner_retries:
                return await self._after_invalid_plans(run, invalid)
            attempts += 1
            await run.thinking("planner", f"the plan was invalid ({invalid.message}); retrying")
            if answer:
                items.append(AssistantMessage(answer))
            items.append(
                UserMessage(
                    f"That plan is invalid: {invalid.message}. "
                    "Answer again with only the JSON plan object."
                )
            )

    def _missing_data_step(self, run: _Run, plan: Plan, turn: ModelTurn) -> PlanInvalid | None:
        """A data question planned without a data step (checked for language models only)."""
        if not self._checks_answer(turn) or not self._data_kinds:
            return None
        if not self._is_data_question(run):
            return None
        if any(step.kind in self._data_kinds for step in plan.steps):
            run.grounding.set("data_step", "ok")
            return None
        kinds = ", ".join(kind for kind in self.step_kinds if kind in self._data_kinds)
        return PlanInvalid(
            f"this question needs data, but no step fetches or computes it; plan a step of a "
            f"kind with data tools ({kinds}) before the report"
        )

    async def _without_data_step(self, run: _Run, plan: Plan) -> Plan:
        """The planner's retries are spent and its plan still has no data step."""
        if self.budgets.default_plan_on_invalid and all(
            step.kind in self.step_kinds for step in DEFAULT_PLAN.steps
        ):
            await run.thinking(
                "planner", "the plan has no data step for a data question; using the default plan"
            )
            run.grounding.set("data_step", "ok")
            return DEFAULT_PLAN
        run.grounding.set("data_step", "failed")
        return plan

    def _ground_round(self, run: _Run, turn: ModelTurn, outputs: list[InputItem]) -> None:
        """Give the grounding checks a round's calls and their whole results (a report may
        quote figures the compact output the model read left out)."""
        if not (self.budgets.grounding_checks and turn.usage.language_model):
            return  # nothing will check them: neither kept nor checkpointed
        run.grounding.add_round(
            ((call.name, call.arguments) for call in turn.tool_calls),
            (i.result or i.output for i in outputs if isinstance(i, FunctionCallOutput)),
        )

    def _checks_answer(self, turn: ModelTurn) -> bool:
        """Grounding checks apply to language-model answers (the offline engine's reports are
        grounded by construction, and its golden tests hold it to that)."""
        return self.budgets.grounding_checks and turn.usage.language_model

    def _is_data_question(self, run: _Run) -> bool:
        if run.data_question is None:
            facts = hints(run, "planner", max_history_pairs=self.budgets.max_history_pairs)
            run.data_question = needs_data(facts, date.fromisoformat(run.now_iso[:10]))
            run.grounding.checks.data_question = run.data_question
            run.grounding.add_text(run.question)
            run.grounding.add_text(run.now_iso)
            for pair in run.context.history:
                run.grounding.add_text(pair.question)
                run.grounding.add_text(pair.answer)
        return run.data_question

    def _valid_plan(self, turn: ModelTurn) -> Plan:
        if turn.tool_calls:
            raise PlanInvalid("answer with the JSON plan only; do not call tools")
        return parse_plan(turn.text, self.step_kinds, self.step_tools)

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

    async def _run_step(
        self,
        run: _Run,
        index: int,
        step: PlanStep,
        start: int,
        end: int,
        resumed: StepCheckpoint | None = None,
    ) -> None:
        """Run one step to its answer, which joins ``run.outputs`` (checkpointed with the
        step's ``agent_response``). ``resumed``: the step was in progress when the run's
        previous attempt ended; it goes on from there (its ``agent_thinking`` was sent)."""
        kind = step.kind
        step_state = State.REPORTING if kind == "report" else State.RUNNING_STEP
        run.transition(step_state, step=kind)
        if resumed is None:
            await run.thinking(kind, step.task, progress=start, step_index=index, with_plan=True)
        usage = resumed.usage if resumed is not None else StepUsage()
        started = time.perf_counter() - (resumed.elapsed_ms / 1000 if resumed is not None else 0)
        output = await self._within_step_time(
            kind,
            self._converse(run, index, step, step_state, usage, (start, end), started, resumed),
        )
        usage.wall_ms = round((time.perf_counter() - started) * 1000, 3)
        run.outputs.append((kind, output))
        run.step_checkpoint = None
        await run.response(
            kind, output, usage, progress=end, step_index=index, duration_ms=usage.wall_ms
        )

    async def _converse(
        self,
        run: _Run,
        index: int,
        step: PlanStep,
        step_state: State,
        usage: StepUsage,
        progress: tuple[int, int],
        started: float,
        resumed: StepCheckpoint | None,
    ) -> str:
        """Ask the model → stop at its final answer → else run the tools it asked for → repeat.

        The step waits in AWAITING_TOOLS while a round of tool calls runs, then returns to
        ``step_state``; its budgets (tool rounds, failed calls, messages) end the run.
        A ``resumed`` step restores its transcript and counters, and first finishes the tool
        round that was running.
        """
        kind = step.kind
        spec = self.assistants[kind]
        offered = step.tools if step.tools is not None else spec.tools
        schemas = self._schemas.get(offered)
        if schemas is None:
            schemas = self._schemas[offered] = self.tools.schemas(offered)
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
            allowed=offered,
        )
        retried: set[str] = set()  # the corrections this step was already given (one each)
        step_progress = StepProgress(index, transcript, tools, usage, started, resumed)
        run.step_checkpoint = step_progress.snapshot
        if (pending := step_progress.pending) is not None:
            # The round the previous attempt was in: its finished calls are not run again.
            run.transition(State.AWAITING_TOOLS, step=kind)
            done, running = step_progress.done, step_progress.running
            outputs = await tools.run_round(pending, done, running=running)
            self._ground_round(run, pending, outputs)
            transcript.add_round(pending, outputs)
            run.transition(step_state, step=kind)
        while True:
            spent = (
                bool(step.tools)
                and not self.budgets.offer_tools_after_use
                and tools.used_all(step.tools or ())
            )
            request = ModelRequest(
                assistant=spec,
                input=transcript.request_input(),
                tools=() if spent else schemas,
                previous_response_id=transcript.previous_response_id,
                hints=hints(run, kind, max_history_pairs=history, step=step, index=index),
            )
            try:
                turn = await self._call_model(run, kind, index, request, usage)
            except OutputTruncated as cut:
                transcript.add_correction(None, await self._shorter(run, kind, index, cut, retried))
                continue
            if not turn.tool_calls:
                answer = _final_answer(turn, kind)
                first = transcript.items[0]
                prompt = first.text if isinstance(first, UserMessage) else ""
                correction = await self._check_answer(
                    run, index, spec, offered, answer, turn, prompt, tools.calls_done, retried
                )
                if correction is None:
                    return tools.finish(answer)
                transcript.add_correction(answer, correction)
                continue
            step_progress.rounds += 1
            self._check_tool_rounds(step_progress.rounds, kind)
            run.transition(State.AWAITING_TOOLS, step=kind)
            outputs = await tools.run_round(turn)
            self._ground_round(run, turn, outputs)
            transcript.add_round(turn, outputs)
            run.transition(step_state, step=kind)

    async def _shorter(
        self, run: _Run, kind: str, index: int, cut: OutputTruncated, retried: set[str]
    ) -> str:
        """A step's answer was cut off: ask once for a shorter one, else end the run."""
        cap = self.assistants[kind].max_output_tokens or self.budgets.step_max_output_tokens
        words = max(50, round(cap * _WORDS_PER_CAPPED_TOKEN, -1))
        if "truncated" in retried:
            raise RunFailure(
                "llm_output_truncated",
                f"the {kind} step's answer was cut off at its {cap}-token limit again after "
                f"it was asked for at most {words:g} words ({cut.message})",
                step=kind,
            )
        retried.add("truncated")
        run.log.info("run.output_truncated", step=kind, max_output_tokens=cap, error=cut.message)
        await run.thinking(
            kind,
            "the answer was cut off at its length limit; asking for a shorter one",
            step_index=index,
        )
        return (
            "Your answer was cut off at the output length limit. Answer again, complete, in at "
            f"most {words:g} words: only the key figures and conclusions."
        )

    async def _check_answer(
        self,
        run: _Run,
        index: int,
        spec: AssistantSpec,
        offered: tuple[str, ...],
        answer: str,
        turn: ModelTurn,
        prompt: str,
        calls_done: int,
        retried: set[str],
    ) -> str | None:
        """Grounding checks of a step's final answer: None if it stands, else the correction
        to send (each check corrects a step once; what still fails is flagged, or for an echo
        ends the run)."""
        if not self._checks_answer(turn):
            return None
        kind, grounding = spec.name, run.grounding
        data_question = self._is_data_question(run)  # also adds the question to the sources
        for _, earlier in run.outputs:  # findings may rightly be restated: not the prompt
            prompt = prompt.replace(earlier, " ")
        if echoes_prompt(answer, f"{spec.instructions}\n{prompt}"):
            if "echo" in retried:
                raise RunFailure(
                    "llm_echoed_prompt",
                    f"the {kind} step's answer repeated its prompt instead of answering, "
                    "again after it was told so",
                    step=kind,
                )
            return await self._correct(
                run,
                index,
                kind,
                "echo",
                retried,
                "the answer repeated its prompt",
                "Your answer repeated the prompt instead of answering it. Do the task now: "
                "answer in your own words with the findings.",
            )
        grounding.set("echo", "ok")
        data_tools = [tool for tool in offered if is_data_tool(tool)]  # this step's, as planned
        if data_tools and data_question:
            if calls_done == 0 and "tools_called" not in retried:
                return await self._correct(
                    run,
                    index,
                    kind,
                    "tools_called",
                    retried,
                    "no tool was called",
                    "This question needs data and you called no tool. Call the tools you "
                    f"need ({', '.join(data_tools)}) before answering; never answer from "
                    "memory.",
                )
            grounding.set("tools_called", "ok" if calls_done else "failed")
        if run.plan is not None and index == len(run.plan.steps) - 1:
            bad = list(dict.fromkeys(ungrounded_numbers(answer, grounding.sources())))
            if bad and "numbers" not in retried:
                listed = ", ".join(bad[:_MAX_LISTED_FIGURES])
                return await self._correct(
                    run,
                    index,
                    kind,
                    "numbers",
                    retried,
                    f"figures not found in any tool result ({listed})",
                    f"These figures of your answer are in no tool result and not in the "
                    f"question: {listed}. Write it again with the tools' figures only (or "
                    "roundings of them); leave out or correct the others.",
                )
            grounding.set("numbers", "failed" if bad else "ok")
            grounding.ungrounded = bad
        return None

    async def _correct(
        self,
        run: _Run,
        index: int,
        kind: str,
        check: str,
        retried: set[str],
        why: str,
        correction: str,
    ) -> str:
        retried.add(check)
        run.grounding.retry(check)
        run.log.info("run.grounding_retry", step=kind, check=check, reason=why)
        await run.thinking(kind, f"{why}; asking again", step_index=index)
        return correction

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
        turn = await call_model(
            run,
            agent,
            step_index,
            request,
            usage,
            provider=self.provider,
            budgets=self.budgets,
            accounting=self.accounting,
            delta_interval_s=self._delta_interval_s,
            observer=self.observer,
        )
        _check_tokens(run, agent, self.budgets.max_run_tokens)
        return turn


def _check_tokens(run: _Run, agent: str, limit: int) -> None:
    """End the run once its model tokens exceed ``max_run_tokens`` (0: no limit)."""
    used = run.usage.input_tokens + run.usage.output_tokens
    if limit and used > limit:
        raise RunFailure(
            "token_budget_exceeded",
            f"the run used {used} model tokens, more than its budget of {limit}",
            step=agent,
        )


def _with_output_cap(spec: AssistantSpec, budgets: BudgetConfig) -> AssistantSpec:
    """``spec`` with the ``[budgets]`` output cap of its role unless it sets its own."""
    if spec.max_output_tokens is not None:
        return spec
    if spec.name == PLANNER:
        cap = budgets.planner_max_output_tokens
    elif spec.name == "report":
        cap = budgets.report_max_output_tokens
    else:
        cap = budgets.step_max_output_tokens
    return msgspec.structs.replace(spec, max_output_tokens=cap)


def _final_answer(turn: ModelTurn, step: str) -> str:
    output = turn.text.strip()
    if not output:
        raise RunFailure("llm_bad_response", "the model returned an empty answer", step=step)
    return output
