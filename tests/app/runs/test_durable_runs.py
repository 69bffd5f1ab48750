"""Durable runs in the service: checkpoints in the database, claim and resume, handover.

Each test runs on SQLite and PostgreSQL. A worker "crash" is :func:`crash`: its heartbeat
and its runs' tasks stop without writing another row (as if the process vanished), and the
test expires their leases instead of waiting for them. The worker that resumes gets a
provider scripted only with the model calls still to make, so a completed step asked again
would fail the run (the scripted provider has no turn left for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import select, update

from app.db.engine import Database
from app.runs.models import Run, RunCheckpoint
from app.runs.service import RunService
from app.settings import RunSettings
from orchestrator import decode_checkpoint
from orchestrator.assistants import ASSISTANT_NAMES, AssistantSpec
from orchestrator.config import BudgetConfig
from orchestrator.events import (
    AgentResponse,
    AgentThinking,
    Completed,
    ErrorEvent,
    Event,
    Resumed,
)
from orchestrator.machine import Orchestrator
from orchestrator.providers.scripted import Reply, ScriptedProvider, plan_reply
from orchestrator.registry import ToolRegistry
from tests.support.runs import make_user, running_service, stored_events

DURABLE = RunSettings(max_resumes=2, handover_s=5.0)
CARBON = "Carbon: 1,000 kWh is about 300 kg CO2e."
REPORT = "# Report\n\nAbout **300 kg CO2e**."


def orchestrator(
    *,
    planner: bool = True,
    carbon: bool = True,
    planner_delay_s: float = 0.0,
    report_delay_s: float = 0.0,
) -> tuple[Orchestrator, ScriptedProvider]:
    """Plans carbon → report; scripted with only the calls named (the rest would fail)."""
    script: dict[str, list[Reply]] = {
        "planner": [
            msgspec.structs.replace(
                plan_reply(("carbon", "Estimate it"), ("report", "Write it")),
                delay_s=planner_delay_s,
            )
        ]
        if planner
        else [],
        "carbon": [Reply(text=CARBON)] if carbon else [],
        "report": [Reply(text=REPORT, delay_s=report_delay_s)],
    }
    provider = ScriptedProvider(script)
    assistants = {
        name: AssistantSpec(name=name, model="scripted", instructions=f"{name} instructions")
        for name in ASSISTANT_NAMES
    }
    # The scripted report's figures are in no tool result: the grounding checks would ask it
    # again (they are tested in tests/orchestrator/test_grounding.py); these count calls.
    budgets = BudgetConfig(grounding_checks=False)
    orch = Orchestrator(provider, assistants=assistants, tools=ToolRegistry(), budgets=budgets)
    return orch, provider


async def crash(service: RunService) -> None:
    """The worker's process vanishes: nothing more is written by it."""
    if service._heartbeat is not None:
        service._heartbeat.cancel()
    tasks = []
    for live in list(service._live.values()):
        live.closed = True
        if live.task is not None:
            live.task.cancel()
            tasks.append(live.task)
    await asyncio.gather(*tasks, return_exceptions=True)


async def expire_leases(database: Database) -> None:
    async with database.session_maker() as session, session.begin():
        await session.execute(
            update(Run)
            .where(Run.status == "running")
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def until(
    database: Database, run_id: str, done: Callable[[list[Event]], bool], within_s: float = 5
) -> list[Event]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        events = await stored_events(database, run_id)
        if done(events):
            return events
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id}: condition not met; events: {events}")


def ended(events: list[Event]) -> bool:
    return bool(events) and isinstance(events[-1], Completed | ErrorEvent)


