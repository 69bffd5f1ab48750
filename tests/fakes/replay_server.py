"""Replays a transcript of an OpenAI-compatible server, byte for byte, over real HTTP.

A :class:`Transcript` is what one run's model server sent: one :class:`Exchange` per request,
in order. An exchange is a streamed answer (its SSE frames, sent as they are), an HTTP error
with a JSON body, or ``close_without_response``: the server reads the request and closes the
connection without a byte, as a server does when it drops a kept-alive connection just as the
client reuses it (httpx: ``RemoteProtocolError: Server disconnected without sending a
response``).

The server speaks HTTP/1.1 with keep-alive, so the client's connection pool behaves as it does
against llama-server or OpenAI; ``connections`` counts the TCP connections it accepted and
``requests`` keeps every request's JSON body, for the tests to assert on. A request past the
end of the transcript gets a 500 that says so (and is counted).

Transcripts live in ``tests/orchestrator/recorded/transcripts/`` as JSON files.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import msgspec

__all__ = ["Exchange", "ReplayServer", "Transcript", "load_transcript", "replay"]


class Exchange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One answer: ``sse`` frames (each sent followed by a blank line), or ``status`` with a
    JSON ``body``, or no answer at all (``action = "close_without_response"``)."""

    note: str = ""
    action: Literal["answer", "close_without_response"] = "answer"
    status: int = 200
    sse: list[str] = msgspec.field(default_factory=list)
    body: Any = None


class Transcript(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    description: str
    server: str
    api: Literal["chat", "responses"]
    exchanges: list[Exchange]


def load_transcript(path: Path) -> Transcript:
    return msgspec.json.decode(path.read_bytes(), type=Transcript)


class ReplayServer:
    """Answers the n-th request with the transcript's n-th exchange."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.connections = 0
        self._next = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self.transcript.exchanges)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        _method, target, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        raw = await reader.readexactly(length) if length else b""
        self.paths.append(target)
        self.requests.append(msgspec.json.decode(raw) if raw else {})
        if self.exhausted:
            await _json(writer, 500, {"error": {"message": "replay: the transcript is exhausted"}})
            return True
        exchange = self.transcript.exchanges[self._next]
        self._next += 1
        if exchange.action == "close_without_response":
            return False
        if exchange.status != 200 or not exchange.sse:
            await _json(writer, exchange.status, exchange.body)
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for frame in exchange.sse:
            data = frame.encode() + b"\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _json(writer: asyncio.StreamWriter, status: int, body: Any) -> None:
    data = msgspec.json.encode(body)
    writer.write(
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()


@contextlib.asynccontextmanager
async def replay(transcript: Transcript) -> AsyncIterator[tuple[str, ReplayServer]]:
    """Serve ``transcript`` on a free loopback port; yields ``(base_url with /v1, server)``."""
    server = ReplayServer(transcript)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", server
    finally:
        listener.close()
        await server.aclose()
        await listener.wait_closed()
