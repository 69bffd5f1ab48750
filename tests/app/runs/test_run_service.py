"""The run service against a real (migrated) SQLite database and the real state machine."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.conversations.models import Conversation, Message
from app.conversations.service import append_message
from app.db.base import new_id
from app.db.engine import Database
from app.errors import DomainError
from app.runs import store
from app.runs.models import Run
from app.runs.views import run_view
from app.runs.workers import local_prefix
from app.settings import RunSettings
from orchestrator import AssistantSpec, BudgetConfig, Orchestrator, ToolRegistry
from orchestrator.events import (
    AgentThinking,
    AgentThinkingData,
    Completed,
    ErrorEvent,
    Started,
    StartedData,
    utc_timestamp,
)
from orchestrator.providers.base import AuthenticationFailed
from orchestrator.providers.scripted import Reply, ScriptedProvider, plan_reply
from tests.support.runs import (
    REPORT,
    make_user,
    running_service,
    scripted_orchestrator,
    stored_events,
    wait_for_events,
)


async def _run_row(database: Database, run_id: str) -> Run:
    async with database.session_maker() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run


async def _messages(database: Database, conversation_id: int) -> list[tuple[str, str]]:
    async with database.session_maker() as session:
        rows = await session.execute(
            select(Message.role, Message.content)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.position)
        )
        return [(role, content) for role, content in rows]


async def test_a_run_persists_every_event_and_closes_with_the_report(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator()
    question = "How much CO2 does our office emit per year, and what should we change first?"
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question=question)
        await service.wait(started.run_id)

    events = await stored_events(database, started.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], Started)
    assert events[0].data.conversation_id == started.conversation_id
    assert isinstance(events[-1], Completed)
    assert sum(isinstance(e, Completed | ErrorEvent) for e in events) == 1
    run = await _run_row(database, started.run_id)
    assert run.status == "completed"
    assert run.report == events[-1].data.full_content
    assert REPORT in (run.report or "")
    assert run.last_seq == events[-1].seq
    assert run.progress == 100
    assert run.lease_expires_at is None
    assert run.finished_at is not None
    assert run.plan == [{"kind": "report", "task": "Write the report"}]
    assert await _messages(database, started.conversation_id) == [
        ("user", question),
        ("assistant", run.report),
    ]
    async with database.session_maker() as session:
        conversation = await session.get(Conversation, started.conversation_id)
    assert conversation is not None
    assert conversation.title == question[:50]


async def test_a_run_with_an_assistant_the_embedder_added_stores_and_shows_its_step(
    database: Database,
) -> None:
    user = await make_user(database, "water@example.org")
    water = AssistantSpec(
        name="water",
        model="scripted",
        instructions="water instructions",
        description="water use of sites",
    )
    provider = ScriptedProvider(
        {
            "planner": [plan_reply(("water", "Read the meters"), ("report", "Write the report"))],
            "water": [Reply(text="1250 L/day")],
            "report": [Reply(text=REPORT)],
        }
    )
    orchestrator = Orchestrator(
        provider,
        assistants={"water": water},
        tools=ToolRegistry.from_catalog(),
        budgets=BudgetConfig(grounding_checks=False),  # scripted text; see test_grounding.py
    )
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="How much water do we use?")
        await service.wait(started.run_id)

    events = await stored_events(database, started.run_id)
    assert isinstance(events[-1], Completed)
    assert [step.kind for step in events[-1].data.plan] == ["water", "report"]
    assert any(getattr(e.data, "step", None) == "water" for e in events)
    run = await _run_row(database, started.run_id)
    assert run.status == "completed"
    assert run.plan == [
        {"kind": "water", "task": "Read the meters"},
        {"kind": "report", "task": "Write the report"},
    ]
    assert [(step.kind, step.task) for step in run_view(run).plan] == [
        ("water", "Read the meters"),
        ("report", "Write the report"),
    ]


async def test_a_failing_provider_still_stores_a_terminal_event_and_an_assistant_message(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(fail=AuthenticationFailed("the API key was refused"))
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="Footprint of 10 flights?")
        await service.wait(started.run_id)

    events = await stored_events(database, started.run_id)
    terminal = events[-1]
    assert isinstance(terminal, ErrorEvent)
    run = await _run_row(database, started.run_id)
    assert run.status == "failed"
    assert run.error_code == terminal.data.code == AuthenticationFailed.code
    messages = await _messages(database, started.conversation_id)
    assert [role for role, _ in messages] == ["user", "assistant"]
    assert "could not finish" in messages[1][1]
    assert AuthenticationFailed.code in messages[1][1]


async def test_cancel_ends_a_running_run_with_code_cancelled(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=30)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="A slow question")
        await wait_for_events(database, started.run_id, 3)
        assert await service.cancel(started.run_id) is True
        assert not service.is_local(started.run_id)
        assert await service.cancel(started.run_id) is False

    terminal = (await stored_events(database, started.run_id))[-1]
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "cancelled"
    run = await _run_row(database, started.run_id)
    assert run.status == "cancelled"
    messages = await _messages(database, started.conversation_id)
    assert messages[-1][0] == "assistant"
    assert "cancelled" in messages[-1][1]


async def test_continuing_a_conversation_sends_history_and_keeps_alternation(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, provider = scripted_orchestrator(runs=2)
    async with running_service(database, orchestrator) as service:
        first = await service.start(user_id=user, question="First question")
        await service.wait(first.run_id)
        second = await service.start(
            user_id=user, question="Follow-up", conversation_id=first.conversation_id
        )
        await service.wait(second.run_id)

    assert second.conversation_id == first.conversation_id
    roles = [role for role, _ in await _messages(database, first.conversation_id)]
    assert roles == ["user", "assistant", "user", "assistant"]
    last_request = provider.requests[-1]
    history = last_request.hints["history"]
    assert len(history) == 1
    assert history[0]["question"] == "First question"
    assert REPORT in history[0]["answer"]


async def test_a_conversation_runs_one_question_at_a_time(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(runs=2, report_delay_s=30)
    async with running_service(database, orchestrator) as service:
        first = await service.start(user_id=user, question="Slow")
        with pytest.raises(DomainError) as caught:
            await service.start(
                user_id=user, question="Again", conversation_id=first.conversation_id
            )
        assert caught.value.status == 409
        assert caught.value.code == "conversation_busy"
    roles = [role for role, _ in await _messages(database, first.conversation_id)]
    assert roles == ["user", "assistant"]


async def test_a_run_for_a_vanished_account_says_so_not_conversation_busy(
    database: Database,
) -> None:
    """The insert fails on the missing user's foreign key: the cause is the account."""
    orchestrator, _ = scripted_orchestrator(runs=1)
    async with running_service(database, orchestrator) as service:
        with pytest.raises(DomainError) as caught:
            await service.start(user_id=new_id(), question="Hello?")
    assert (caught.value.status, caught.value.code) == (401, "unknown_user")


