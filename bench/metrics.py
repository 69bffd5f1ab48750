"""What Prometheus metrics cost: server CPU per run and per SSE frame, metrics on vs off.

Two real servers (``python -m app`` → granian, one worker each, SQLite, in-memory channels)
run side by side for the whole benchmark, identical except ``APP__METRICS__ENABLED``: on
(the default: the HTTP wrapper, the run and model-call observers, the pool listeners, and
prometheus-client's multiprocess mode writing every value to a memory-mapped file) and off
(none of it installed: the code path of the build without metrics). Rounds alternate between
the two (on, off, on, off, …) so drift in the machine's load hits both alike; each figure is
the median over the rounds of the server's own CPU time (user + system, read from
``/proc``), never wall time.

* **per run**: ``--runs`` runs per round through ``POST /ask``, ``--concurrency`` at a time,
  with the ``openai_chat`` provider against the fake OpenAI server (a separate process,
  answering at once), so every LLM metric is exercised: server CPU / runs.
* **per SSE frame**: ``--live-runs`` slow runs (each model call answered after
  ``--llm-latency-ms``), followed by ``--subscribers`` clients over
  ``GET /runs/{id}/events``; server CPU from when all are connected to the last terminal
  event, divided by the event frames delivered in that time.

End to end, on this shared 2-core machine, a round's CPU figure varies by tens of percent
between rounds, far more than the metrics cost, so the instrumentation is also timed exactly
(``bench/_metrics_cost.py``, in a subprocess in multiprocess mode like a worker): the
middleware's cost per SSE frame, and the metrics work of one real run replayed (its events,
model calls, request and pool checkouts). Divided by the metrics-off server's CPU per run and
per frame from the same run, that is the overhead the table states.

Usage::

    .venv/bin/python -m bench.metrics [--rounds 5] [--runs 40] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sse import (  # noqa: E402
    Subscriber,
    client_for,
    cpu_seconds,
    drain,
    follow,
    server_env,
    sign_in,
)
from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.support.slow_llm import QUESTION, provider_env, slow_fake_llm  # noqa: E402
from tests.support.webauthn import AuthedUser  # noqa: E402

VARIANTS = ("on", "off")


@dataclass
class Variant:
    name: str
    server: LiveServer
    client: httpx.AsyncClient
    users: list[AuthedUser]
    per_run_ms: list[float] = field(default_factory=list)
    per_frame_us: list[float] = field(default_factory=list)


async def _set_latency(llm_url: str, latency_ms: float) -> None:
    root = llm_url.removesuffix("/v1")
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(
            f"{root}/_fake/timing", json={"latency_ms": latency_ms, "event_delay_ms": 0}
        )
        response.raise_for_status()


async def _ask(variant: Variant, index: int) -> None:
    user = variant.users[index % len(variant.users)]
    response = await variant.client.post("/ask", json={"question": QUESTION}, headers=user.headers)
    if response.status_code != 200 or response.json().get("status") != "Success":
        raise RuntimeError(f"run failed on {variant.name}: {response.text[:200]}")


async def runs_round(variant: Variant, runs: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            await _ask(variant, index)

    before = cpu_seconds(variant.server.process.pid)
    await asyncio.gather(*(one(i) for i in range(runs)))
    variant.per_run_ms.append((cpu_seconds(variant.server.process.pid) - before) / runs * 1000)


async def frames_round(variant: Variant, live_runs: int, subscribers: int) -> None:
    started: asyncio.Queue[tuple[str, AuthedUser]] = asyncio.Queue()
    drains = [
        asyncio.create_task(drain(variant.client, variant.users[i % len(variant.users)], started))
        for i in range(live_runs)
    ]
    owner = dict([await started.get() for _ in range(live_runs)])
    run_ids = list(owner)
    subs = [Subscriber(run_ids[i % len(run_ids)]) for i in range(subscribers)]
    tasks = [asyncio.create_task(follow(variant.server, owner[sub.run_id], sub)) for sub in subs]
    await asyncio.gather(*(sub.ready.wait() for sub in subs))
    window_start = time.time()
    before = cpu_seconds(variant.server.process.pid)
    await asyncio.gather(*tasks)
    cpu = cpu_seconds(variant.server.process.pid) - before
    await asyncio.gather(*drains)
    errors = [sub.error for sub in subs if sub.error or sub.status != 200]
    if errors:
        raise RuntimeError(f"subscribers failed on {variant.name}: {errors[:3]}")
    delivered = sum(
        1 for sub in subs for emitted, ms in sub.samples if emitted + ms / 1000 >= window_start
    )
    variant.per_frame_us.append(cpu / max(1, delivered) * 1e6)


def _row(label: str, on: list[float], off: list[float], unit: str) -> str:
    on_median, off_median = statistics.median(on), statistics.median(off)
    overhead = (on_median / off_median - 1) * 100
    spread = f"{min(on):.0f} to {max(on):.0f} / {min(off):.0f} to {max(off):.0f}"
    return (
        f"| {label} | {on_median:.1f} {unit} | {off_median:.1f} {unit} | {overhead:+.1f} % "
        f"| {spread} |"
    )


def instrumentation_cost(directory: Path) -> dict[str, float]:
    """``bench/_metrics_cost.py`` in a fresh process with its own multiprocess directory."""
    metrics_dir = directory / "cost-metrics"
    metrics_dir.mkdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_metrics_cost.py")],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    cost: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return cost


async def main(args: argparse.Namespace) -> str:
    directory = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    cost = instrumentation_cost(directory)
    with slow_fake_llm(directory, latency_ms=0) as llm_url:
        servers: dict[str, LiveServer] = {}
        try:
            for name in VARIANTS:
                env = server_env(
                    args,
                    directory / name,
                    **provider_env(llm_url),
                    APP__METRICS__ENABLED="true" if name == "on" else "false",
                )
                servers[name] = start_server(env, [], log_dir=directory / name, timeout=90)
            variants: list[Variant] = []
            for name in VARIANTS:
                client = client_for(servers[name])
                users = await sign_in(client, servers[name], 4)
                variants.append(Variant(name, servers[name], client, users))
            # Warm up both (imports, pools, first queries), not measured.
            for variant in variants:
                await runs_round(variant, max(4, args.runs // 4), args.concurrency)
                variant.per_run_ms.clear()
            for _ in range(args.rounds):
                await _set_latency(llm_url, 0)
                for variant in variants:
                    await runs_round(variant, args.runs, args.concurrency)
                await _set_latency(llm_url, args.llm_latency_ms)
                for variant in variants:
                    await frames_round(variant, args.live_runs, args.subscribers)
            for variant in variants:
                await variant.client.aclose()
        finally:
            for server in servers.values():
                server.stop()
    on, off = variants
    off_run_us = statistics.median(off.per_run_ms) * 1000
    off_frame_us = statistics.median(off.per_frame_us)
    return "\n".join(
        [
            f"`python -m bench.metrics --rounds {args.rounds} --runs {args.runs} "
            f"--concurrency {args.concurrency} --live-runs {args.live_runs} "
            f"--subscribers {args.subscribers} --llm-latency-ms {args.llm_latency_ms:g}`",
            "",
            "| server CPU | metrics on (median) | metrics off (median) | overhead "
            "| range on / off |",
            "|---|---:|---:|---:|---|",
            _row("per run (`POST /ask`, openai_chat)", on.per_run_ms, off.per_run_ms, "ms"),
            _row("per SSE frame delivered", on.per_frame_us, off.per_frame_us, "µs"),
            "",
            "Instrumentation timed exactly (multiprocess mode), as a share of the metrics-off "
            "server's CPU above:",
            "",
            "| | metrics work | share of server CPU (off) | what it rests on |",
            "|---|---:|---:|---|",
            f"| per run | {cost['run_us']:.0f} µs | {cost['run_us'] / off_run_us * 100:.2f} % "
            f"| {cost['events_per_run']:.0f} events, {cost['llm_calls_per_run']:.0f} model "
            f"calls, {cost['pool_checkouts_per_run']:.0f} pool checkouts, 1 request |",
            f"| per SSE frame | {cost['frame_us']:.2f} µs "
            f"| {cost['frame_us'] / off_frame_us * 100:.2f} % | the HTTP wrapper's frame count |",
            "",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per variant")
    parser.add_argument("--runs", type=int, default=40, help="runs per round (per-run figure)")
    parser.add_argument("--concurrency", type=int, default=4, help="runs in flight at once")
    parser.add_argument("--live-runs", type=int, default=2, help="slow runs the followers share")
    parser.add_argument("--subscribers", type=int, default=100, help="followers per round")
    parser.add_argument("--llm-latency-ms", type=float, default=800.0, help="slow model calls")
    parser.add_argument("--database-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=None, help="also write the Markdown here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    report = asyncio.run(main(arguments))
    print(report)
    if arguments.output is not None:
        arguments.output.write_text(report)
