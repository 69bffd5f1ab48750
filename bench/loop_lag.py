"""Event-loop lag while offline runs execute in-process, and the CPU cost of each tool.

Run from the repository root: ``.venv/bin/python -m bench.loop_lag [--runs 64]``

A ticker task measures how late ``asyncio.sleep(0.005)`` wakes up (the lag every other client
of the worker sees: SSE delivery, first events of new runs). It runs:

1. **idle**: nothing else on the loop (the baseline, same process, same run);
2. **cold**: the first offline run of the process (imports, font cache, renderer start-up);
3. **warm, N concurrent**: ``--runs`` offline runs through :class:`orchestrator.Orchestrator`
   with the :class:`OfflineProvider`, N at a time (real planner, tools, charts, report),
   every event encoded as the service does; each metric is the median of ``--repeat``.

Each render mode (``--render-processes``, as ``[tools] render_processes``: 0 = charts drawn in
a thread of this process, 1 = in a separate renderer process) is measured in a fresh child
process, so imports and caches of one mode cannot flatter the other.

CPU columns: *loop thread* is CPU time of the thread running the event loop (what blocks other
clients); *total* adds worker threads and child processes (the renderer; /proc clock ticks,
10 ms resolution, averaged over many calls). The per-tool table records every tool call of
``--tool-passes`` sequential passes over the benchmark questions.

Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from bench.orchestrator import NOW, QUESTIONS, configure_logs
from orchestrator import Orchestrator, RunContext, ToolRegistry, ToolsConfig
from orchestrator.events import Event, encode_envelope
from orchestrator.providers.offline import OfflineProvider
from orchestrator.registry import build_tool_services
from tools.catalog_types import ToolContext, ToolDefinition

INTERVAL_S = 0.005
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------- clocks


def _loop_thread_clock() -> Callable[[], float]:
    """CPU seconds of the calling (event-loop) thread, readable from any thread."""
    clock_id = time.pthread_getcpuclockid(threading.get_ident())
    return lambda: time.clock_gettime(clock_id)


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's live child processes (Linux /proc)."""
    total = 0.0
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime
    return total


def total_cpu_s() -> float:
    return time.process_time() + children_cpu_s()


# ---------------------------------------------------------------------------------- ticker


class Ticker:
    """Measures how late ``asyncio.sleep(INTERVAL_S)`` returns, in milliseconds."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            self.lags_ms.append((time.perf_counter() - start - INTERVAL_S) * 1000.0)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(INTERVAL_S * 4)  # a few ticks before the measured work starts
        self.lags_ms.clear()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def lag_stats(lags_ms: list[float]) -> dict[str, float]:
    ordered = sorted(lags_ms)
    return {
        "ticks": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }


# ------------------------------------------------------------------------------ scenarios


def make_orchestrator(render_processes: int, tools: ToolRegistry | None = None) -> Orchestrator:
    config = ToolsConfig(render_processes=render_processes)
    return Orchestrator(
        OfflineProvider(config),
        tools=tools,
        tool_context_services=build_tool_services(config),
        clock=lambda: NOW,
    )


async def one_run(orch: Orchestrator, index: int) -> None:
    async def emit(event: Event) -> None:
        encode_envelope(event)  # what the service does with every event before storing it

    result = await orch.run(QUESTIONS[index % len(QUESTIONS)], RunContext(now=NOW), emit)
    assert result.status == "completed", result.error


async def measured(
    work: Callable[[], Awaitable[object]], loop_cpu: Callable[[], float]
) -> dict[str, float]:
    async with Ticker() as ticker:
        wall0, loop0, cpu0 = time.perf_counter(), loop_cpu(), total_cpu_s()
        await work()
        wall, loop, cpu = (
            time.perf_counter() - wall0,
            loop_cpu() - loop0,
            total_cpu_s() - cpu0,
        )
    return {**lag_stats(ticker.lags_ms), "wall_s": wall, "loop_cpu_s": loop, "cpu_s": cpu}


async def concurrent(orch: Orchestrator, runs: int, concurrency: int) -> None:
    indices = iter(range(runs))

    async def worker() -> None:
        for index in indices:
            await one_run(orch, index)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class ToolCost(msgspec.Struct):
    calls: int = 0
    loop_cpu_s: float = 0.0
    cpu_s: float = 0.0


def recording(
    registry: ToolRegistry, costs: dict[str, ToolCost], loop_cpu: Callable[[], float]
) -> ToolRegistry:
    """The registry's tools, each wrapped to add its CPU time to ``costs`` (sequential use)."""

    def wrap(tool: ToolDefinition[Any, Any]) -> ToolDefinition[Any, Any]:
        inner = tool.fn

        def book(loop0: float, cpu0: float) -> None:
            cost = costs.setdefault(tool.name, ToolCost())
            cost.calls += 1
            cost.loop_cpu_s += loop_cpu() - loop0
            cost.cpu_s += total_cpu_s() - cpu0

        if inspect.iscoroutinefunction(inner):

            async def timed_async(args: Any, ctx: ToolContext) -> Any:
                cpu0, loop0 = total_cpu_s(), loop_cpu()
                result = await inner(args, ctx)
                book(loop0, cpu0)
                return result

            fn: Callable[[Any, ToolContext], Any] = timed_async
        else:

            def timed_sync(args: Any, ctx: ToolContext) -> Any:
                cpu0, loop0 = total_cpu_s(), loop_cpu()
                result = inner(args, ctx)
                book(loop0, cpu0)
                return result

            fn = timed_sync
        return ToolDefinition(
            name=tool.name, description=tool.description, input_type=tool.input_type, fn=fn
        )

    return ToolRegistry(wrap(tool) for tool in registry)