async def test_concurrency_limits_answer_429(database: Database) -> None:
    alice = await make_user(database, "alice@example.org")
    bob = await make_user(database, "bob@example.org")
    orchestrator, _ = scripted_orchestrator(runs=3, report_delay_s=30)
    limits = RunSettings(max_concurrent_per_user=1, max_concurrent_per_process=2, max_resumes=0)
    async with running_service(database, orchestrator, limits) as service:
        await service.start(user_id=alice, question="one")
        with pytest.raises(DomainError) as per_user:
            await service.start(user_id=alice, question="two")
        assert (per_user.value.status, per_user.value.code) == (429, "too_many_runs")
        assert "1 runs in progress" in per_user.value.detail
        assert per_user.value.headers == {"Retry-After": "5"}
        await service.start(user_id=bob, question="three")
        carol = await make_user(database, "carol@example.org")
        with pytest.raises(DomainError) as per_process:
            await service.start(user_id=carol, question="four")
        assert per_process.value.status == 429
        assert "maximum of 2 concurrent runs" in per_process.value.detail
        assert per_process.value.headers == {"Retry-After": "5"}
        assert service.active == 2


@pytest.mark.parametrize(
    ("question", "code"),
    [("", "invalid_question"), ("   ", "invalid_question"), ("x" * 4001, "question_too_long")],
)
async def test_bad_questions_are_rejected_before_anything_is_stored(
    database: Database, question: str, code: str
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator()
    async with running_service(database, orchestrator) as service:
        with pytest.raises(DomainError) as caught:
            await service.start(user_id=user, question=question)
    assert (caught.value.status, caught.value.code) == (400, code)
    async with database.session_maker() as session:
        assert (await session.scalars(select(Run))).all() == []


async def test_other_users_conversations_and_datasets_are_not_found(database: Database) -> None:
    alice = await make_user(database, "alice@example.org")
    bob = await make_user(database, "bob@example.org")
    orchestrator, _ = scripted_orchestrator()
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=alice, question="Mine")
        await service.wait(started.run_id)
        with pytest.raises(DomainError) as conversation:
            await service.start(
                user_id=bob, question="Theirs", conversation_id=started.conversation_id
            )
        assert (conversation.value.status, conversation.value.code) == (
            404,
            "conversation_not_found",
        )
        with pytest.raises(DomainError) as dataset:
            await service.start(user_id=bob, question="Data", dataset_id="no-such-dataset")
        assert (dataset.value.status, dataset.value.code) == (404, "dataset_not_found")


