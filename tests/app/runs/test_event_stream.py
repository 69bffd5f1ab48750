"""Replay + live tail of a run's events (the SSE frame generator) on real channels and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.db.engine import Database
from app.runs.frames import KEEPALIVE_FRAME, event_frame, frame_head
from app.runs.service import RunService, channel_for
from app.runs.stream import run_event_stream
from orchestrator.events import decode_envelope
from tests.support.runs import (
    make_user,
    migrated_database,
    running_service,
    scripted_orchestrator,
    sqlite_url,
    stored_events,
    wait_for_events,
)
from tests.support.sse import SSEFrame, parse_sse


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    # SQLite only: the frame logic is backend-neutral; PostgreSQL runs the service tests.
    async with migrated_database(sqlite_url(tmp_path)) as database:
        yield database


async def _collect(
    service: RunService, run_id: str, after: int, keepalive_s: float = 15.0
) -> list[SSEFrame]:
    frames = run_event_stream(
        run_id,
        after=after,
        channels=service.channels,
        session_maker=service.session_maker,
        keepalive_s=keepalive_s,
    )
    return _parsed([raw async for raw in frames])


def _parsed(raw_frames: list[bytes]) -> list[SSEFrame]:
    """Each yielded chunk is exactly one complete SSE block."""
    parsed = []
    for raw in raw_frames:
        (block,) = parse_sse(raw.decode())
        assert raw.endswith(b"\n\n")
        assert b"\r" not in raw
        parsed.append(block)
    return parsed


def _seqs(messages: list[SSEFrame]) -> list[int]:
    return [int(m.id) for m in messages if m.id is not None]


def test_event_frames_are_one_sse_block_with_id_type_and_one_data_line() -> None:
    raw = event_frame(7, "agent_thinking", b'{"event":{"x":1}}')
    assert raw == b'id: 7\nevent: agent_thinking\ndata: {"event":{"x":1}}\n\n'
    assert frame_head(raw) == (7, "agent_thinking")
    with pytest.raises(ValueError, match="not an event frame"):
        frame_head(b": keep-alive\n\n\n")


async def test_a_live_subscriber_gets_every_event_once_in_order(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=0.3)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        messages = await _collect(service, started.run_id, after=0)
        stored = await stored_events(database, started.run_id)

    assert _seqs(messages) == [e.seq for e in stored]
    last = messages[-1]
    assert last.event == "completed"
    for message, event in zip(messages, stored, strict=True):
        assert decode_envelope(message.data[0]) == event
        assert message.event == type(event).__struct_config__.tag


async def test_resuming_mid_run_sends_exactly_the_missing_events(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=0.5)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        await wait_for_events(database, started.run_id, 3)
        resumed = await _collect(service, started.run_id, after=2)
        all_events = await stored_events(database, started.run_id)

    assert _seqs(resumed) == [e.seq for e in all_events if e.seq > 2]
    assert resumed[-1].event == "completed"


async def test_replaying_a_finished_run_ends_after_its_terminal_event(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator()
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        await service.wait(started.run_id)
        events = await stored_events(database, started.run_id)
        full = await _collect(service, started.run_id, after=0)
        tail = await _collect(service, started.run_id, after=events[-2].seq)
        nothing = await _collect(service, started.run_id, after=events[-1].seq)

    assert _seqs(full) == [e.seq for e in events]
    assert _seqs(tail) == [events[-1].seq]
    assert nothing == []


@pytest.mark.parametrize("keepalive_s", [15.0, 0.05])
async def test_resuming_past_the_end_of_a_live_run_ends_with_the_run(
    database: Database, keepalive_s: float
) -> None:
    # A Last-Event-ID beyond the run's last seq (a client bug, or a stale id): the stream
    # must not stay open forever, whether the end is seen on the channel (terminal frame at
    # or below the resume point) or by the idle poll (the run is closed).
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=0.4)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        await wait_for_events(database, started.run_id, 2)
        messages = await asyncio.wait_for(
            _collect(service, started.run_id, after=10_000, keepalive_s=keepalive_s), 10
        )
        await service.wait(started.run_id)

    assert _seqs(messages) == []
    assert all(m.comments == ["keep-alive"] for m in messages)


async def test_duplicates_from_the_channel_are_dropped_and_gaps_filled_from_the_database(
    database: Database,
) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=0.4)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        await wait_for_events(database, started.run_id, 2)
        stream = run_event_stream(
            started.run_id,
            after=0,
            channels=service.channels,
            session_maker=service.session_maker,
            keepalive_s=15.0,
        )
        first = await anext(stream)
        # A stale duplicate of seq 1 arrives on the channel: it must not be sent again.
        service.channels.publish(event_frame(1, "started", b"{}"), channel_for(started.run_id))
        rest = [raw async for raw in stream]
        stored = await stored_events(database, started.run_id)

    assert _seqs(_parsed([first, *rest])) == [e.seq for e in stored]


async def test_an_idle_stream_sends_keepalive_comments_without_data(database: Database) -> None:
    user = await make_user(database, "a@example.org")
    orchestrator, _ = scripted_orchestrator(report_delay_s=0.6)
    async with running_service(database, orchestrator) as service:
        started = await service.start(user_id=user, question="q")
        messages = await _collect(service, started.run_id, after=0, keepalive_s=0.1)

    keepalives = [m for m in messages if m.comments == ["keep-alive"]]
    assert keepalives
    assert all(m.data == [] and m.id is None and m.event is None for m in keepalives)
    assert messages[-1].event == "completed"
    assert KEEPALIVE_FRAME == b": keep-alive\n\n"
