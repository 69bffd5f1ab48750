"""``python -m orchestrator eval``: the offline engine's answer-quality suite.

Each case is a real question run through the real orchestrator (planner, steps, tools, report)
on the offline engine with a pinned "now" and the synthetic grid, so every figure is
reproducible. A case states what the engine must have understood (the planner event's
``data.interpretation``: intents, places, periods, quantities, notices) and what the report must
say (phrases, figures with a tolerance, phrases it must not contain). A misread question
becomes a case here before it is fixed.

Case files are TOML (``[[case]]`` tables) or JSONL (one case object per line); the packaged suite
is ``orchestrator/eval_cases/*.toml``. The scorecard prints pass/total per category and every
failing case with what differed; the exit code is 0 only when every selected case passed.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import msgspec

from orchestrator.config import LLMConfig, OrchestratorSettings
from orchestrator.context import RunContext
from orchestrator.events import AgentResponse, Completed, ErrorEvent, Event
from orchestrator.machine import Orchestrator
from tools.catalog_types import Dataset

__all__ = ["CASES_DIR", "Case", "CaseResult", "Figure", "load_cases", "run_cases", "scorecard"]

CASES_DIR = Path(__file__).parent / "eval_cases"
DEFAULT_NOW = "2026-12-06T18:00:00+00:00"


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    """A number the report must state: the first match of ``pattern`` (one group, the number,
    commas allowed) must be within ``tolerance`` of ``value``."""

    pattern: str
    value: float
    tolerance: float = 0.0


class Expect(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    intents: list[str] | None = None  # every ask's intent, in order
    regions: list[str] | None = None  # the first ask's regions
    region_stated: bool | None = None
    periods: list[list[str]] | None = None  # the first ask's [start, end] pairs
    quantities: list[list[Any]] | None = None  # the first ask's [value, unit, activity]
    shares: list[float] | None = None
    duration_hours: float | None = None
    rank: str | None = None
    compare: str | None = None
    notices: list[str] = []  # substrings some notice must contain
    summary: list[str] = []  # substrings the "I read this as" line must contain
    contains: list[str] = []  # substrings of the report (case-insensitive)
    absent: list[str] = []  # substrings the report must not contain (case-insensitive)
    figures: list[Figure] = []
    status: str = "completed"  # or "failed"


class Case(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    category: str
    question: str
    now: str = DEFAULT_NOW
    dataset: str | None = None  # a CSV/JSON file beside the case file
    expect: Expect = Expect()
    source: str = ""  # the case file (filled in when loaded)


class CaseResult(msgspec.Struct, frozen=True):
    case: Case
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


class _File(msgspec.Struct):
    case: list[Case]


def load_cases(paths: Sequence[Path]) -> list[Case]:
    """Cases from TOML or JSONL files (a directory means its ``*.toml`` and ``*.jsonl``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted([*path.glob("*.toml"), *path.glob("*.jsonl")])
        else:
            files.append(path)
    cases: list[Case] = []
    for file in files:
        if file.suffix == ".jsonl":
            loaded = [
                msgspec.json.decode(line, type=Case)
                for line in file.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
        else:
            loaded = msgspec.convert(tomllib.loads(file.read_text(encoding="utf-8")), _File).case
        cases += [msgspec.structs.replace(c, source=str(file)) for c in loaded]
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case ids: {', '.join(duplicates)}")
    return cases


def _dataset(case: Case) -> Dataset | None:
    if case.dataset is None:
        return None
    from tools.analysis.upload import parse_upload

    path = Path(case.source).parent / case.dataset
    parsed = parse_upload(path.read_bytes(), path.name, 100_000)
    return parsed.to_dataset(f"eval-{path.stem}", path.name)


async def _run(orch: Orchestrator, case: Case) -> tuple[dict[str, Any] | None, Event | None]:
    interpretation: dict[str, Any] | None = None
    terminal: Event | None = None
    context = RunContext(now=datetime.fromisoformat(case.now), dataset=_dataset(case))
    async for event in orch.stream(case.question, context):
        if isinstance(event, AgentResponse) and event.agent_name == "planner":
            interpretation = event.data.interpretation
        terminal = event
    return interpretation, terminal


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def check(case: Case, interpretation: dict[str, Any] | None, terminal: Event | None) -> list[str]:
    """What differs between the run and the case's expectations (empty: the case passed)."""
    e = case.expect
    problems: list[str] = []
    if isinstance(terminal, Completed):
        status, report = "completed", terminal.data.full_content
    elif isinstance(terminal, ErrorEvent):
        status, report = "failed", f"{terminal.data.code}: {terminal.data.error}"
    else:
        status, report = "no terminal event", ""
    if status != e.status:
        problems.append(f"status {status!r}, expected {e.status!r} ({report[:200]})")
    asks: list[dict[str, Any]] = (interpretation or {}).get("asks") or [{}]
    first = asks[0]

    def differ(name: str, got: Any, want: Any) -> None:
        if want is not None and got != want:
            problems.append(f"{name}: got {got!r}, expected {want!r}")

    differ("intents", [a.get("intent") for a in asks], e.intents)
    differ("regions", first.get("regions"), e.regions)
    differ("region_stated", first.get("region_stated"), e.region_stated)
    differ(
        "periods",
        [[p["start"], p["end"]] for p in first.get("periods") or []],
        e.periods,
    )
    if e.quantities is not None:
        got = [
            [round(q["value"], 3), q["unit"], q["activity"]] for q in first.get("quantities") or []
        ]
        want = [[round(float(v), 3), u, a] for v, u, a in e.quantities]
        differ("quantities", got, want)
    differ("shares", first.get("shares_pct"), e.shares)
    differ("duration_hours", first.get("duration_hours"), e.duration_hours)
    differ("rank", first.get("rank"), e.rank)
    differ("compare", first.get("compare"), e.compare)
    notices = " | ".join((interpretation or {}).get("notices") or [])
    for text in e.notices:
        if text.lower() not in notices.lower():
            problems.append(f"no notice contains {text!r} (notices: {notices or 'none'})")
    summary = report.splitlines()[0] if report else ""
    for text in e.summary:
        if text.lower() not in summary.lower():
            problems.append(f"first line lacks {text!r}: {summary[:200]!r}")
    lower = report.lower()
    for text in e.contains:
        if text.lower() not in lower:
            problems.append(f"report lacks {text!r}")
    for text in e.absent:
        if text.lower() in lower:
            problems.append(f"report contains {text!r}, which it must not")
    for fig in e.figures:
        m = re.search(fig.pattern, report)
        if m is None:
            problems.append(f"no figure matches {fig.pattern!r}")
        elif abs(_number(m.group(1)) - fig.value) > fig.tolerance:
            problems.append(
                f"figure {fig.pattern!r}: got {m.group(1)}, expected {fig.value} ± {fig.tolerance}"
            )
    return problems


async def run_cases(
    cases: Sequence[Case], settings: OrchestratorSettings | None = None
) -> list[CaseResult]:
    """Run every case on one orchestrator (offline engine by default), in order."""
    settings = settings or OrchestratorSettings(llm=LLMConfig(provider="offline"))
    orch = Orchestrator.from_settings(settings)
    results: list[CaseResult] = []
    try:
        for case in cases:
            interpretation, terminal = await _run(orch, case)
            results.append(CaseResult(case, check(case, interpretation, terminal)))
    finally:
        await orch.aclose()
    return results


def scorecard(results: Sequence[CaseResult], out: TextIO) -> None:
    """Pass/total per category, then each failing case with what differed."""
    categories: dict[str, list[CaseResult]] = {}
    for result in results:
        categories.setdefault(result.case.category, []).append(result)
    width = max((len(c) for c in categories), default=8)
    out.write(f"{'category'.ljust(width)}  passed / total\n")
    for category in sorted(categories):
        items = categories[category]
        passed = sum(r.passed for r in items)
        out.write(f"{category.ljust(width)}  {passed:6d} / {len(items)}\n")
    total = sum(r.passed for r in results)
    out.write(f"{'all'.ljust(width)}  {total:6d} / {len(results)}\n")
    for result in results:
        if result.passed:
            continue
        out.write(f"\nFAIL {result.case.id} [{result.case.category}]: {result.case.question}\n")
        for problem in result.problems:
            out.write(f"  - {problem}\n")


def main(files: Sequence[Path], category: str | None, out: TextIO = sys.stdout) -> int:
    cases = load_cases(files or [CASES_DIR])
    if category is not None:
        cases = [c for c in cases if c.category == category]
    if not cases:
        print("error: no cases selected", file=sys.stderr)
        return 2
    results = asyncio.run(run_cases(cases))
    scorecard(results, out)
    return 0 if all(r.passed for r in results) else 1
