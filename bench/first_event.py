"""Time to a run's first event, and event-loop lag, with 200 offline runs at once.

Run from the repository root:
``.venv/bin/python -m bench.first_event [--concurrency 200] [--runs 600] [--baseline REV]``

Every run goes through :class:`orchestrator.Orchestrator` with the :class:`OfflineProvider`
(real planner, tools, charts in the renderer process, report), each event encoded as the
service encodes it before storing it. Two scenarios, each in a fresh child process after a
warm-up (one run of every question):

1. **burst**: ``--concurrency`` runs created in the same instant (200 requests arriving
   together);
2. **steady**: ``--concurrency`` runs in flight, and each run that ends is replaced by a new
   one at once, until ``--runs`` runs have started (a busy worker that keeps accepting work).

A run *arrives* when its task is created; its *first event* is the first ``emit`` call the
orchestrator makes for it (``started``), and *first step event* the first event after it
(the planner's ``agent_thinking``: the run is being worked on). Latency = arrival to event,
so any time the new task waits in the loop's ready queue behind other runs' work counts.
A ticker task measures loop lag meanwhile: how late ``asyncio.sleep(0.005)`` wakes up.

With ``--baseline REV`` the same child runs on a checkout of ``REV`` (a temporary git
worktree) in the same invocation, so the two builds share the machine's state.
Prints a Markdown section for BENCHMARKS.md.
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
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INTERVAL_S = 0.005
NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
QUESTIONS = (
    "When is the grid cleanest tomorrow in Ireland?",
    "How green was the Northern Ireland grid last week?",
    "Compare the grid in January 2026 with February 2026",
    "What is the carbon footprint of a 40-person office with 2 sites and 5 vans?",
    "Hello!",
)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def waited_p99(lags_ms: list[float]) -> float:
    """The p99 wait of a request arriving at a random instant (time-weighted lag, in ms).

    Tick percentiles flatter a loop that blocks for long stretches: a 2 s block is one slow
    tick among thousands of fast ones. A request arriving during a tick of length ``d`` waits
    for the rest of it (uniform in 0..d); this is the 99th percentile of that wait over time.
    """
    ticks = [lag + INTERVAL_S * 1000 for lag in lags_ms]
    total = sum(ticks)
    if not total:
        return 0.0

    def beyond(x: float) -> float:  # share of time a new request would wait more than x ms
        return sum(d - x for d in ticks if d > x) / total

    low, high = 0.0, max(ticks)
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if beyond(middle) > 0.01 else (low, middle)
    return high


def _quiet_logs() -> None:
    import logging

    import structlog

    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
    )


class Ticker:
    """How late ``asyncio.sleep(INTERVAL_S)`` returns, in milliseconds."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            start = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            self.lags_ms.append((time.perf_counter() - start - INTERVAL_S) * 1000.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            await self._task


async def scenario(orch: Any, concurrency: int, total: int) -> dict[str, Any]:
    """``total`` runs, ``concurrency`` in flight; each ended run is replaced at once."""
    from orchestrator import RunContext
    from orchestrator.events import encode_envelope

    first: list[float] = []
    step: list[float] = []
    failed = 0
    codes: dict[str, int] = {}
    started = 0
    done = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int, arrived: float) -> None:
        nonlocal failed
        seen = 0

        async def emit(event: Any) -> None:
            nonlocal seen
            encode_envelope(event)
            seen += 1
            if seen == 1:
                first.append((time.perf_counter() - arrived) * 1000)
            elif seen == 2:
                step.append((time.perf_counter() - arrived) * 1000)

        result = await orch.run(QUESTIONS[index % len(QUESTIONS)], RunContext(now=NOW), emit)
        if result.status != "completed":
            failed += 1
            code = result.error.code if result.error is not None else result.status
            codes[code] = codes.get(code, 0) + 1

    def launch() -> None:
        nonlocal started
        index = started
        started += 1
        task = asyncio.create_task(one(index, time.perf_counter()))
        tasks.add(task)
        task.add_done_callback(ended)

    def ended(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if started < total:
            launch()
        elif not tasks:
            done.set()

    ticker = Ticker()
    ticker.start()
    await asyncio.sleep(INTERVAL_S * 4)
    ticker.lags_ms.clear()
    loop_clock = time.pthread_getcpuclockid(threading.get_ident())
    wall0, cpu0 = time.perf_counter(), time.process_time()
    loop0 = time.clock_gettime(loop_clock)
    for _ in range(min(concurrency, total)):
        launch()
    await done.wait()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    loop_cpu = time.clock_gettime(loop_clock) - loop0
    await ticker.stop()
    lags = ticker.lags_ms
    return {
        "runs": total,
        "failed": failed,
        "codes": codes,
        "first_p50": statistics.median(first),
        "first_p99": percentile(first, 99),
        "first_max": max(first),
        "step_p50": statistics.median(step),
        "step_p99": percentile(step, 99),
        "lag_p50": statistics.median(lags),
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags),
        "waited_p99": waited_p99(lags),
        "runs_per_s": total / wall,
        "cpu_ms_per_run": cpu * 1000 / total,
        "loop_cpu_ms_per_run": loop_cpu * 1000 / total,
    }


