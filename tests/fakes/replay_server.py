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

Transcripts live in ``tests/orchestrator/recorded/transcripts/`` as JSON files. To capture
one from a real server (llama-server, vLLM, OpenAI), put :class:`Recorder` between the service
and the server: ``python -m tests.fakes.replay_server --upstream http://127.0.0.1:8080
--api chat --out run.json`` listens on a free port (printed), forwards every request, and
writes what the server answered when stopped (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import httpx2
import msgspec

__all__ = [
    "Exchange",
    "Recorder",
    "ReplayServer",
    "Transcript",
    "load_transcript",
    "record",
    "replay",
]


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
        request = await _read_request(reader)
        if request is None:
            return False
        _method, target, _headers, raw = request
        self.paths.append(target)
        self.requests.append(msgspec.json.decode(raw) if raw else {})
        if self.exhausted:
            await _json(writer, 500, {"error": {"message": "replay: the transcript is exhausted"}})
            return True
        exchange = self.transcript.exchanges[self._next]
        self._next += 1
        if exchange.action == "close_without_response":
            return False
        await _answer(writer, exchange)
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request: method, target, headers (lower-case names) and body."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


async def _answer(writer: asyncio.StreamWriter, exchange: Exchange) -> None:
    if exchange.status != 200 or not exchange.sse:
        await _json(writer, exchange.status, exchange.body)
        return
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


_FORWARDED = ("authorization", "content-type", "accept", "api-key", "openai-organization")


class Recorder:
    """A proxy that records what an OpenAI-compatible server answers, as a :class:`Transcript`.

    Each request is forwarded to ``upstream`` (same path); the answer is read whole, kept as
    an :class:`Exchange` (its SSE frames, or its status and JSON body) and sent on unchanged.
    """

    def __init__(self, upstream: str, *, api: Literal["chat", "responses"], server: str) -> None:
        self.api: Literal["chat", "responses"] = api
        self.server = server
        self.exchanges: list[Exchange] = []
        self._client = httpx2.AsyncClient(base_url=upstream.rstrip("/"), timeout=600.0)

    def transcript(self, description: str) -> Transcript:
        return Transcript(
            description=description, server=self.server, api=self.api, exchanges=self.exchanges
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                method, target, headers, body = request
                forwarded = {name: headers[name] for name in _FORWARDED if name in headers}
                response = await self._client.request(
                    method, target, headers=forwarded, content=body
                )
                if response.status_code == 200 and response.headers.get(
                    "content-type", ""
                ).startswith("text/event-stream"):
                    text = response.text.replace("\r\n", "\n")
                    frames = [frame for frame in text.split("\n\n") if frame.strip()]
                    exchange = Exchange(sse=frames)
                else:
                    try:
                        payload: Any = response.json()
                    except ValueError:
                        payload = {"error": {"message": response.text}}
                    exchange = Exchange(status=response.status_code, body=payload)
                self.exchanges.append(exchange)
                await _answer(writer, exchange)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def aclose(self) -> None:
        await self._client.aclose()


@contextlib.asynccontextmanager
async def record(
    upstream: str, *, api: Literal["chat", "responses"], server: str = "", port: int = 0
) -> AsyncIterator[tuple[str, Recorder]]:
    """A :class:`Recorder` in front of ``upstream``; yields ``(base_url with /v1, recorder)``."""
    recorder = Recorder(upstream, api=api, server=server or upstream)
    listener = await asyncio.start_server(recorder.handle, "127.0.0.1", port)
    bound = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}/v1", recorder
    finally:
        listener.close()
        await recorder.aclose()


async def _record_until_stopped(args: argparse.Namespace, out: list[Transcript]) -> None:
    async with record(args.upstream, api=args.api, server=args.server, port=args.port) as (
        base_url,
        recorder,
    ):
        print(f"recording: point [llm] base_url at {base_url}; Ctrl-C writes {args.out}")
        try:
            await asyncio.Event().wait()
        finally:
            out.append(recorder.transcript(args.description))


def main() -> None:
    parser = argparse.ArgumentParser(description="Record an OpenAI-compatible server's answers.")
    parser.add_argument("--upstream", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--api", choices=["chat", "responses"], default="chat")
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--server", default="", help="what the server was (model, version)")
    parser.add_argument("--description", default="recorded run")
    args = parser.parse_args()
    recorded: list[Transcript] = []
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_record_until_stopped(args, recorded))
    if recorded:
        Path(args.out).write_bytes(msgspec.json.format(msgspec.json.encode(recorded[0])))


if __name__ == "__main__":
    main()
