"""The offline engine's cost: question parsing, and CPU per offline run, against a baseline.

Run from the repository root:
``.venv/bin/python -m bench.offline_engine [--baseline REV] [--runs 20]``

1. Parse: the time to read one question into the engine's interpretation (typos, asks,
   intents, dates, places, quantities), over every question of the eval suite. The budget is
   5 ms per question.
2. CPU per offline run (parse + plan + tools + report), sequentially, for a fixed question
   set, as process CPU time per run.

With ``--baseline REV`` the same measurements run, in the same invocation, on a checkout of
``REV`` (a temporary git worktree) in a subprocess, and the figures are reported as ratios.
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
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
RUN_QUESTIONS = (
    "When is the grid cleanest tomorrow in Ireland?",
    "How green was the Northern Ireland grid last week?",
    "Compare the grid in January 2026 with February 2026",
    "What is the carbon footprint of a 40-person office with 2 sites and 5 vans?",
    "What is the carbon footprint of 1,000 kWh of electricity in Ireland?",
    "Hello!",
)
ROOT = Path(__file__).resolve().parent.parent


def _questions() -> list[str]:
    """Every eval-suite question (read straight from the TOML files of this checkout)."""
    import tomllib

    out: list[str] = []
    for path in sorted((ROOT / "orchestrator" / "eval_cases").glob("*.toml")):
        out += [c["question"] for c in tomllib.loads(path.read_text())["case"]]
    return out or list(RUN_QUESTIONS)


def _parser_fn() -> Any:
    """The engine's question reader of whichever build is imported."""
    today = NOW.date()
    try:
        from orchestrator.providers._offline.interpretation import interpret

        return lambda q: interpret({"question": q}, today)
    except ImportError:  # builds before the interpretation existed
        from orchestrator.providers._offline.intent import understand

        return lambda q: understand({"question": q}, today)


def _quiet_logs() -> None:
    """Transition logs filtered (as with --quiet deployments), so stdout holds the result."""
    import logging

    import structlog

    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def measure(questions: list[str], runs: int) -> dict[str, Any]:
    _quiet_logs()
    read = _parser_fn()
    for q in questions:  # warm: pint's registry, regex caches
        read(q)
    times: list[float] = []
    for q in questions:
        started = time.perf_counter()
        read(q)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()

    from orchestrator import Orchestrator, RunContext
    from orchestrator.providers.offline import OfflineProvider

    async def runs_cpu() -> float:
        orch = Orchestrator(provider=OfflineProvider())
        try:
            for q in RUN_QUESTIONS:  # warm
                await orch.ask(q, RunContext(now=NOW))
            started = time.process_time()
            for _ in range(runs):
                for q in RUN_QUESTIONS:
                    await orch.ask(q, RunContext(now=NOW))
            return (time.process_time() - started) * 1000 / (runs * len(RUN_QUESTIONS))
        finally:
            await orch.aclose()

    return {
        "parse_ms_mean": statistics.fmean(times),
        "parse_ms_p50": times[len(times) // 2],
        "parse_ms_p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "parse_ms_max": times[-1],
        "questions": len(questions),
        "run_cpu_ms": asyncio.run(runs_cpu()),
    }


def _baseline(rev: str, questions: list[str], runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True
        )
        try:
            (Path(tmp) / "questions.json").write_text(json.dumps(questions))
            done = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--measure-only",
                    "--questions",
                    str(Path(tmp) / "questions.json"),
                    "--runs",
                    str(runs),
                ],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.offline_engine")
    parser.add_argument("--baseline", help="a git revision to measure in the same run")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--questions", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        sys.path.insert(0, os.getcwd())
        questions = json.loads(args.questions.read_text()) if args.questions else _questions()
        print(json.dumps(measure(questions, args.runs)))
        return
    questions = _questions()
    now = measure(questions, args.runs)
    base = _baseline(args.baseline, questions, args.runs) if args.baseline else None
    print(
        f"### Offline engine (`python -m bench.offline_engine --runs {args.runs}"
        f"{' --baseline ' + args.baseline if args.baseline else ''}`)\n"
    )
    print(f"Parse: {now['questions']} eval-suite questions, one read each (ms).\n")
    header = "| build | parse mean | p50 | p99 | max | CPU ms per offline run |"
    print(header)
    print("|---|---|---|---|---|---|")
    rows = [("this build", now)] + ([(f"baseline {args.baseline}", base)] if base else [])
    for name, m in rows:
        print(
            f"| {name} | {m['parse_ms_mean']:.3f} | {m['parse_ms_p50']:.3f} | "
            f"{m['parse_ms_p99']:.3f} | {m['parse_ms_max']:.3f} | {m['run_cpu_ms']:.1f} |"
        )
    if base:
        print(
            f"\nRatios (this build / baseline): parse mean "
            f"{now['parse_ms_mean'] / base['parse_ms_mean']:.2f}x, CPU per run "
            f"{now['run_cpu_ms'] / base['run_cpu_ms']:.2f}x."
        )


if __name__ == "__main__":
    main()
