"""Durable runs in the library: checkpoints at step boundaries, and resuming from them.

A "worker death" is a ``BaseException`` raised where the process would have stopped (in the
consumer's ``emit`` after it stored an event, or inside a tool call): nothing of the run's
attempt survives but what its checkpointer and the consumer kept. The resumed attempt runs
in a fresh :class:`Orchestrator` with a fresh provider, as another process would.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import pytest

from orchestrator import (
    CHECKPOINT_VERSION,
    BudgetConfig,
    Checkpoint,
    Checkpointer,
    CheckpointInvalid,
    InMemoryCheckpointer,
    Orchestrator,
    RunContext,
    decode_checkpoint,
    encode_checkpoint,
)
from orchestrator.events import (
    AgentResponse,
    Completed,
    ErrorEvent,
    Event,
    GroundingVerdict,
    Resumed,
    Started,
    ToolExecution,
    decode_event,
    encode_event,
)
from orchestrator.providers.base import (
    FunctionCallOutput,
    ModelRequest,
    ModelTurn,
    ProviderEvent,
    ToolCallRequest,
    TurnUsage,
)
from tests.support.machine import FIXED_NOW, make_assistants, make_registry
from tools.catalog_types import ToolContext, ToolDefinition

pytestmark = pytest.mark.usefixtures("captured_logs")

QUESTION = "What is 1 + 2?"


class WorkerDied(BaseException):
    """The process stopped here (not an error the run could catch)."""


class Model:
    """A deterministic model that answers from what it is sent, and counts its calls.

    The planner plans carbon → report. The carbon step first asks for three tools
    (``add``, the non-idempotent ``notify``, ``series``), then answers with their outputs;
    the report step answers with the carbon step's output (which it is sent).
    """

    name = "model"

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def stream(self, request: ModelRequest) -> Any:
        role = str(request.hints["role"])
        self.calls[role] += 1
        outputs = [item.output for item in request.input if isinstance(item, FunctionCallOutput)]
        calls: tuple[ToolCallRequest, ...] = ()
        if role == "planner":
            body = {
                "steps": [
                    {"kind": "carbon", "task": "Add the numbers."},
                    {"kind": "report", "task": "Write it up."},
                ]
            }
            text = msgspec.json.encode(body).decode()
        elif role == "carbon" and not outputs:
            text = ""
            calls = (
                ToolCallRequest("c1", "add", '{"a": 1, "b": 2}'),
                ToolCallRequest("c2", "notify", "{}"),
                ToolCallRequest("c3", "series", '{"seed": 1, "months": 2}'),
            )
        elif role == "carbon":
            text = "carbon: " + " | ".join(outputs)
        else:
            earlier = request.hints["earlier_outputs"]
            text = "report: " + " / ".join(item["output"] for item in earlier)
        turn = ModelTurn(text=text, tool_calls=calls, usage=TurnUsage(input_tokens=10))
        events: list[ProviderEvent] = [*calls, turn]
        for event in events:
            yield event

    async def aclose(self) -> None:
        pass


class Notify(msgspec.Struct, frozen=True):
    pass


class Tools:
    """The test registry plus ``notify`` (not idempotent), counting every tool execution;
    ``die_in`` names a tool whose next execution kills the worker mid-call."""

    def __init__(self, die_in: str | None = None) -> None:
        self.runs: Counter[str] = Counter()
        self.die_in = die_in
        self.registry = make_registry()
        for name in ("add", "series"):
            tool = self.registry.get(name)
            assert tool is not None
            self.registry.register(self._counted(tool), replace=True)
        self.registry.register(
            self._counted(
                ToolDefinition(
                    name="notify",
                    description="Sends a message (a side effect: not idempotent).",
                    input_type=Notify,
                    fn=lambda args, ctx: {"sent": True},
                    idempotent=False,
                )
            )
        )

    def _counted(self, tool: ToolDefinition[Any, Any]) -> ToolDefinition[Any, Any]:
        inner = tool.fn

        async def fn(args: Any, ctx: ToolContext) -> Any:
            if self.die_in == tool.name:
                self.die_in = None
                raise WorkerDied
            self.runs[tool.name] += 1
            result = inner(args, ctx)
            return await result if hasattr(result, "__await__") else result

        return ToolDefinition(
            name=tool.name,
            description=tool.description,
            input_type=tool.input_type,
            fn=fn,
            idempotent=tool.idempotent,
        )


def orchestrator(model: Model, tools: Tools, checkpointer: Checkpointer) -> Orchestrator:
    assistants = make_assistants()
    assistants["carbon"] = msgspec.structs.replace(
        assistants["carbon"], tools=("add", "notify", "series")
    )
    return Orchestrator(
        model,
        assistants,
        budgets=BudgetConfig(retry_backoff_s=0.001),
        tools=tools.registry,
        clock=lambda: FIXED_NOW,
        checkpointer=checkpointer,
    )


class Consumer:
    """Stores the events it is given (a copy through JSON, like a database); may die after
    storing the ``die_after``-th one."""

    def __init__(self, die_after: int | None = None) -> None:
        self.events: list[Event] = []
        self.die_after = die_after

    async def emit(self, event: Event) -> None:
        self.events.append(decode_event(encode_event(event)))
        if self.die_after is not None and len(self.events) == self.die_after:
            raise WorkerDied


def context() -> RunContext:
    return RunContext(run_id="run-1", conversation_id=7)


async def uninterrupted() -> tuple[list[Event], Model, Tools, InMemoryCheckpointer]:
    model, tools, store, consumer = Model(), Tools(), InMemoryCheckpointer(), Consumer()
    result = await orchestrator(model, tools, store).run(QUESTION, context(), consumer.emit)
    assert result.status == "completed", result.error
    return consumer.events, model, tools, store


async def resume(
    store: InMemoryCheckpointer, before: list[Event], reason: str = "worker_lost"
) -> tuple[list[Event], Model, Tools]:
    """Resume run-1 in a fresh orchestrator, as a new process would (from what is stored)."""
    checkpoint = await store.load("run-1")
    assert checkpoint is not None
    model, tools, consumer = Model(), Tools(), Consumer()
    result = await orchestrator(model, tools, store).resume(
        checkpoint,
        QUESTION,
        context(),
        consumer.emit,
        reason=reason,
        last_seq=before[-1].seq,
        progress=before[-1].data.progress,
    )
    assert result.status == "completed", result.error
    return consumer.events, model, tools


def check_log(events: list[Event]) -> None:
    """One run's whole event log: seq 1..n without gaps or duplicates, progress never
    decreasing, exactly one terminal event, last."""
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    progress = [event.data.progress for event in events]
    assert progress == sorted(progress)
    assert [type(e) for e in events if isinstance(e, Completed | ErrorEvent)] == [Completed]
    assert isinstance(events[-1], Completed)


def _grounding(events: list[Event]) -> GroundingVerdict:
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.data.grounding is not None
    return final.data.grounding


def report(events: list[Event]) -> str:
    final = events[-1]
    assert isinstance(final, Completed)
    return final.data.full_content


async def test_a_checkpoint_is_saved_with_every_boundary_event() -> None:
    events, _, _, store = await uninterrupted()
    boundaries = [e for e in events if isinstance(e, AgentResponse | Started | ToolExecution)]
    # The start, the plan, three calls started and ended, the carbon step, the report step.
    assert len(boundaries) == store.saves == 10
    last = await store.load("run-1")
    assert last is not None
    assert last.seq == boundaries[-1].seq
    assert [o.kind for o in last.outputs] == ["carbon", "report"]
    assert last.outputs[-1].output == report(events)
    assert last.step is None
    assert last.now == FIXED_NOW.isoformat()


async def test_a_checkpoint_taken_mid_round_holds_the_finished_calls() -> None:
    model, tools, store = Model(), Tools(), InMemoryCheckpointer()
    consumer = Consumer()
    orch = orchestrator(model, tools, store)

    async def emit(event: Event) -> None:
        await consumer.emit(event)
        if isinstance(event, ToolExecution) and (event.data.call_id, event.data.status) == (
            "c2",
            "finished",
        ):
            raise WorkerDied

    with pytest.raises(WorkerDied):
        await orch.run(QUESTION, context(), emit)
    checkpoint = await store.load("run-1")
    assert checkpoint is not None
    assert checkpoint.step is not None
    assert checkpoint.seq == consumer.events[-1].seq
    assert checkpoint.step.turn is not None
    assert [call.call_id for call in checkpoint.step.turn.tool_calls] == ["c1", "c2", "c3"]
    assert [o.call_id for o in checkpoint.step.outputs] == ["c1", "c2"]
    assert checkpoint.step.calls_done == 2
    assert checkpoint.plan is not None
    assert checkpoint.outputs == []


@pytest.mark.parametrize("die_after", range(1, 14))
async def test_a_run_killed_after_any_event_resumes_without_repeating_completed_steps(
    die_after: int,
) -> None:
    baseline, *_ = await uninterrupted()
    assert len(baseline) == 14  # the parametrization covers every event but the last
    model, tools, store = Model(), Tools(), InMemoryCheckpointer()
    consumer = Consumer(die_after=die_after)
    with pytest.raises(WorkerDied):
        await orchestrator(model, tools, store).run(QUESTION, context(), consumer.emit)
    before = consumer.events

    after, model2, tools2 = await resume(store, before)

    log = before + after
    check_log(log)
    resumed = [e for e in log if isinstance(e, Resumed)]
    assert len(resumed) == 1
    assert resumed[0] is after[0]
    assert (resumed[0].data.attempt, resumed[0].data.reason) == (1, "worker_lost")
    # A step whose answer was stored before the death is never asked again.
    done_before = {e.agent_name for e in before if isinstance(e, AgentResponse)}
    for role in done_before:
        assert model2.calls[role] == 0, role
    # At most the one model call in flight at the death is made twice.
    assert sum((model.calls + model2.calls).values()) <= sum(Model().calls.values()) + 4 + 1
    # No tool ran twice; notify (not idempotent) never ran twice even when in doubt.
    runs = tools.runs + tools2.runs
    assert max(runs.values()) == 1
    notify_started = [
        e
        for e in before
        if isinstance(e, ToolExecution) and e.data.call_id == "c2" and e.data.status == "started"
    ]
    notify_ended = [
        e
        for e in before
        if isinstance(e, ToolExecution) and e.data.call_id == "c2" and e.data.status != "started"
    ]
    # The grounding checks saw the tool results of before the death too (checkpointed).
    verdict, expected = _grounding(log), _grounding(baseline)
    assert expected.status == "ok"
    assert (verdict.status, verdict.ungrounded_numbers) == ("ok", [])
    if notify_started and not notify_ended:  # the death came while notify may have run
        assert runs["notify"] == 0
        assert "it is not idempotent, so it was not repeated" in report(log)
    else:
        assert report(log) == report(baseline)
        assert runs == Counter({"add": 1, "notify": 1, "series": 1})


async def test_an_idempotent_call_cut_off_by_the_death_runs_again() -> None:
    model, tools, store = Model(), Tools(die_in="series"), InMemoryCheckpointer()
    consumer = Consumer()
    with pytest.raises(WorkerDied):
        await orchestrator(model, tools, store).run(QUESTION, context(), consumer.emit)
    after, model2, tools2 = await resume(store, consumer.events)

    check_log(consumer.events + after)
    assert tools.runs + tools2.runs == Counter({"add": 1, "notify": 1, "series": 1})
    assert tools2.runs == Counter({"series": 1})
    # The carbon step's tool round was finished, not asked for again.
    assert model2.calls == Counter({"carbon": 1, "report": 1})
    assert report(consumer.events + after) == report((await uninterrupted())[0])


async def test_a_non_idempotent_call_cut_off_by_the_death_is_not_repeated() -> None:
    model, tools, store = Model(), Tools(die_in="notify"), InMemoryCheckpointer()
    consumer = Consumer()
    with pytest.raises(WorkerDied):
        await orchestrator(model, tools, store).run(QUESTION, context(), consumer.emit)
    after, _, tools2 = await resume(store, consumer.events)

    log = consumer.events + after
    check_log(log)
    assert tools.runs + tools2.runs == Counter({"add": 1, "series": 1})
    failed = [e for e in after if isinstance(e, ToolExecution) and e.data.status == "failed"]
    assert [e.data.call_id for e in failed] == ["c2"]
    assert failed[0].data.error is not None
    assert "not repeated" in failed[0].data.error
    # The model is told, and the failure is not counted against the step's failure budget.
    assert "not repeated" in report(log)
    final = log[-1]
    assert isinstance(final, Completed)


async def test_a_run_resumed_twice_counts_its_attempts() -> None:
    model, tools, store = Model(), Tools(), InMemoryCheckpointer()
    first = Consumer(die_after=3)  # started, planner thinking, planner response
    with pytest.raises(WorkerDied):
        await orchestrator(model, tools, store).run(QUESTION, context(), first.emit)
    checkpoint = await store.load("run-1")
    assert checkpoint is not None
    second = Consumer(die_after=3)  # resumed, carbon thinking, first tool started
    with pytest.raises(WorkerDied):
        await orchestrator(Model(), Tools(), store).resume(
            checkpoint, QUESTION, context(), second.emit, last_seq=3, progress=10
        )
    after, _, _ = await resume(store, first.events + second.events, reason="handover")
    log = first.events + second.events + after
    check_log(log)
    resumed = [e for e in log if isinstance(e, Resumed)]
    assert [(e.data.attempt, e.data.from_step, e.data.step_index) for e in resumed] == [
        (1, "carbon", 0),
        (2, "carbon", 0),
    ]
    assert resumed[-1].data.reason == "handover"


async def test_a_run_that_died_before_its_plan_plans_again() -> None:
    store = InMemoryCheckpointer()
    await store.save(Checkpoint(run_id="run-1", seq=2, progress=1, now=FIXED_NOW.isoformat()))
    before: list[Event] = []
    model, tools, consumer = Model(), Tools(), Consumer()
    checkpoint = await store.load("run-1")
    assert checkpoint is not None
    result = await orchestrator(model, tools, store).resume(
        checkpoint, QUESTION, context(), consumer.emit, last_seq=2, progress=1
    )
    assert result.status == "completed"
    assert next(e.seq for e in consumer.events) == 3
    first = consumer.events[0]
    assert isinstance(first, Resumed)
    assert (first.data.from_step, first.data.step_index) == ("planner", None)
    assert model.calls == Counter({"planner": 1, "carbon": 2, "report": 1})
    assert before == []


def test_checkpoints_round_trip_and_reject_what_they_cannot_read() -> None:
    checkpoint = Checkpoint(run_id="r", seq=4, now=FIXED_NOW.isoformat())
    assert decode_checkpoint(encode_checkpoint(checkpoint)) == checkpoint
    with pytest.raises(CheckpointInvalid, match="not valid JSON"):
        decode_checkpoint(b"{not json")
    other = msgspec.json.encode({"version": CHECKPOINT_VERSION + 1, "run_id": "r"})
    with pytest.raises(CheckpointInvalid, match="version"):
        decode_checkpoint(other)
    wrong = msgspec.json.encode(
        {"version": CHECKPOINT_VERSION, "run_id": "r", "seq": 1, "now": "x", "plan": {"s": 1}}
    )
    with pytest.raises(CheckpointInvalid, match="does not match this build"):
        decode_checkpoint(wrong)


async def test_a_saved_checkpoint_is_a_snapshot() -> None:
    """Later changes to the run's state never leak into a checkpoint already saved."""
    events, _, _, store = await uninterrupted()
    raw = store.raw("run-1")
    assert raw is not None
    first_plan_seq = next(e.seq for e in events if isinstance(e, AgentResponse))
    store2 = InMemoryCheckpointer()
    consumer = Consumer(die_after=first_plan_seq)
    with pytest.raises(WorkerDied):
        await orchestrator(Model(), Tools(), store2).run(QUESTION, context(), consumer.emit)
    saved = await store2.load("run-1")
    assert saved is not None
    assert saved.outputs == []
    assert saved.usage.llm_calls == 1