def thinking_of(agent: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(
        isinstance(e, AgentThinking) and e.agent_name == agent for e in events
    )


def resumes(count: int) -> Callable[[list[Event]], bool]:
    return lambda events: sum(isinstance(e, Resumed) for e in events) == count


async def run_row(database: Database, run_id: str) -> Run:
    async with database.session_maker() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run


async def checkpoint_row(database: Database, run_id: str) -> RunCheckpoint | None:
    async with database.session_maker() as session:
        return await session.scalar(select(RunCheckpoint).where(RunCheckpoint.run_id == run_id))


def check_log(events: list[Event]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    progress = [e.data.progress for e in events]
    assert progress == sorted(progress)
    assert sum(isinstance(e, Completed | ErrorEvent) for e in events) == 1
    assert isinstance(events[-1], Completed | ErrorEvent)


async def started_run(
    database: Database, service: RunService, reached: Callable[[list[Event]], bool]
) -> str:
    user = await make_user(database, f"{time.monotonic_ns()}@example.org")
    started = await service.start(user_id=user, question="Footprint of 1,000 kWh?")
    await until(database, started.run_id, reached)
    return started.run_id


async def test_the_checkpoint_is_committed_with_its_boundary_event_and_dropped_at_the_end(
    database: Database,
) -> None:
    slow, _ = orchestrator(report_delay_s=30)
    async with running_service(database, slow, DURABLE) as service:
        run_id = await started_run(database, service, thinking_of("report"))
        row = await checkpoint_row(database, run_id)
        assert row is not None
        events = await stored_events(database, run_id)
        boundary = next(e for e in events if e.seq == row.seq)
        assert isinstance(boundary, AgentResponse)
        assert boundary.agent_name == "carbon"
        checkpoint = decode_checkpoint(row.payload)
        assert [o.kind for o in checkpoint.outputs] == ["carbon"]
        assert checkpoint.outputs[0].output == CARBON
        await crash(service)
    done, _ = orchestrator(planner=False, carbon=False)
    await expire_leases(database)
    async with running_service(database, done, DURABLE):
        await until(database, run_id, ended)
    assert await checkpoint_row(database, run_id) is None


async def test_a_dead_workers_run_is_resumed_without_repeating_completed_steps(
    database: Database,
) -> None:
    first, _ = orchestrator(report_delay_s=30)
    async with running_service(database, first, DURABLE) as dying:
        run_id = await started_run(database, dying, thinking_of("report"))
        await crash(dying)
    before = await stored_events(database, run_id)
    await expire_leases(database)

    survivor, provider = orchestrator(planner=False, carbon=False)
    async with running_service(database, survivor, DURABLE):
        events = await until(database, run_id, ended)

    check_log(events)
    assert events[: len(before)] == before
    resumed = [e for e in events if isinstance(e, Resumed)]
    assert len(resumed) == 1
    assert resumed[0].seq == len(before) + 1
    data = resumed[0].data
    assert (data.from_step, data.step_index, data.attempt, data.reason) == (
        "report",
        1,
        1,
        "worker_lost",
    )
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.data.full_content.startswith(REPORT)
    # Only the report call was made again: the survivor's script had nothing else.
    assert [r.hints["role"] for r in provider.requests] == ["report"]
    assert provider.remaining == 0
    run = await run_row(database, run_id)
    assert (run.status, run.resumes) == ("completed", 1)


async def test_a_run_that_keeps_crashing_its_workers_ends_interrupted_after_max_resumes(
    database: Database,
) -> None:
    first, _ = orchestrator(report_delay_s=30)
    async with running_service(database, first, DURABLE) as worker:
        run_id = await started_run(database, worker, thinking_of("report"))
        await crash(worker)
    for attempt in (1, 2):
        await expire_leases(database)
        again, _ = orchestrator(planner=False, carbon=False, report_delay_s=30)
        async with running_service(database, again, DURABLE) as worker:
            await until(database, run_id, resumes(attempt))
            await crash(worker)
    await expire_leases(database)
    last, provider = orchestrator(planner=False, carbon=False)
    async with running_service(database, last, DURABLE) as worker:
        events = await until(database, run_id, ended)
        assert await worker.sweep_stale() == 0

    check_log(events)
    assert [e.data.attempt for e in events if isinstance(e, Resumed)] == [1, 2]
    final = events[-1]
    assert isinstance(final, ErrorEvent)
    assert final.data.code == "interrupted"
    assert provider.requests == []
    run = await run_row(database, run_id)
    assert (run.status, run.resumes) == ("interrupted", 2)


async def test_an_unreadable_checkpoint_fails_the_run_once_with_checkpoint_invalid(
    database: Database,
) -> None:
    first, _ = orchestrator(report_delay_s=30)
    async with running_service(database, first, DURABLE) as worker:
        run_id = await started_run(database, worker, thinking_of("report"))
        await crash(worker)
    async with database.session_maker() as session, session.begin():
        await session.execute(
            update(RunCheckpoint)
            .where(RunCheckpoint.run_id == run_id)
            .values(payload='{"version": 1, "run_id": "x", "plan": 7}')
        )
    await expire_leases(database)
    survivor, provider = orchestrator(planner=False, carbon=False)
    async with running_service(database, survivor, DURABLE) as worker:
        events = await until(database, run_id, ended)
        assert await worker.sweep_stale() == 0

    check_log(events)
    final = events[-1]
    assert isinstance(final, ErrorEvent)
    assert final.data.code == "checkpoint_invalid"
    assert "could not be resumed" in final.data.error
    assert not any(isinstance(e, Resumed) for e in events)
    assert provider.requests == []
    run = await run_row(database, run_id)
    assert (run.status, run.error_code) == ("failed", "checkpoint_invalid")


async def test_two_workers_sweeping_the_same_dead_run_resume_it_once(
    database: Database,
) -> None:
    first, _ = orchestrator(report_delay_s=30)
    one_orch, one_provider = orchestrator(planner=False, carbon=False, report_delay_s=0.2)
    two_orch, two_provider = orchestrator(planner=False, carbon=False, report_delay_s=0.2)
    async with (
        running_service(database, first, DURABLE, worker_id="dying") as dying,
        running_service(database, one_orch, DURABLE, worker_id="one") as one,
        running_service(database, two_orch, DURABLE, worker_id="two") as two,
    ):
        run_id = await started_run(database, dying, thinking_of("report"))
        await crash(dying)
        await expire_leases(database)
        claims = await asyncio.gather(one.sweep_stale(), two.sweep_stale())
        assert sorted(claims) == [0, 1]
        events = await until(database, run_id, ended)

    check_log(events)
    assert sum(isinstance(e, Resumed) for e in events) == 1
    assert len(one_provider.requests) + len(two_provider.requests) == 1
    assert isinstance(events[-1], Completed)


async def _stop(service_exit: Awaitable[object]) -> float:
    started = time.monotonic()
    await service_exit
    return time.monotonic() - started


async def test_a_stopping_worker_hands_its_run_over_at_the_next_boundary(
    database: Database,
) -> None:
    slow_plan, _ = orchestrator(planner_delay_s=0.4, report_delay_s=30)
    context = running_service(database, slow_plan, DURABLE)
    worker = await context.__aenter__()
    run_id = await started_run(database, worker, thinking_of("planner"))
    stop_s = await _stop(context.__aexit__(None, None, None))
    assert stop_s < 3.0  # the planner's answer was the boundary it stopped at

    run = await run_row(database, run_id)
    assert (run.status, run.worker_id) == ("running", None)
    before = await stored_events(database, run_id)
    assert isinstance(before[-1], AgentResponse)
    assert before[-1].agent_name == "planner"

    survivor, provider = orchestrator(planner=False)
    async with running_service(database, survivor, DURABLE):
        events = await until(database, run_id, ended)
    check_log(events)
    resumed = [e for e in events if isinstance(e, Resumed)]
    assert [(e.data.reason, e.data.from_step) for e in resumed] == [("handover", "carbon")]
    assert [r.hints["role"] for r in provider.requests] == ["carbon", "report"]
    assert isinstance(events[-1], Completed)


async def test_a_run_stuck_in_a_model_call_is_handed_over_after_handover_s(
    database: Database,
) -> None:
    stuck, _ = orchestrator(report_delay_s=30)
    settings = RunSettings(max_resumes=2, handover_s=0.3)
    context = running_service(database, stuck, settings)
    worker = await context.__aenter__()
    run_id = await started_run(database, worker, thinking_of("report"))
    stop_s = await _stop(context.__aexit__(None, None, None))
    assert stop_s < 2.0

    survivor, provider = orchestrator(planner=False, carbon=False)
    async with running_service(database, survivor, settings):
        events = await until(database, run_id, ended)
    check_log(events)
    assert [e.data.reason for e in events if isinstance(e, Resumed)] == ["handover"]
    assert [r.hints["role"] for r in provider.requests] == ["report"]
    assert isinstance(events[-1], Completed)


async def test_without_resumes_a_shutdown_still_interrupts(database: Database) -> None:
    stuck, _ = orchestrator(report_delay_s=30)
    async with running_service(database, stuck, RunSettings(max_resumes=0)) as worker:
        run_id = await started_run(database, worker, thinking_of("report"))
    events = await stored_events(database, run_id)
    final = events[-1]
    assert isinstance(final, ErrorEvent)
    assert final.data.code == "interrupted"


async def test_no_other_worker_claims_a_run_while_its_worker_is_handing_it_over(
    database: Database,
) -> None:
    """The stopping worker keeps renewing its leases while it waits for boundaries: a
    handover longer than the lease is still a handover, never a second executor."""
    short = RunSettings(max_resumes=2, lease_s=1.0, heartbeat_s=0.2, handover_s=2.5)
    stuck, _ = orchestrator(report_delay_s=30)
    survivor, provider = orchestrator(planner=False, carbon=False)
    async with running_service(database, survivor, short, worker_id="survivor"):
        context = running_service(database, stuck, short, worker_id="stopping")
        worker = await context.__aenter__()
        run_id = await started_run(database, worker, thinking_of("report"))
        await _stop(context.__aexit__(None, None, None))
        events = await until(database, run_id, ended)
    check_log(events)
    assert [e.data.reason for e in events if isinstance(e, Resumed)] == ["handover"]
    assert [r.hints["role"] for r in provider.requests] == ["report"]
    assert isinstance(events[-1], Completed)


async def test_a_worker_whose_run_was_claimed_elsewhere_stops_writing_it(
    database: Database,
) -> None:
    """Fencing: a worker too slow to renew its lease (a stalled loop or database) finds at
    its next write that another worker claimed the run, and stops without a trace."""
    slow, _ = orchestrator(report_delay_s=0.5)
    async with running_service(database, slow, DURABLE) as worker:
        run_id = await started_run(database, worker, thinking_of("report"))
        async with database.session_maker() as session, session.begin():
            await session.execute(update(Run).where(Run.id == run_id).values(worker_id="other"))
        before = await stored_events(database, run_id)
        for _ in range(200):
            if worker.active == 0:
                break
            await asyncio.sleep(0.02)
        assert worker.active == 0
        assert await stored_events(database, run_id) == before
        run = await run_row(database, run_id)
        assert (run.status, run.worker_id) == ("running", "other")