async def test_shutdown_interrupts_this_process_runs_with_a_terminal_event(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=30)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="Slow")
        await wait_for_events(database, started.run_id, 3)

    events = await stored_events(database, started.run_id)
    assert sum(isinstance(e, Completed | ErrorEvent) for e in events) == 1
    terminal = events[-1]
    assert isinstance(terminal, ErrorEvent)
    assert terminal.data.code == "interrupted"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    run = await _run_row(database, started.run_id)
    assert (run.status, run.error_code) == ("interrupted", "interrupted")
    messages = await _messages(database, started.conversation_id)
    assert [role for role, _ in messages] == ["user", "assistant"]
    assert "interrupted" in messages[1][1]


async def _orphan_run(database: Database, user_id: str, *, lease_s: float, worker: str) -> str:
    """A run row left ``running`` by another process, with its ``started`` event stored."""
    now = datetime.now(UTC)
    async with database.session_maker() as session, session.begin():
        conversation = Conversation(user_id=user_id, title="t", created_at=now, updated_at=now)
        session.add(conversation)
        await session.flush()
        run = Run(
            user_id=user_id,
            conversation_id=conversation.id,
            question="q",
            status="running",
            progress=5,
            last_seq=0,
            worker_id=worker,
            lease_expires_at=now + timedelta(seconds=lease_s),
            cancel_requested=False,
            created_at=now,
        )
        session.add(run)
        await session.flush()
        await append_message(session, conversation.id, "user", "q", run.id, now)
        await store.insert_event(
            session,
            Started(
                run_id=run.id,
                seq=1,
                timestamp=utc_timestamp(now),
                agent_name="system",
                message="Run started",
                data=StartedData(run_id=run.id, conversation_id=conversation.id, question="q"),
            ),
            now,
        )
        await store.insert_event(
            session,
            AgentThinking(
                run_id=run.id,
                seq=2,
                timestamp=utc_timestamp(now),
                agent_name="Planner",
                message="Planning",
                data=AgentThinkingData(progress=10, state="planning"),
            ),
            now,
        )
        return run.id


