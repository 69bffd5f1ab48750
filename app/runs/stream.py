"""SSE frames of a run: replay from the database, then tail the run's channel.

Order matters for "no gaps, no duplicates": subscribe to the channel FIRST, then read the
run's status and stored events, then tail; channel messages at or below the last sent seq are
dropped, and a jump in seq is filled from the database. Every ``keepalive_s`` without news a
comment line is sent (no ``data:``, so ``EventSource`` dispatches nothing) and the database
is polled, so a publish lost by a backend cannot stall a subscriber forever (nor one that
resumed past the run's last seq: it ends when the run does). The hot path is
one queue read per event, forwarding the frame bytes published on the channel (encoded once
per event, see ``frames``): no encoding, task or timer per message and subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable

import anyio
from litestar.channels import ChannelsPlugin, Subscriber
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.runs import store
from app.runs.frames import KEEPALIVE_FRAME, frame_head, payload_frame
from app.runs.service import channel_for
from orchestrator import TERMINAL_EVENT_TYPES

__all__ = ["run_event_stream"]


# Put into the subscriber's own queue when the stream has been idle for ``keepalive_s``:
# channel frames are never empty, so the empty payload cannot be mistaken for an event.
_TICK = b""


class _IdleClock:
    """Wakes an idle stream every ``interval`` seconds without a timer per message: the
    hot path only records the time of its last frame."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = asyncio.get_running_loop().time()

    def touch(self) -> None:
        self.last = asyncio.get_running_loop().time()

    async def tick_into(self, subscriber: Subscriber) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delay = self.last + self.interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            subscriber.put_nowait(_TICK)
            self.touch()


def _stored_frame(event: store.StoredEvent) -> bytes:
    return payload_frame(event.seq, event.event_type, event.payload)


async def run_event_stream(
    run_id: str,
    *,
    after: int,
    channels: ChannelsPlugin,
    session_maker: async_sessionmaker[AsyncSession],
    keepalive_s: float,
    on_close: Callable[[bool], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """SSE frames of ``run_id`` with seq > ``after`` until (and including) its terminal event.

    ``on_close(finished)`` is called when the generator ends; ``finished`` is False when the
    client went away before the terminal event (used for ``cancel_on_disconnect``).
    """
    last = after
    finished = False
    subscriber = await channels.subscribe([channel_for(run_id)])
    idle = _IdleClock(keepalive_s)
    ticker: asyncio.Task[None] | None = None
    try:
        async with session_maker() as session:
            status = await store.status_of(session, run_id)
            stored = await store.load_events(session, run_id, after=last)
        for event in stored:
            yield _stored_frame(event)
            last = event.seq
            if event.event_type in TERMINAL_EVENT_TYPES:
                finished = True
                return
        if status != "running":
            finished = True  # a closed run's events were all committed before our read
            return
        ticker = asyncio.create_task(idle.tick_into(subscriber))
        async for raw in subscriber.iter_events():
            if raw == _TICK:
                async with session_maker() as session:
                    status = await store.status_of(session, run_id)  # before the events
                    missed = await store.load_events(session, run_id, after=last)
                for event in missed:
                    yield _stored_frame(event)
                    last = event.seq
                    if event.event_type in TERMINAL_EVENT_TYPES:
                        finished = True
                        return
                if status != "running":
                    # Closed (or deleted) and nothing after ``last``: the client asked to
                    # resume past the run's end, so there is nothing left to wait for.
                    finished = True
                    return
                if not missed:
                    yield KEEPALIVE_FRAME
                continue
            seq, event_type = frame_head(raw)
            if seq <= last:
                if event_type in TERMINAL_EVENT_TYPES:
                    finished = True  # the run ended at or before the client's resume point
                    return
                continue
            if seq > last + 1:
                async with session_maker() as session:
                    gap = await store.load_events(session, run_id, after=last, before=seq)
                for event in gap:
                    yield _stored_frame(event)
                    last = event.seq
            yield raw  # the published frame, forwarded unchanged
            idle.touch()
            last = seq
            if event_type in TERMINAL_EVENT_TYPES:
                finished = True
                return
    finally:
        if ticker is not None:
            ticker.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await channels.unsubscribe(subscriber)
        if on_close is not None:
            on_close(finished)
