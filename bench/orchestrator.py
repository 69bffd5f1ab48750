"""Orchestrator benchmarks: the offline engine end to end, and the machine's own overhead.

Run from the repository root: ``.venv/bin/python -m bench.orchestrator [--runs 40]``

1. Offline engine (real planner, real tools, real report): runs/s and CPU ms per run,
   sequential and N concurrent, plus peak Python heap (tracemalloc) and process max RSS.
2. Machine overhead: a 4-step run (planner + carbon + analysis + report, two tool calls)
   with the zero-latency scripted provider, against a baseline in the same process that does
   the same provider iteration and tool calls without the machine. The difference is what the
   orchestrator itself costs per run (events, validation, accounting, bookkeeping), measured
   with transition logs filtered (the default for --quiet deployments) and with JSON logs
   rendered to /dev/null (production INFO logging).

Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from orchestrator import AssistantSpec, BudgetConfig, Orchestrator, RunContext, ToolRegistry
from orchestrator.providers.base import ModelRequest, UserMessage
from orchestrator.providers.offline import OfflineProvider
from orchestrator.providers.scripted import Reply, ScriptedProvider, ScriptItem, plan_reply
from orchestrator.providers.scripted import tool_call as make_call
from tools.catalog_types import DataSource, ToolContext, ToolDefinition

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
QUESTIONS = (
    "When is the grid cleanest tomorrow in Ireland?",
    "How green was the Northern Ireland grid last week?",
    "Compare the grid in January 2026 with February 2026",
    "What is the carbon footprint of a 40-person office with 2 sites and 5 vans?",
    "Hello!",
)


# ----------------------------------------------------------------------------------- logging


def configure_logs(mode: str) -> None:
    """``filtered``: INFO transitions dropped cheaply; ``json``: rendered to /dev/null."""
    if mode == "filtered":
        structlog.configure(
            processors=[structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
            cache_logger_on_first_use=False,
        )
    else:
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
            cache_logger_on_first_use=False,
        )


# ------------------------------------------------------------------------------ offline engine


async def offline_sequential(orch: Orchestrator, runs: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for index in range(runs):
        result = await orch.ask(QUESTIONS[index % len(QUESTIONS)], RunContext(now=NOW))
        assert result.status == "completed", result.error
    return time.perf_counter() - wall0, time.process_time() - cpu0


async def offline_concurrent(orch: Orchestrator, runs: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    results = await asyncio.gather(
        *(orch.ask(QUESTIONS[i % len(QUESTIONS)], RunContext(now=NOW)) for i in range(runs))
    )
    assert all(result.status == "completed" for result in results)
    return time.perf_counter() - wall0, time.process_time() - cpu0


# ------------------------------------------------------------------------- machine overhead


class Pair(msgspec.Struct, frozen=True):
    a: int
    b: int


class Total(msgspec.Struct, frozen=True):
    total: int

    def summary(self) -> str:
        return f"total {self.total}"

    def data_sources(self) -> list[DataSource]:
        return [DataSource(name="calc", kind="calculation", synthetic=False)]


def add(args: Pair, ctx: ToolContext) -> Total:
    return Total(total=args.a + args.b)


TOOL = ToolDefinition(name="add", description="Add.", input_type=Pair, fn=add)


def four_call_script() -> list[ScriptItem]:
    return [
        plan_reply(("carbon", "c"), ("analysis", "a"), ("report", "r")),
        Reply(tool_calls=(make_call("add", {"a": 1, "b": 2}, "t1"),)),
        Reply(text="Carbon findings."),
        Reply(tool_calls=(make_call("add", {"a": 3, "b": 4}, "t2"),)),
        Reply(text="Analysis findings."),
        Reply(text="# Report\nDone."),
    ]


def assistants() -> dict[str, AssistantSpec]:
    return {
        name: AssistantSpec(
            name=name, model="m", instructions="x", tools=() if name == "planner" else ("add",)
        )
        for name in ("planner", "carbon", "analysis", "report")
    }


async def machine_runs(runs: int) -> float:
    """CPU seconds for ``runs`` full machine runs with a zero-latency scripted provider."""
    orch = Orchestrator(
        ScriptedProvider([]),
        assistants(),
        budgets=BudgetConfig(),
        tools=ToolRegistry([TOOL]),
        clock=lambda: NOW,
        stream_delta_interval_ms=100,
    )
    cpu0 = time.process_time()
    for _ in range(runs):
        orch.provider = ScriptedProvider(four_call_script())
        result = await orch.ask("question")
        assert result.status == "completed"
    return time.process_time() - cpu0


async def baseline_runs(runs: int) -> float:
    """The same provider iteration and tool work without the machine (the floor)."""
    spec = assistants()["carbon"]
    ctx = ToolContext()
    cpu0 = time.process_time()
    for _ in range(runs):
        provider = ScriptedProvider(four_call_script())
        for _call in range(6):
            request = ModelRequest(assistant=spec, input=(UserMessage("question"),))
            async for event in provider.stream(request):
                calls = getattr(event, "tool_calls", ())
                for call in calls:
                    args = msgspec.json.decode(call.arguments, type=Pair)
                    msgspec.json.encode(msgspec.to_builtins(add(args, ctx)))
    return time.process_time() - cpu0


def best_of(repeats: int, measure: Callable[[], Coroutine[Any, Any, float]]) -> float:
    samples = []
    for _ in range(repeats):
        gc.collect()
        samples.append(asyncio.run(measure()))
    return min(samples)


# ------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=40, help="offline runs per measurement")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--machine-runs", type=int, default=2000)
    args = parser.parse_args()
    configure_logs("filtered")

    # Warm-up: imports, matplotlib fonts, caches.
    orch = Orchestrator(OfflineProvider(), clock=lambda: NOW)
    asyncio.run(offline_sequential(orch, len(QUESTIONS)))

    seq_wall, seq_cpu = asyncio.run(offline_sequential(orch, args.runs))
    con_wall, con_cpu = asyncio.run(offline_concurrent(orch, args.concurrency))
    tracemalloc.start()
    asyncio.run(offline_concurrent(orch, args.concurrency))
    _, peak_heap = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    n = args.machine_runs
    results: dict[str, Any] = {}
    for mode in ("filtered", "json"):
        configure_logs(mode)
        machine = best_of(5, lambda: machine_runs(n))
        baseline = best_of(5, lambda: baseline_runs(n))
        results[mode] = (machine / n * 1000, baseline / n * 1000)
    configure_logs("filtered")

    print("## Orchestrator (`bench/orchestrator.py`)\n")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.\n")
    print("| Offline engine | runs | runs/s | CPU ms/run |")
    print("|---|---:|---:|---:|")
    print(
        f"| sequential | {args.runs} | {args.runs / seq_wall:.1f} | "
        f"{seq_cpu / args.runs * 1000:.1f} |"
    )
    print(
        f"| {args.concurrency} concurrent | {args.concurrency} | "
        f"{args.concurrency / con_wall:.1f} | {con_cpu / args.concurrency * 1000:.1f} |"
    )
    print(
        f"\nPeak Python heap during {args.concurrency} concurrent runs: "
        f"{peak_heap / 1e6:.1f} MB (tracemalloc); process max RSS {max_rss_kb / 1024:.0f} MB.\n"
    )
    print(
        "| Machine overhead, 4-step run (planner + 3 steps, 6 model calls, 2 tool calls) "
        "| machine CPU ms/run | baseline CPU ms/run | overhead ms/run |"
    )
    print("|---|---:|---:|---:|")
    for mode, label in (("filtered", "logs filtered"), ("json", "INFO JSON logs")):
        machine_ms, baseline_ms = results[mode]
        print(
            f"| {label} | {machine_ms:.3f} | {baseline_ms:.3f} | {machine_ms - baseline_ms:.3f} |"
        )
    print(f"\nOverhead = machine minus baseline, best of 5 x {n} runs; target < 2 ms CPU per run.")


if __name__ == "__main__":
    main()
