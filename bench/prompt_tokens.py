"""Prompt tokens per run on the generic fake OpenAI server, against a baseline build.

Run from the repository root:
``.venv/bin/python -m bench.prompt_tokens [--baseline REV] [--runs 10]``

Every run drives the real orchestrator through the ``openai`` (Responses API) provider and
the real SDK, over HTTP, to ``tests/fakes/openai_server.py`` started in its own process in
"generic" mode (``tests/fakes/generic_model.py``): the planner's answer is generated from the
plan schema (one step per step kind: carbon, analysis, report), each step calls the first tool
it is offered once, then answers with a fixed paragraph. That makes 7 model calls per run for
each of the 4 questions below, the same plans and the same tool calls in every build.

Tokens are the fake's count: ``len(request body) // 4`` (characters / 4 of the JSON body the
SDK sent; no tokenizer), reported back as ``usage.input_tokens`` and summed by the run's own
accounting (``RunUsage.input_tokens``). CPU is the client process's CPU time per run
(``time.process_time``), the fake's own CPU not included.

With ``--baseline REV`` the same measurement runs, in the same invocation and against the same
fake process, on a checkout of ``REV`` (a temporary git worktree) in a subprocess; this script
(of this build) does the measuring there too, importing that build's ``orchestrator``.
Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
QUESTIONS = (
    "When is the grid cleanest tomorrow in Ireland, and what does our office's usage show?",
    "How green was the Northern Ireland grid last week compared with our sales trend?",
    "What is the carbon footprint of a 40-person office with 2 sites and 5 vans?",
    "Compare the grid in January 2026 with February 2026 and analyse our energy data.",
)


def _quiet_logs() -> None:
    import logging

    import structlog

    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def measure(base_url: str, runs: int) -> dict[str, Any]:
    """Prompt tokens, calls, plans, tool calls and CPU per run of the imported build."""
    _quiet_logs()
    from orchestrator import Orchestrator, RunContext
    from orchestrator.config import LLMConfig
    from orchestrator.events import ToolExecution
    from orchestrator.providers.openai_responses import OpenAIResponsesProvider

    config = LLMConfig(provider="openai", model="generic", base_url=base_url, api_key="bench")

    async def go() -> dict[str, Any]:
        orch = Orchestrator(provider=OpenAIResponsesProvider(config))
        try:
            per_question: list[dict[str, Any]] = []
            for question in QUESTIONS:
                result = await orch.ask(question, RunContext(now=NOW))
                calls = [
                    f"{e.data.step}:{e.data.tool}:{e.data.status}"
                    for e in result.events
                    if isinstance(e, ToolExecution) and e.data.status != "started"
                ]
                per_question.append(
                    {
                        "status": result.status,
                        "error": result.error.code if result.error else None,
                        "input_tokens": result.usage.input_tokens,
                        "cached_tokens": result.usage.cached_tokens,
                        "output_tokens": result.usage.output_tokens,
                        "llm_calls": result.usage.llm_calls,
                        "plan": [s.kind for s in result.plan.steps] if result.plan else [],
                        "tool_calls": calls,
                    }
                )
            started = time.process_time()
            for _ in range(runs):
                for question in QUESTIONS:
                    await orch.ask(question, RunContext(now=NOW))
            cpu_ms = (time.process_time() - started) * 1000 / (runs * len(QUESTIONS))
            return {"questions": per_question, "cpu_ms_per_run": cpu_ms}
        finally:
            await orch.aclose()

    return asyncio.run(go())


def _baseline(rev: str, base_url: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True
        )
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--measure-only",
                    "--base-url",
                    base_url,
                    "--runs",
                    str(runs),
                ],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"baseline measurement failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _this_build(base_url: str, runs: int) -> dict[str, Any]:
    """Measured in a subprocess too, so both builds start equally cold."""
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--measure-only",
            "--base-url",
            base_url,
            "--runs",
            str(runs),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(name: str, m: dict[str, Any]) -> str:
    qs = m["questions"]
    n = len(qs)
    tokens = sum(q["input_tokens"] for q in qs) / n
    calls = sum(q["llm_calls"] for q in qs) / n
    ok = sum(q["status"] == "completed" for q in qs)
    return (
        f"| {name} | {tokens:,.0f} | {tokens / calls:,.0f} | {calls:g} | {ok}/{n} | "
        f"{m['cpu_ms_per_run']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prompt_tokens")
    parser.add_argument("--baseline", help="a git revision to measure in the same run")
    parser.add_argument("--runs", type=int, default=10, help="timed passes over the questions")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the raw figures too")
    args = parser.parse_args()
    if args.measure_only:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(measure(args.base_url, args.runs)))
        return
    sys.path.insert(0, str(ROOT))
    from tests.fakes.openai_server import run_process

    with (
        tempfile.TemporaryDirectory() as tmp,
        run_process(Path(tmp), by_model={}, generic=True) as url,
    ):
        now = _this_build(url, args.runs)
        base = _baseline(args.baseline, url, args.runs) if args.baseline else None
    if args.json:
        print(json.dumps({"this": now, "baseline": base}, indent=1))
    print(
        f"### Prompt tokens per run (`python -m bench.prompt_tokens --runs {args.runs}"
        f"{' --baseline ' + args.baseline if args.baseline else ''}`)\n"
    )
    print(
        f"{len(QUESTIONS)} questions, each planner + carbon + analysis + report on the generic "
        "fake (tokens = request body chars / 4, as the fake counts them).\n"
    )
    print(
        "| build | prompt tokens per run | per call | calls per run | completed | CPU ms per run |"
    )
    print("|---|---|---|---|---|---|")
    print(_row("this build", now))
    if base:
        print(_row(f"baseline {args.baseline}", base))
        same = all(
            a["plan"] == b["plan"] and a["tool_calls"] == b["tool_calls"]
            for a, b in zip(now["questions"], base["questions"], strict=True)
        )
        t_now = sum(q["input_tokens"] for q in now["questions"])
        t_base = sum(q["input_tokens"] for q in base["questions"])
        print(
            f"\nRatios (this build / baseline): prompt tokens {t_now / t_base:.2f}x, CPU per run "
            f"{now['cpu_ms_per_run'] / base['cpu_ms_per_run']:.2f}x. Same plans and tool calls: "
            f"{'yes' if same else 'NO'}."
        )


if __name__ == "__main__":
    main()
