"""Runs and SSE under load, against the real server (``python -m app`` → granian).

* **(a) concurrent runs**: ``--runs`` clients each ``POST /ask-stream`` at once with the
  embedded offline engine and read the stream to its end: runs/s, p50/p99 time to the first
  event and to ``completed``, errors (non-200, broken streams, ``error`` events).
* **(b) many subscribers**: ``--live-runs`` slow runs (the ``openai_chat`` provider against the
  fake OpenAI server answering each call after ``--llm-latency-ms``, so the runs stay live
  while subscribers connect), then ``--subscribers`` clients follow
  ``GET /runs/{id}/events`` spread over those runs: delivery latency p50/p99 (arrival minus
  the event's own timestamp, for events emitted after the subscriber connected), events lost
  / duplicated / out of order against the stored run, the server's RSS per idle
  connection (all workers, measured while every subscriber waits for the next event), and
  the server's CPU time (all workers) from when every subscriber is connected to the last
  terminal event, divided by the frames that arrived in that time (the runs' own work is
  included, but small: a few model calls each). Delivery latency swings run to run with how
  the runs' bursts line up; the CPU figure is the stable one for comparing two builds. The
  load generator's own CPU per frame is printed too: it shares the cores and parses every
  frame, so it is part of the measured latency.

Scale-out comparison: ``--workers 2 --database-url postgresql+asyncpg://… --redis-url
redis://…`` (the database must exist and be empty or migrated). Prints Markdown for
BENCHMARKS.md. Usage::

    .venv/bin/python -m bench.sse [--runs 200] [--subscribers 1000] [--live-runs 10]
        [--workers 1] [--database-url URL] [--redis-url URL] [--output sse.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.support.slow_llm import QUESTION, provider_env, slow_fake_llm  # noqa: E402
from tests.support.sse import SSEFrame, parse_sse  # noqa: E402
from tests.support.webauthn import AuthedUser, signed_in_user  # noqa: E402

USERS = 10


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (granian workers)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(child) for child in children)
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants."""
    total = 0
    for current in _process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its live descendants (all their threads)."""
    ticks = 0
    for current in _process_tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class StreamResult(msgspec.Struct):
    status: int = 0
    first_event_s: float | None = None
    done_s: float | None = None
    terminal: str | None = None
    run_id: str | None = None
    error: str | None = None


@dataclass
class Subscriber:
    run_id: str
    connected_at: float = 0.0
    seqs: list[int] = field(default_factory=list)
    samples: list[tuple[float, float]] = field(default_factory=list)
    status: int = 0
    error: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


async def frames_of(response: httpx.Response) -> AsyncIterator[SSEFrame]:
    """Frames as they arrive (keep-alive comment blocks included); linear in the stream
    size, so the client's own parsing does not inflate the measured latencies."""
    pending = ""
    async for chunk in response.aiter_text():
        pending = (pending + chunk).replace("\r\n", "\n")
        while "\n\n" in pending:
            block, pending = pending.split("\n\n", 1)
            if block:
                yield parse_sse(block + "\n\n")[0]


# --- servers ----------------------------------------------------------------------------


