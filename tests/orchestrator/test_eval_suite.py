"""The answer-quality suite runs in CI: every packaged case must pass, and the runner itself
must report a misread question as a failure (not silently pass it)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from orchestrator.evals import CASES_DIR, Case, Expect, Figure, load_cases, run_cases, scorecard


@pytest.mark.timeout(600)  # 268 offline runs: the default 120 s is tight on a loaded machine
async def test_every_packaged_case_passes() -> None:
    cases = load_cases([CASES_DIR])
    assert len(cases) >= 250
    results = await run_cases(cases)
    out = io.StringIO()
    scorecard(results, out)
    failed = [r for r in results if not r.passed]
    assert not failed, out.getvalue()


async def test_a_wrong_expectation_is_reported_with_what_differed() -> None:
    case = Case(
        id="wrong",
        category="footprint",
        question="What is the carbon footprint of 1,000 kWh of electricity in Ireland?",
        expect=Expect(
            intents=["grid_timing"],
            figures=[Figure(pattern=r"\(([\d,.]+) kgCO2e\) from", value=999.0, tolerance=1.0)],
            absent=["kgCO2e"],
        ),
    )
    [result] = await run_cases([case])
    assert not result.passed
    text = "\n".join(result.problems)
    assert "intents: got ['footprint'], expected ['grid_timing']" in text
    assert "got 255, expected 999.0" in text
    assert "report contains 'kgCO2e'" in text


def test_cases_load_from_jsonl_and_duplicate_ids_are_refused(tmp_path: Path) -> None:
    line = '{"id": "a", "category": "greeting", "question": "hi"}\n'
    (tmp_path / "one.jsonl").write_text(line)
    assert [c.id for c in load_cases([tmp_path])] == ["a"]
    (tmp_path / "two.jsonl").write_text(line)
    with pytest.raises(ValueError, match="duplicate case ids: a"):
        load_cases([tmp_path])