async def child(
    render_processes: int,
    runs: int,
    levels: list[int],
    idle_s: float,
    tool_passes: int,
    repeat: int,
) -> dict[str, Any]:
    loop_cpu = _loop_thread_clock()
    costs: dict[str, ToolCost] = {}
    tools = recording(ToolRegistry.from_catalog(), costs, loop_cpu)
    orch = make_orchestrator(render_processes)  # the measured one: tools unwrapped
    recorder = make_orchestrator(render_processes, tools)  # per-tool costs, sequential only
    out: dict[str, Any] = {"render_processes": render_processes}
    try:
        out["idle"] = await measured(lambda: asyncio.sleep(idle_s), loop_cpu)
        out["cold"] = await measured(lambda: one_run(orch, 0), loop_cpu)
        for index in range(len(QUESTIONS)):  # warm every path once
            await one_run(orch, index)
            await one_run(recorder, index)
        out["levels"] = {}
        for level in levels:
            total = max(runs, level)
            samples = [
                await measured(functools.partial(concurrent, orch, total, level), loop_cpu)
                for _ in range(repeat)
            ]
            median = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
            out["levels"][str(level)] = {**median, "runs": total}
        costs.clear()
        for index in range(tool_passes * len(QUESTIONS)):
            await one_run(recorder, index)
        out["tools"] = {name: msgspec.to_builtins(cost) for name, cost in costs.items()}
    finally:
        await orch.aclose()
        await recorder.aclose()
    return out


# ------------------------------------------------------------------------------------ report


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def mode(result: dict[str, Any]) -> str:
        n = result["render_processes"]
        return "in-thread (0)" if n == 0 else f"process pool ({n})"

    print("## Event-loop lag (`bench/loop_lag.py`)\n")
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs. Lag = how late "
        f"`asyncio.sleep({INTERVAL_S})` wakes up while offline runs execute on the same loop; "
        f"ratios are against the idle baseline of the same process. Command: "
        f"`python -m bench.loop_lag --runs {args.runs} --concurrency {args.concurrency} "
        f"--render-processes {args.render_processes} --repeat {args.repeat}`; warm rows are "
        f"the median of {args.repeat} measurements (the machine may be shared).\n"
    )
    print(
        "| render_processes | scenario | runs | lag p50 ms | lag p99 ms | lag max ms "
        "| p99 / idle p99 | runs/s | loop-thread CPU ms/run | total CPU ms/run |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        idle = result["idle"]
        base = max(idle["p99"], 0.001)
        rows = [("idle (baseline)", 0, idle), ("cold first run", 1, result["cold"])]
        rows += [
            (f"{level} concurrent", int(stats["runs"]), stats)
            for level, stats in result["levels"].items()
        ]
        for label, runs, stats in rows:
            per_run = (
                (
                    f"{runs / stats['wall_s']:.1f} | {stats['loop_cpu_s'] / runs * 1000:.1f} | "
                    f"{stats['cpu_s'] / runs * 1000:.1f}"
                )
                if runs
                else "- | - | -"
            )
            print(
                f"| {mode(result)} | {label} | {runs or '-'} | {stats['p50']:.2f} | "
                f"{stats['p99']:.2f} | {stats['max']:.2f} | {stats['p99'] / base:.1f}x | "
                f"{per_run} |"
            )
    print(
        f"\nPer tool, {args.tool_passes} sequential passes over the {len(QUESTIONS)} questions "
        "(CPU ms per call; loop thread = the part that blocks the event loop):\n"
    )
    header = " | ".join(f"{mode(r)} loop / total" for r in results)
    print(f"| tool | calls | {header} |")
    print("|---|---:|" + "---:|" * len(results))
    names = sorted({name for r in results for name in r["tools"]})
    for name in names:
        cells, calls = [], 0
        for result in results:
            cost = result["tools"].get(name)
            if cost is None:
                cells.append("-")
                continue
            calls = cost["calls"]
            cells.append(
                f"{cost['loop_cpu_s'] / calls * 1000:.1f} / {cost['cpu_s'] / calls * 1000:.1f}"
            )
        print(f"| {name} | {calls} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=64, help="offline runs per warm scenario")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--render-processes", default="0,1", help="comma-separated modes")
    parser.add_argument("--idle-s", type=float, default=1.0)
    parser.add_argument("--tool-passes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="median of N per warm scenario")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    levels = [int(v) for v in args.concurrency.split(",")]
    modes = [int(v) for v in args.render_processes.split(",")]
    if args.child:
        configure_logs("filtered")
        out = asyncio.run(
            child(modes[0], args.runs, levels, args.idle_s, args.tool_passes, args.repeat)
        )
        print(json.dumps(out))
        return
    results = []
    for render_processes in modes:
        command = [sys.executable, "-m", "bench.loop_lag", "--child"]
        command += ["--runs", str(args.runs), "--concurrency", args.concurrency]
        command += ["--render-processes", str(render_processes), "--idle-s", str(args.idle_s)]
        command += ["--tool-passes", str(args.tool_passes), "--repeat", str(args.repeat)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report(results, args)


if __name__ == "__main__":
    main()