def server_env(args: argparse.Namespace, directory: Path, **extra: str) -> dict[str, str]:
    env = {
        "APP__RATE_LIMIT__ENABLED": "false",
        "APP__RUNS__MAX_CONCURRENT_PER_USER": "10000",
        "APP__RUNS__MAX_CONCURRENT_PER_PROCESS": "10000",
        "APP__LOGGING__LEVEL": "WARNING",
        "DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{directory / 'bench.db'}",
        **extra,
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    return env


async def sign_in(client: httpx.AsyncClient, server: LiveServer, count: int) -> list[AuthedUser]:
    origin = f"http://localhost:{server.port}"
    return [
        await signed_in_user(client, f"bench-{i}-{time.time_ns()}@example.org", origin=origin)
        for i in range(count)
    ]


def client_for(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        timeout=httpx.Timeout(120.0),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )


# --- (a) concurrent runs ----------------------------------------------------------------


async def one_run(client: httpx.AsyncClient, user: AuthedUser, start: float) -> StreamResult:
    result = StreamResult()
    try:
        async with client.stream(
            "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
        ) as response:
            result.status = response.status_code
            result.run_id = response.headers.get("x-run-id")
            if response.status_code != 200:
                result.error = (await response.aread()).decode()[:200]
                return result
            async for frame in frames_of(response):
                if frame.id is None:
                    continue
                if result.first_event_s is None:
                    result.first_event_s = time.perf_counter() - start
                if frame.event in ("completed", "error"):
                    result.terminal = frame.event
                    result.done_s = time.perf_counter() - start
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def bench_runs(args: argparse.Namespace, directory: Path) -> str:
    env = server_env(args, directory / "a")
    workers = ["--workers", str(args.workers)]
    with start_server(env, workers, log_dir=directory / "a", timeout=90) as server:
        async with client_for(server) as client:
            users = await sign_in(client, server, USERS)
            # Warm up: one run per user (imports, connection pools, first queries).
            await asyncio.gather(*(one_run(client, u, time.perf_counter()) for u in users))
            start = time.perf_counter()
            results = await asyncio.gather(
                *(one_run(client, users[i % USERS], start) for i in range(args.runs))
            )
            wall = time.perf_counter() - start
    ok = [r for r in results if r.status == 200 and r.terminal == "completed"]
    errors = len(results) - len(ok)
    first = [r.first_event_s * 1000 for r in ok if r.first_event_s is not None]
    done = [r.done_s * 1000 for r in ok if r.done_s is not None]
    reasons = sorted({r.error or f"{r.status} {r.terminal}" for r in results if r not in ok})
    lines = [
        f"### (a) {args.runs} concurrent `/ask-stream` runs (offline engine)",
        "",
        "| runs/s | first event p50 / p99 (ms) | completed p50 / p99 (ms) | errors |",
        "|---:|---:|---:|---:|",
        f"| {len(ok) / wall:.1f} | {median(first):.0f} / {percentile(first, 99):.0f} "
        f"| {median(done):.0f} / {percentile(done, 99):.0f} | {errors} |",
    ]
    if reasons:
        lines += ["", "Errors: " + "; ".join(reasons[:5])]
    return "\n".join(lines)


# --- (b) many subscribers ---------------------------------------------------------------


class _Timestamp(msgspec.Struct):
    timestamp: str


class _Envelope(msgspec.Struct):
    event: _Timestamp


_envelope = msgspec.json.Decoder(_Envelope)


async def _raw_body(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[bytes]:
    """The response body as it arrives (HTTP/1.1 chunked or close-delimited)."""
    if not chunked:
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size = int((await reader.readline()).split(b";", 1)[0], 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def follow(server: LiveServer, user: AuthedUser, sub: Subscriber) -> None:
    """Follow one run over a plain socket: a lean HTTP/1.1 client, so 1,000 followers in one
    process measure the server's delivery and not a client library's per-chunk overhead."""
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            (
                f"GET /runs/{sub.run_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Authorization: {user.headers['Authorization']}\r\n"
                "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        sub.status = int((await reader.readline()).split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        sub.connected_at = time.time()
        sub.ready.set()
        chunked = headers.get("transfer-encoding") == "chunked"
        if sub.status != 200:
            sub.error = b"".join([c async for c in _raw_body(reader, chunked)]).decode()[:200]
            return
        pending = b""
        async for chunk in _raw_body(reader, chunked):
            pending += chunk
            while b"\n\n" in pending:
                block, pending = pending.split(b"\n\n", 1)
                fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                if b"id" not in fields:
                    continue
                arrived = time.time()
                sub.seqs.append(int(fields[b"id"]))
                emitted = _epoch(_envelope.decode(fields[b"data"]).event.timestamp)
                if emitted >= sub.connected_at:
                    sub.samples.append((emitted, (arrived - emitted) * 1000))
                if fields.get(b"event") in (b"completed", b"error"):
                    return
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        sub.error = f"{type(exc).__name__}: {exc}"
    finally:
        sub.ready.set()
        if writer is not None:
            writer.close()


async def drain(
    client: httpx.AsyncClient, user: AuthedUser, started: asyncio.Queue[tuple[str, AuthedUser]]
) -> None:
    """Start a run and read its stream to the end (the run's own client)."""
    async with client.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        await started.put((response.headers["x-run-id"], user))
        async for _ in response.aiter_bytes():
            pass


async def bench_subscribers(args: argparse.Namespace, directory: Path) -> str:
    with slow_fake_llm(directory, latency_ms=args.llm_latency_ms) as llm_url:
        env = server_env(
            args,
            directory / "b",
            **provider_env(llm_url),
        )
        workers = ["--workers", str(args.workers)]
        with start_server(env, workers, log_dir=directory / "b", timeout=90) as server:
            async with client_for(server) as client:
                users = await sign_in(client, server, USERS)
                idle_rss = rss_bytes(server.process.pid)
                started: asyncio.Queue[tuple[str, AuthedUser]] = asyncio.Queue()
                drains = [
                    asyncio.create_task(drain(client, users[i % USERS], started))
                    for i in range(args.live_runs)
                ]
                owner = dict([await started.get() for _ in range(args.live_runs)])
                run_ids = list(owner)
                subs = [Subscriber(run_ids[i % len(run_ids)]) for i in range(args.subscribers)]
                connect_start = time.perf_counter()
                tasks = [
                    asyncio.create_task(follow(server, owner[sub.run_id], sub)) for sub in subs
                ]
                await asyncio.gather(*(sub.ready.wait() for sub in subs))
                connect_s = time.perf_counter() - connect_start
                all_connected = time.time()
                await asyncio.sleep(0.5)
                busy_rss = rss_bytes(server.process.pid)
                cpu_start = cpu_seconds(server.process.pid)
                client_cpu_start = time.process_time()
                cpu_window_start = time.time()
                await asyncio.gather(*tasks)
                server_cpu_s = cpu_seconds(server.process.pid) - cpu_start
                client_cpu_s = time.process_time() - client_cpu_start
                await asyncio.gather(*drains)
                expected: dict[str, list[int]] = {}
                for run_id in run_ids:
                    replay = await client.get(
                        f"/runs/{run_id}/events", headers=owner[run_id].headers
                    )
                    expected[run_id] = [int(f.id) for f in parse_sse(replay.text) if f.id]
    lost = duplicated = disordered = errors = 0
    latencies: list[float] = []
    steady: list[float] = []
    for sub in subs:
        if sub.error or sub.status != 200:
            errors += 1
            continue
        want = expected[sub.run_id]
        lost += len(set(want) - set(sub.seqs))
        duplicated += len(sub.seqs) - len(set(sub.seqs))
        disordered += int(sub.seqs != sorted(sub.seqs))
        latencies.extend(ms for _, ms in sub.samples)
        steady.extend(ms for emitted, ms in sub.samples if emitted >= all_connected)
    per_connection_kib = (busy_rss - idle_rss) / max(1, args.subscribers) / 1024
    delivered = sum(  # frames that arrived while the server's CPU was being counted
        1 for sub in subs for emitted, ms in sub.samples if emitted + ms / 1000 >= cpu_window_start
    )
    cpu_per_frame_us = server_cpu_s / max(1, delivered) * 1e6
    client_per_frame_us = client_cpu_s / max(1, delivered) * 1e6
    reasons = sorted(
        {sub.error or str(sub.status) for sub in subs if sub.error or sub.status != 200}
    )
    return "\n".join(
        [
            f"### (b) {args.subscribers} subscribers on {args.live_runs} live runs "
            f"(model calls {args.llm_latency_ms:g} ms)",
            "",
            "| delivery p50 / p99 (ms), all live events | after all connected (events) "
            "| lost | duplicated | out of order | errors | connect all (s) "
            "| RSS per idle connection (KiB) | server CPU per delivered frame (µs) "
            "| load generator CPU per frame (µs) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {median(latencies):.1f} / {percentile(latencies, 99):.1f} "
            f"| {median(steady):.1f} / {percentile(steady, 99):.1f} ({len(steady)}) "
            f"| {lost} | {duplicated} | {disordered} | {errors} "
            f"| {connect_s:.2f} | {per_connection_kib:.1f} | {cpu_per_frame_us:.0f} "
            f"| {client_per_frame_us:.0f} |",
            *(["", "Errors: " + "; ".join(reasons[:5])] if reasons else []),
        ]
    )


# --- main -------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> str:
    directory = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    channels = "Redis" if args.redis_url else "in-memory"
    header = (
        f"## SSE and runs: {args.workers} worker(s), {backend}, {channels} channels\n\n"
        f"`python -m bench.sse --runs {args.runs} --subscribers {args.subscribers} "
        f"--live-runs {args.live_runs} --workers {args.workers}`"
    )
    sections = [header]
    if args.runs:
        sections.append(await bench_runs(args, directory))
    if args.subscribers:
        sections.append(await bench_subscribers(args, directory))
    return "\n\n".join(sections) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="concurrent /ask-stream runs")
    parser.add_argument("--subscribers", type=int, default=1000, help="concurrent followers")
    parser.add_argument("--live-runs", type=int, default=10, help="runs the followers share")
    parser.add_argument("--llm-latency-ms", type=float, default=5000.0, help="fake model latency")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument("--redis-url", default=None, help="default: in-memory channels")
    parser.add_argument("--output", default=None, help="also write the Markdown here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    report = asyncio.run(main(arguments))
    print(report)
    if arguments.output:
        Path(arguments.output).write_text(report)
