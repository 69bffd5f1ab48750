"""Durable runs: what checkpoints cost per step, and how fast a dead worker's run resumes.

Run from the repository root::

    .venv/bin/python -m bench.durable [--runs 200] [--service-runs 40] [--database-url URL]

1. Library: the same scripted run (planner + carbon with two tool calls + report: 8
   checkpoints) with no checkpointer and with :class:`InMemoryCheckpointer`, alternated in one
   process; the difference per run and per checkpoint (encoding the state), and the
   checkpoint's size in bytes (JSON, as stored).
2. Service: whole runs through :class:`app.runs.service.RunService` on a database (SQLite file
   by default), checkpoints off (``checkpointer`` None: today's build) and on (the row written
   in the transaction of each boundary event), alternated; wall ms per run and per boundary.
3. Resume latency: a worker's run is left mid-step as if its process had died; another
   worker's sweep claims and resumes it. Measured: from the sweep's start to the ``resumed``
   event committed (the mechanism's own cost). In a deployment add the detection delay: up to
   ``runs.heartbeat_s`` for a dead process of the same host, ``runs.lease_s`` + up to
   ``heartbeat_s`` for another host.

Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from sqlalchemy import select, update

from app.auth.models import User
from app.db.base import new_id
from app.db.engine import Database
from app.db.migrate import migrate
from app.runs.models import Run, RunEvent
from app.runs.service import RunService
from app.settings import DatabaseSettings, RunSettings
from orchestrator import (
    AssistantSpec,
    BudgetConfig,
    Checkpoint,
    InMemoryCheckpointer,
    Orchestrator,
    RunContext,
    encode_checkpoint,
)
from orchestrator.assistants import ASSISTANT_NAMES
from orchestrator.providers.scripted import Reply, ScriptedProvider, plan_reply, tool_call
from orchestrator.registry import ToolRegistry

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
REPORT = "# Report\n\n" + "A finding with a figure, 300 kg CO2e. " * 40


def quiet_logs() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.PrintLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
        cache_logger_on_first_use=False,
    )


def script(runs: int, report_delay_s: float = 0.0) -> dict[str, list[Reply]]:
    return {
        "planner": [plan_reply(("carbon", "Find the footprint."), ("report", "Report."))] * runs,
        "carbon": [
            Reply(
                tool_calls=(
                    tool_call("grid_intensity", {"region": "ie"}),
                    tool_call("footprint", {"kwh": 1000}),
                )
            ),
            Reply(text="Carbon: 1,000 kWh is about 300 kg CO2e. " * 20),
        ]
        * runs,
        "report": [Reply(text=REPORT, delay_s=report_delay_s)] * runs,
    }


def tools() -> ToolRegistry:
    import msgspec

    from tools.catalog_types import ToolDefinition

    class Args(msgspec.Struct):
        region: str = "ie"
        kwh: float = 0.0

    def answer(args: Args, ctx: object) -> dict[str, object]:
        return {"intensity_g_per_kwh": 300, "series": [300 + i for i in range(48)]}

    return ToolRegistry(
        [
            ToolDefinition(name=name, description=name, input_type=Args, fn=answer)
            for name in ("grid_intensity", "footprint")
        ]
    )


def orchestrator(runs: int, report_delay_s: float = 0.0) -> Orchestrator:
    registry = tools()
    assistants = {
        name: AssistantSpec(
            name=name,
            model="scripted",
            instructions=f"{name} instructions",
            tools=("grid_intensity", "footprint") if name == "carbon" else (),
        )
        for name in ASSISTANT_NAMES
    }
    return Orchestrator(
        ScriptedProvider(script(runs, report_delay_s)),
        assistants=assistants,
        tools=registry,
        budgets=BudgetConfig(),
        clock=lambda: NOW,
    )


class SizedCheckpoints(InMemoryCheckpointer):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    async def save(self, checkpoint: Checkpoint) -> None:
        await super().save(checkpoint)
        self.sizes.append(len(encode_checkpoint(checkpoint)))


# ------------------------------------------------------------------------------------ library


async def library(runs: int, rounds: int) -> list[str]:
    timings: dict[str, list[float]] = {"off": [], "on": []}
    sizes: list[int] = []
    saves = 0
    for _ in range(rounds):
        for mode in ("off", "on"):
            orch = orchestrator(runs)
            store = SizedCheckpoints() if mode == "on" else None
            started = time.process_time()
            for i in range(runs):
                await orch.run("q", RunContext(run_id=f"r{i}"), checkpointer=store)
            timings[mode].append((time.process_time() - started) * 1000 / runs)
            if store is not None:
                sizes, saves = store.sizes, store.saves // runs
    off, on = min(timings["off"]), min(timings["on"])
    return [
        "| library, scripted zero-latency run (8 checkpoints) | CPU ms/run | |",
        "|---|---:|---:|",
        f"| no checkpointer | {off:.3f} | |",
        f"| InMemoryCheckpointer | {on:.3f} | {on / off:.2f}x |",
        f"| per checkpoint (encode + keep) | {(on - off) / saves:.4f} | |",
        "",
        f"Checkpoint size (JSON bytes): median {statistics.median(sizes):.0f}, "
        f"max {max(sizes)} (the last ones carry the steps' outputs).",
    ]


# ------------------------------------------------------------------------------------ service


async def user(database: Database) -> str:
    user_id = new_id()
    async with database.session_maker() as session, session.begin():
        session.add(
            User(
                id=user_id,
                email=f"{user_id}@example.org",
                user_handle=os.urandom(16),
                created_at=datetime.now(UTC),
            )
        )
    return user_id


def service(database: Database, orch: Orchestrator, channels: ChannelsPlugin) -> RunService:
    return RunService(
        settings=RunSettings(max_concurrent_per_user=100),
        session_maker=database.session_maker,
        channels=channels,
        orchestrator=orch,
        max_history_pairs=5,
        serialize_writes=database.backend == "sqlite",
    )


async def service_cost(database: Database, runs: int, rounds: int) -> list[str]:
    channels = ChannelsPlugin(backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    per_run: dict[str, list[float]] = {"off": [], "on": []}
    boundaries = 0
    async with channels:
        owner = await user(database)
        for _ in range(rounds):
            for mode in ("off", "on"):
                runs_service = service(database, orchestrator(runs), channels)
                if mode == "off":
                    runs_service.checkpointer = None
                started = time.perf_counter()
                for _ in range(runs):
                    run = await runs_service.start(user_id=owner, question="q")
                    await runs_service.wait(run.run_id)
                per_run[mode].append((time.perf_counter() - started) * 1000 / runs)
                async with database.session_maker() as session:
                    events = (
                        await session.scalars(
                            select(RunEvent.event_type).where(RunEvent.run_id == run.run_id)
                        )
                    ).all()
                boundaries = sum(
                    kind in ("started", "agent_response", "tool_execution") for kind in events
                )
    off, on = statistics.median(per_run["off"]), statistics.median(per_run["on"])
    return [
        f"| service on {database.backend}, whole run ({boundaries} boundary events) "
        "| wall ms/run (median of rounds) | |",
        "|---|---:|---:|",
        f"| checkpoints off (today's build) | {off:.2f} | |",
        f"| checkpoints on (row in each boundary event's transaction) | {on:.2f} | "
        f"{on / off:.2f}x |",
        f"| per boundary | {(on - off) / boundaries:.3f} | |",
    ]


# ------------------------------------------------------------------------------------ resume


async def resume_latency(database: Database, samples: int) -> list[str]:
    channels = ChannelsPlugin(backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    latencies: list[float] = []
    async with channels:
        owner = await user(database)
        for _ in range(samples):
            dying = service(database, orchestrator(1, report_delay_s=60), channels)
            run = await dying.start(user_id=owner, question="q")
            await until_event(database, run.run_id, lambda kind: kind == "agent_response", 2)
            for live in list(dying._live.values()):  # the process vanishes
                live.closed = True
                if live.task is not None:
                    live.task.cancel()
            await asyncio.sleep(0.05)
            async with database.session_maker() as session, session.begin():
                await session.execute(
                    update(Run)
                    .where(Run.id == run.run_id)
                    .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            survivor = service(database, orchestrator(1), channels)
            started = time.perf_counter()
            await survivor.sweep_stale()
            await until_event(database, run.run_id, lambda kind: kind == "resumed", 1)
            latencies.append((time.perf_counter() - started) * 1000)
            await survivor.wait(run.run_id)
    return [
        f"Resume latency on {database.backend} (sweep start → `resumed` event committed), "
        f"{samples} samples: median {statistics.median(latencies):.1f} ms, "
        f"max {max(latencies):.1f} ms.",
    ]


async def until_event(
    database: Database, run_id: str, wanted: Callable[[str], bool], count: int
) -> None:
    for _ in range(2000):
        async with database.session_maker() as session:
            kinds = (
                await session.scalars(select(RunEvent.event_type).where(RunEvent.run_id == run_id))
            ).all()
        if sum(wanted(kind) for kind in kinds) >= count:
            return
        await asyncio.sleep(0.001)
    raise RuntimeError(f"run {run_id} never got its event")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--service-runs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resume-samples", type=int, default=10)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    quiet_logs()
    lines = ["## Durable runs (`python -m bench.durable`)", ""]
    lines += await library(args.runs, args.rounds)
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        database = Database(DatabaseSettings(url=url))
        await migrate(database.engine)
        try:
            lines += [""] + await service_cost(database, args.service_runs, args.rounds)
            lines += [""] + await resume_latency(database, args.resume_samples)
        finally:
            await database.dispose()
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