async def child(concurrency: int, total: int) -> dict[str, Any]:
    from orchestrator import Orchestrator, RunContext, ToolsConfig
    from orchestrator.providers.offline import OfflineProvider
    from orchestrator.registry import build_tool_services

    config = ToolsConfig()
    orch = Orchestrator(
        OfflineProvider(config),
        tool_context_services=build_tool_services(config),
        clock=lambda: NOW,
    )
    try:
        for question in QUESTIONS:  # warm: imports, pint, fonts, the renderer process
            await orch.run(question, RunContext(now=NOW))
        return {
            "burst": await scenario(orch, concurrency, concurrency),
            "steady": await scenario(orch, concurrency, total),
        }
    finally:
        await orch.aclose()


def _measure(tree: Path, concurrency: int, total: int) -> dict[str, Any]:
    """The child in a fresh process importing the build at ``tree``."""
    done = subprocess.run(
        [
            sys.executable,
            "-P",  # not bench/ first on the path: its orchestrator.py would shadow the package
            str(Path(__file__).resolve()),
            "--child",
            "--concurrency",
            str(concurrency),
            "--runs",
            str(total),
        ],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _baseline(rev: str, concurrency: int, total: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True
        )
        try:
            return _measure(tree, concurrency, total)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)


def report(rows: list[tuple[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    command = f"python -m bench.first_event --concurrency {args.concurrency} --runs {args.runs}"
    if args.baseline:
        command += f" --baseline {args.baseline}"
    print(f"### First event and loop lag, {args.concurrency} runs at once (`{command}`)\n")
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs. Offline engine, "
        f"renderer process on. burst = {args.concurrency} runs created together; steady = "
        f"{args.concurrency} in flight, each ended run replaced at once, {args.runs} runs. "
        "Latencies from task creation, in ms. CPU: this process (the renderer process's "
        "charts not included); in brackets the event loop's thread alone. Time-weighted "
        "wait: the p99 delay a request arriving at a random instant would see.\n"
    )
    print(
        "| build | scenario | first event p50 / p99 / max | first step event p50 / p99 "
        "| loop lag p50 / p99 / max | time-weighted wait p99 | runs/s "
        "| CPU ms/run (loop thread) | failed |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in rows:
        for label in ("burst", "steady"):
            m = result[label]
            print(
                f"| {name} | {label} | {m['first_p50']:.1f} / {m['first_p99']:.1f} / "
                f"{m['first_max']:.1f} | {m['step_p50']:.1f} / {m['step_p99']:.1f} | "
                f"{m['lag_p50']:.1f} / {m['lag_p99']:.1f} / {m['lag_max']:.1f} | "
                f"{m.get('waited_p99', float('nan')):.1f} | "
                f"{m['runs_per_s']:.1f} | {m['cpu_ms_per_run']:.0f} "
                f"({m['loop_cpu_ms_per_run']:.0f}) | "
                f"{m['failed']} {m['codes'] or ''} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_event")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--runs", type=int, default=600, help="runs in the steady scenario")
    parser.add_argument("--baseline", help="a git revision to measure in the same run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _quiet_logs()
        print(json.dumps(asyncio.run(child(args.concurrency, args.runs))))
        return
    rows = [("this build", _measure(ROOT, args.concurrency, args.runs))]
    if args.baseline:
        rows.append(
            (f"baseline {args.baseline}", _baseline(args.baseline, args.concurrency, args.runs))
        )
    report(rows, args)


if __name__ == "__main__":
    main()
