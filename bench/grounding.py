"""What the grounding checks cost a language-model run (issue 15).

Run from the repository root: ``.venv/bin/python -m bench.grounding [--repeat 200]``

A realistic run's sources: the real ``grid_best_window`` and ``grid_intensity`` (one day,
96 points, ~6 KB) results at a pinned time, the question and the time; a ~1 KB report with
about 20 figures, all grounded; the report step's ~2 KB prompt. Timed, CPU per run (median):

1. **numbers**: collecting the sources (``GroundingTracker.sources``) and checking every
   figure of the report against them (``ungrounded_numbers``), as the machine does once per
   report answer;
2. **echo**: ``echoes_prompt`` of the report against its prompt, once per step answer;
3. **baseline**: ``msgspec.json.decode`` of the same tool results, the bare cost of reading
   what the check reads (the machine's tool round already pays more than this).

Then the whole machine: ``bench.orchestrator``'s 4-step scripted run (zero-latency provider,
a tiny tool), CPU per run with ``grounding_checks`` on and off, alternated in the same run:
what the checks add to every language-model run besides the number check (reading whether
the question needs data, the echo check of each answer).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from bench.orchestrator import NOW as BENCH_NOW
from bench.orchestrator import TOOL, assistants, four_call_script
from orchestrator import Orchestrator, ToolRegistry
from orchestrator.config import BudgetConfig, ToolsConfig
from orchestrator.grounding import GroundingTracker, echoes_prompt, ungrounded_numbers
from orchestrator.providers.scripted import ScriptedProvider
from orchestrator.registry import build_tool_services
from tools.catalog import CATALOG
from tools.catalog_types import ToolContext, model_payload

NOW = "2026-03-18T09:00:00+00:00"
QUESTION = "When is the cleanest 3 hours to run the dishwasher in Ireland tomorrow?"
CALLS = (
    ("grid_best_window", '{"region": "ie", "duration_hours": 3}'),
    ("grid_intensity", '{"region": "ie", "start_date": "2026-03-19", "end_date": "2026-03-19"}'),
)


def _tool_outputs() -> list[str]:
    tools = {tool.name: tool for tool in CATALOG}
    context = ToolContext(now=NOW, services=build_tool_services(ToolsConfig(render_processes=0)))
    outputs = []
    for name, arguments in CALLS:
        tool = tools[name]
        result: Any = tool.fn(msgspec.json.decode(arguments, type=tool.input_type), context)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
        outputs.append(msgspec.json.encode(model_payload(result)).decode())
    return outputs


def _report(outputs: list[str]) -> str:
    best = msgspec.json.decode(outputs[0])
    window = best["window"]
    lines = [
        "## Cleanest time to run the dishwasher",
        "",
        f"Run it from {window['start_local'][11:16]} to {window['end_local'][11:16]} on "
        f"{window['start_local'][:10]}: the grid averages about {window['mean']:.0f} gCO2/kWh "
        f"then, {best['saving_vs_now_pct']}% below now ({best['now_window']['mean']} gCO2/kWh) "
        f"and {best['saving_vs_day_mean_pct']}% below the day's mean of {best['day_mean']}.",
        "",
        "| | gCO2/kWh |",
        "|---|---:|",
        f"| cleanest 3 h | {window['mean']} |",
        f"| now | {best['now_window']['mean']} |",
        f"| day mean | {best['day_mean']} |",
        f"| low below | {best['thresholds']['p33']} |",
        f"| high above | {best['thresholds']['p66']} |",
        "",
        f"The forecast covers {best['day_points']} points of 15 minutes (synthetic data).",
    ]
    return "\n".join(lines * 2)


def _cpu_us(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        samples.append((time.process_time() - started) * 1e6)
    return statistics.median(samples)


async def _machine_cpu_ms(runs: int, *, checks: bool) -> float:
    orch = Orchestrator(
        ScriptedProvider([]),
        assistants(),
        budgets=BudgetConfig(grounding_checks=checks),
        tools=ToolRegistry([TOOL]),
        clock=lambda: BENCH_NOW,
    )
    started = time.process_time()
    for _ in range(runs):
        orch.provider = ScriptedProvider(four_call_script())
        result = await orch.ask("question")  # bench.orchestrator's question and script
        assert result.status == "completed"
    return (time.process_time() - started) * 1000 / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--machine-runs", type=int, default=300)
    args = parser.parse_args()
    outputs = _tool_outputs()
    report = _report(outputs)
    prompt = f"Question: {QUESTION}\nNow (UTC): {NOW}\n" + "Plan: carbon, report.\n" * 60

    def numbers() -> list[str]:
        tracker = GroundingTracker()
        tracker.add_text(QUESTION)
        tracker.add_text(NOW)
        tracker.add_round(CALLS, outputs)
        return ungrounded_numbers(report, tracker.sources())

    assert numbers() == [], numbers()  # the bench report is grounded
    rows = [
        ("numbers: sources + every figure of the report", _cpu_us(numbers, args.repeat)),
        ("echo: report vs its prompt", _cpu_us(lambda: echoes_prompt(report, prompt), args.repeat)),
        (
            "baseline: msgspec decode of the tool results",
            _cpu_us(lambda: [msgspec.json.decode(o) for o in outputs], args.repeat),
        ),
    ]
    size = sum(len(o) for o in outputs)
    print(f"tool results {size:,} bytes, report {len(report):,} chars, prompt {len(prompt):,}")
    print()
    print("| Check (once per answer) | CPU median | x baseline |")
    print("|---|---:|---:|")
    base = rows[-1][1]
    for name, value in rows:
        print(f"| {name} | {value:,.0f} µs | {value / base:.1f} |")
    on: list[float] = []
    off: list[float] = []
    for _ in range(3):
        off.append(asyncio.run(_machine_cpu_ms(args.machine_runs, checks=False)))
        on.append(asyncio.run(_machine_cpu_ms(args.machine_runs, checks=True)))
    print()
    print("| 4-step scripted run (machine only) | CPU ms/run, best of 3 | x off |")
    print("|---|---:|---:|")
    print(f"| grounding_checks = false | {min(off):.3f} | 1.00 |")
    print(f"| grounding_checks = true | {min(on):.3f} | {min(on) / min(off):.2f} |")


if __name__ == "__main__":
    main()