async def test_startup_closes_only_runs_whose_lease_expired(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    stale = await _orphan_run(database, user, lease_s=-1, worker="dead")
    alive = await _orphan_run(database, user, lease_s=60, worker="alive-elsewhere")
    orchestrator, _ = scripted_orchestrator()
    async with running_service(database, orchestrator, worker_id="new"):
        stale_run = await _run_row(database, stale)
        alive_run = await _run_row(database, alive)
        assert (stale_run.status, stale_run.error_code) == ("interrupted", "interrupted")
        assert alive_run.status == "running"
        events = await stored_events(database, stale)
        assert [e.seq for e in events] == [1, 2, 3]
        assert isinstance(events[-1], ErrorEvent)
        assert events[-1].data.code == "interrupted"
        assert events[-1].data.progress == 10
        messages = await _messages(database, stale_run.conversation_id)
        assert [role for role, _ in messages] == ["user", "assistant"]
    # Shutting down "new" must not touch the run another live process owns.
    assert (await _run_row(database, alive)).status == "running"


async def test_startup_closes_runs_of_an_exited_process_of_this_host_at_once(
    database: Database,
) -> None:
    prefix = local_prefix()
    if prefix is None:
        pytest.skip("needs Linux /proc/self/ns/pid to identify PID namespaces")
    user = await make_user(database, "a@example.org")
    sleeper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    exited = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await exited.wait()
    try:
        # Both leases are still valid: only the process check can tell them apart.
        dead = await _orphan_run(database, user, lease_s=60, worker=f"{prefix}{exited.pid}:dead")
        alive = await _orphan_run(database, user, lease_s=60, worker=f"{prefix}{sleeper.pid}:alive")
        orchestrator, _ = scripted_orchestrator()
        async with running_service(database, orchestrator):
            dead_run = await _run_row(database, dead)
            assert (dead_run.status, dead_run.error_code) == ("interrupted", "interrupted")
            assert (await _run_row(database, alive)).status == "running"
    finally:
        sleeper.kill()
        await sleeper.wait()


async def test_a_second_sweeper_cannot_close_a_run_twice(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    stale = await _orphan_run(database, user, lease_s=-1, worker="dead")
    first, _ = scripted_orchestrator()
    second, _ = scripted_orchestrator()
    async with (
        running_service(database, first, worker_id="one") as one,
        running_service(database, second, worker_id="two") as two,
    ):
        assert await one.sweep_stale() == 0  # already closed by one's start-up sweep
        assert await two.sweep_stale() == 0
    events = await stored_events(database, stale)
    assert [type(e).__name__ for e in events] == ["Started", "AgentThinking", "ErrorEvent"]


async def test_heartbeat_extends_the_lease_of_running_runs(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=30)
    async with running_service(
        database, orchestrator, RunSettings(lease_s=30, max_resumes=0)
    ) as service:
        started = await service.start(user_id=user, question="Slow")
        before = (await _run_row(database, started.run_id)).lease_expires_at
        assert before is not None
        await asyncio.sleep(0.05)
        await service.heartbeat()
        after = (await _run_row(database, started.run_id)).lease_expires_at
        assert after is not None
        assert after > before
        assert (await _run_row(database, started.run_id)).worker_id == service.worker_id


async def test_a_cancel_flag_set_by_another_worker_is_honoured_at_the_heartbeat(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=30)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="Slow")
        async with database.session_maker() as session, session.begin():
            await session.execute(
                update(Run).where(Run.id == started.run_id).values(cancel_requested=True)
            )
        await service.heartbeat()
        await service.wait(started.run_id)
    assert (await _run_row(database, started.run_id)).status == "cancelled"


async def test_a_run_cancelled_before_its_task_starts_ends_cancelled(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=30)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="Cancel me at once")
        # No await in between: the run's task has not run a single step yet.
        assert await service.cancel(started.run_id) is True
    events = await stored_events(database, started.run_id)
    # ``started`` is written with the run row (one transaction), before the task runs.
    assert [type(event) for event in events] == [Started, ErrorEvent]
    terminal = events[1]
    assert isinstance(terminal, ErrorEvent)
    assert (terminal.seq, terminal.data.code) == (2, "cancelled")
    assert (await _run_row(database, started.run_id)).status == "cancelled"
    roles = [role for role, _ in await _messages(database, started.conversation_id)]
    assert roles == ["user", "assistant"]
