"""Helpers for the run-service tests: a migrated SQLite database, users, a scripted
orchestrator (the orchestrator's own playback provider, so runs can be made slow or failing
deterministically) and a started :class:`RunService` on an in-memory channels backend."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from sqlalchemy import select

from app.auth.models import User
from app.db.base import new_id
from app.db.engine import Database
from app.db.migrate import migrate
from app.runs.models import RunEvent
from app.runs.service import RunService
from app.settings import DatabaseSettings, RunSettings
from orchestrator.assistants import ASSISTANT_NAMES, AssistantSpec
from orchestrator.config import BudgetConfig
from orchestrator.events import Event, decode_event
from orchestrator.machine import Orchestrator
from orchestrator.providers.base import ProviderError
from orchestrator.providers.scripted import Fail, Reply, ScriptedProvider, plan_reply
from orchestrator.registry import ToolRegistry

__all__ = [
    "REPORT",
    "make_user",
    "migrated_database",
    "running_service",
    "scripted_orchestrator",
    "sqlite_url",
    "stored_events",
    "wait_for_events",
]

REPORT = "# Report\n\nThe answer is **42 kg CO2e**."


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'runs.db'}"


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[Database]:
    """A database at ``url`` migrated to head (SQLite file or a fresh PostgreSQL database)."""
    database = Database(DatabaseSettings(url=url))
    await migrate(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


async def make_user(database: Database, email: str) -> str:
    user_id = new_id()
    async with database.session_maker() as session, session.begin():
        session.add(
            User(
                id=user_id,
                email=email,
                user_handle=os.urandom(16),
                created_at=datetime.now(UTC),
            )
        )
    return user_id


def scripted_orchestrator(
    runs: int = 1,
    *,
    report_delay_s: float = 0.0,
    fail: ProviderError | None = None,
) -> tuple[Orchestrator, ScriptedProvider]:
    """An orchestrator whose planner plans one report step and whose report step answers
    :data:`REPORT` after ``report_delay_s`` (or raises ``fail``), ``runs`` times."""
    report: Reply | Fail = (
        Reply(text=REPORT, delay_s=report_delay_s)
        if fail is None
        else Fail(error=fail, delay_s=report_delay_s)
    )
    script: dict[str, list[Reply | Fail]] = {
        "planner": [plan_reply(("report", "Write the report"))] * runs,
        "report": [report] * runs,
    }
    provider = ScriptedProvider(script)
    assistants = {
        name: AssistantSpec(name=name, model="scripted", instructions=f"{name} instructions")
        for name in ASSISTANT_NAMES
    }
    # The scripted report's figures are in no tool result: the grounding checks (tested in
    # tests/orchestrator/test_grounding.py) would ask it again; these tests are about the service.
    budgets = BudgetConfig(grounding_checks=False)
    return Orchestrator(provider, assistants=assistants, tools=ToolRegistry(), budgets=budgets), (
        provider
    )


@asynccontextmanager
async def running_service(
    database: Database,
    orchestrator: Orchestrator,
    settings: RunSettings | None = None,
    *,
    worker_id: str | None = None,
) -> AsyncIterator[RunService]:
    """A started service (stale sweep + heartbeat); shut down on exit. Without ``settings``
    runs are never resumed (``max_resumes = 0``): a shutdown interrupts them, a sweep closes
    dead workers' runs (the durable-runs tests pass their own settings)."""
    channels = ChannelsPlugin(backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    async with channels:
        service = RunService(
            settings=settings or RunSettings(max_resumes=0),
            session_maker=database.session_maker,
            channels=channels,
            orchestrator=orchestrator,
            max_history_pairs=5,
            worker_id=worker_id,
            serialize_writes=database.backend == "sqlite",
        )
        await service.startup()
        try:
            yield service
        finally:
            await service.shutdown()


async def wait_for_events(database: Database, run_id: str, count: int) -> None:
    """Poll until ``run_id`` has stored at least ``count`` events (fails after ~2 s)."""
    for _ in range(200):
        if len(await stored_events(database, run_id)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} never stored {count} events")


async def stored_events(database: Database, run_id: str) -> list[Event]:
    async with database.session_maker() as session:
        payloads = await session.scalars(
            select(RunEvent.payload).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
        )
        return [decode_event(payload) for payload in payloads]
