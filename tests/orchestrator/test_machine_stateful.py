"""Stateful test: many runs on ONE orchestrator, started, cancelled and interrupted at random.

Hypothesis interleaves rules (start a run with a random script, cancel one with
``orch.cancel``, cancel a run's task from outside, let time pass). Every run, however it ends,
must produce exactly one terminal event with monotonic seq/progress, never an internal error,
and the orchestrator must forget finished runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orchestrator import BudgetConfig, Orchestrator, RunContext
from orchestrator.events import Completed, ErrorEvent, Event
from orchestrator.providers.base import ModelRequest, ProviderEvent, ProviderUnavailable
from orchestrator.providers.scripted import (
    Fail,
    Reply,
    ScriptedProvider,
    ScriptItem,
    plan_reply,
    tool_call,
)
from tests.support.machine import FIXED_NOW, check_invariants, make_assistants, make_registry

pytestmark = pytest.mark.usefixtures("captured_logs")


class RoutingProvider:
    """One scripted provider per run, chosen by the question (each run asks its own id)."""

    name = "routing"

    def __init__(self) -> None:
        self.scripts: dict[str, ScriptedProvider] = {}

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        return self.scripts[str(request.hints["question"])].stream(request)

    async def aclose(self) -> None:
        return None


delays = st.sampled_from([0.0, 0.001, 0.004])

step_turns: st.SearchStrategy[list[ScriptItem]] = st.one_of(
    st.builds(lambda d: [Reply(text="Findings.", delay_s=d)], delays),
    st.builds(
        lambda d: [
            Reply(tool_calls=(tool_call("series", {"seed": 1, "months": 2}),), delay_s=d),
            Reply(text="Findings after a tool.", delay_s=d),
        ],
        delays,
    ),
    st.builds(
        lambda d: [Fail(error=ProviderUnavailable("503"), delay_s=d), Reply(text="Recovered.")],
        delays,
    ),
    st.just([Reply(tool_calls=(tool_call("boom", {}),))] * 4),
)


@st.composite
def scripts(draw: st.DrawFn) -> list[ScriptItem]:
    kinds = draw(st.lists(st.sampled_from(["carbon", "analysis"]), unique=True, max_size=2))
    script: list[ScriptItem] = [plan_reply(*[(k, k) for k in kinds], ("report", "write"))]
    for _ in [*kinds, "report"]:
        script += draw(step_turns)
    return script


class ConcurrentRuns(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.provider = RoutingProvider()
        self.orch = Orchestrator(
            self.provider,
            make_assistants(),
            budgets=BudgetConfig(retry_backoff_s=0.001, tool_error_retries=2),
            tools=make_registry(),
            clock=lambda: FIXED_NOW,
        )
        self.events: dict[str, list[Event]] = {}
        self.tasks: dict[str, asyncio.Task[object]] = {}
        self.externally_cancelled: set[str] = set()
        self.counter = 0

    @rule(script=scripts())
    def start_run(self, script: list[ScriptItem]) -> None:
        self.counter += 1
        run_id = f"run-{self.counter}"
        self.provider.scripts[run_id] = ScriptedProvider(script)
        seen: list[Event] = []
        self.events[run_id] = seen

        async def emit(event: Event) -> None:
            seen.append(event)

        self.tasks[run_id] = self.loop.create_task(
            self.orch.run(run_id, RunContext(run_id=run_id), emit)
        )

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data())
    def cancel_with_orch(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.tasks)))
        self.orch.cancel(run_id)

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data())
    def cancel_the_task(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.tasks)))
        if not self.tasks[run_id].done():
            self.externally_cancelled.add(run_id)
            self.tasks[run_id].cancel()

    @rule(seconds=st.sampled_from([0.0, 0.002, 0.01]))
    def let_time_pass(self, seconds: float) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))

    @invariant()
    def only_unfinished_runs_are_active(self) -> None:
        running = {run_id for run_id, task in self.tasks.items() if not task.done()}
        assert set(self.orch.active_runs()) <= running

    def teardown(self) -> None:
        try:
            pending = [task for task in self.tasks.values() if not task.done()]
            if pending:
                self.loop.run_until_complete(asyncio.wait(pending, timeout=10))
            for run_id, task in self.tasks.items():
                assert task.done(), f"{run_id} hangs"
                events = self.events[run_id]
                if not events:
                    # Cancelled before its first step: the coroutine never ran at all.
                    assert task.cancelled()
                    assert run_id in self.externally_cancelled
                    continue
                check_invariants(events)
                terminal = events[-1]
                if isinstance(terminal, ErrorEvent):
                    assert terminal.data.code in {"cancelled", "tool_failed"}, terminal.data
                else:
                    assert isinstance(terminal, Completed)
                if task.cancelled():
                    # Only a cancel from outside propagates; it still emitted its terminal event.
                    assert run_id in self.externally_cancelled
                    assert isinstance(terminal, ErrorEvent)
                    assert terminal.data.code == "cancelled"
            assert self.orch.active_runs() == ()
        finally:
            self.loop.close()


ConcurrentRuns.TestCase.settings = settings(max_examples=40, stateful_step_count=12, deadline=None)
test_concurrent_runs = ConcurrentRuns.TestCase
