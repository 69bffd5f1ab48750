"""Group commit: pending writes of many runs share a transaction, and a failing write
fails alone (its batch is retried one write per transaction)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.models import Conversation
from app.db.engine import Database
from app.runs.writer import EventWriter, settled
from tests.support.runs import make_user


def writer_for(database: Database) -> EventWriter:
    @contextlib.asynccontextmanager
    async def writing() -> AsyncIterator[AsyncSession]:
        async with database.session_maker() as session, session.begin():
            yield session

    return EventWriter(writing)


def add_conversation(user: str, title: str) -> Callable[[AsyncSession], Awaitable[str]]:
    async def job(session: AsyncSession) -> str:
        if title == "bad":
            raise ValueError("this write fails")
        now = datetime.now(UTC)
        session.add(Conversation(user_id=user, title=title, created_at=now, updated_at=now))
        await session.flush()
        return title

    return job


async def conversations(database: Database, user: str) -> int:
    async with database.session_maker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.user_id == user)
        )
    return int(count or 0)


async def test_writes_waiting_together_are_committed_in_one_transaction(
    database: Database,
) -> None:
    user = await make_user(database, "group@example.org")
    writer = writer_for(database)
    futures = [writer.submit(add_conversation(user, f"t{i}")) for i in range(50)]
    results = await asyncio.gather(*futures)
    assert results == [f"t{i}" for i in range(50)]
    assert writer.batches == 1
    assert await conversations(database, user) == 50


async def test_a_failing_write_fails_alone_and_the_rest_of_its_batch_commits(
    database: Database,
) -> None:
    user = await make_user(database, "alone@example.org")
    writer = writer_for(database)
    titles = ["a", "b", "bad", "c"]
    futures = [writer.submit(add_conversation(user, title)) for title in titles]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[:2] == ["a", "b"]
    assert outcomes[3] == "c"
    assert isinstance(outcomes[2], ValueError)
    assert await conversations(database, user) == 3


async def test_a_cancelled_caller_still_learns_its_write_committed(database: Database) -> None:
    user = await make_user(database, "cancel@example.org")
    writer = writer_for(database)
    seen: list[tuple[str, bool]] = []

    async def caller() -> None:
        seen.append(await settled(writer.submit(add_conversation(user, "kept"))))

    task = asyncio.create_task(caller())
    await asyncio.sleep(0)  # the write is queued and its batch under way
    task.cancel()
    await task
    assert seen == [("kept", True)]
    assert await conversations(database, user) == 1


@pytest.mark.parametrize("count", [1, 3])
async def test_the_drain_task_ends_when_nothing_waits(database: Database, count: int) -> None:
    user = await make_user(database, f"idle{count}@example.org")
    writer = writer_for(database)
    await asyncio.gather(*(writer.submit(add_conversation(user, f"x{i}")) for i in range(count)))
    await asyncio.sleep(0)
    assert writer._drain_task is None
