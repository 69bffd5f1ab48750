"""``python -m orchestrator ask`` as a user runs it: a real subprocess with the offline engine.

The subprocess imports this checkout's packages (``PYTHONPATH``), not whichever copy the
virtual environment has installed.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator.events import Completed, ErrorEvent, ToolExecution, decode_event
from orchestrator.questions import MAX_QUESTION_CHARS
from tests.support.machine import check_invariants
from tools.render.labels import SYNTHETIC_LABEL

NOW = "2026-03-18T09:00:00+00:00"
ROOT = Path(__file__).resolve().parents[2]
GRID_QUESTION = "When is the grid cleanest tomorrow in Ireland?"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "APP_CONFIG"}
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, **extra}


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "ask", *args, "--now", NOW],
        cwd=tmp_path,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_lines_are_the_run_events(tmp_path: Path) -> None:
    done = _cli(tmp_path, "When is the grid cleanest tomorrow in Ireland?", "--json")
    assert done.returncode == 0, done.stderr
    events = [decode_event(line) for line in done.stdout.splitlines()]
    check_invariants(events)
    assert isinstance(events[-1], Completed)
    report = events[-1].data.full_content
    assert report.startswith("I read this as: the cleanest 3-hour window for tomorrow")
    assert "## Executive summary" in report
    tools = {e.data.tool for e in events if isinstance(e, ToolExecution)}
    assert "grid_best_window" in tools
    assert any(source.synthetic for source in events[-1].data.sources)


def test_human_mode_prints_progress_on_stderr_and_only_the_report_on_stdout(
    tmp_path: Path,
) -> None:
    done = _cli(tmp_path, "hello there")
    assert done.returncode == 0, done.stderr
    progress = done.stderr.splitlines()
    assert progress[0] == "  0% Run started"
    assert progress[1] == "  1% Planner: choosing the steps for this question"
    assert any(line.startswith("100% Run completed") for line in progress)
    # Honest accounting of an offline run: no language model, CPU time measured.
    (usage,) = [line for line in progress if line.startswith("usage: ")]
    assert "no language model: 0 LLM tokens, no LLM cost" in usage
    assert "ms CPU measured" in usage
    assert "estimated from the CPU time" in usage
    assert done.stdout.startswith("Hello! I'm Sustainable City AI.")
    assert "% Run" not in done.stdout
    assert "run.transition" not in done.stderr  # logs: errors only unless --verbose


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "error [invalid_question]: The question must not be empty."),
        ("   ", "error [invalid_question]: The question must not be empty."),
        (
            "x" * (MAX_QUESTION_CHARS + 1),
            "error [question_too_long]: The question has 4001 characters; the limit is 4000.",
        ),
    ],
)
def test_a_question_the_api_would_refuse_is_a_usage_error(
    tmp_path: Path, question: str, message: str
) -> None:
    done = _cli(tmp_path, question)
    assert done.returncode == 2
    assert done.stderr.strip() == message
    assert done.stdout == ""


def test_the_api_and_the_cli_share_the_question_limit() -> None:
    from app.settings import RunSettings

    assert RunSettings().max_question_chars == MAX_QUESTION_CHARS == 4000


def test_out_writes_the_report_and_every_chart(tmp_path: Path) -> None:
    out = tmp_path / "run" / "files"
    done = _cli(tmp_path, GRID_QUESTION, "--out", str(out))
    assert done.returncode == 0, done.stderr
    charts = sorted(out.glob("*.svg"))
    assert charts, "a grid question draws a chart"
    assert sorted(p.name for p in out.iterdir()) == sorted(["report.md", *(c.name for c in charts)])
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.startswith(done.stdout)  # the report, then links to its charts
    for chart in charts:
        svg = chart.read_text(encoding="utf-8")
        root = ET.fromstring(svg)  # noqa: S314  # the run's own chart
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert SYNTHETIC_LABEL in svg  # the default grid source is synthetic
        assert f"]({chart.name})" in report
    assert f"wrote {out / 'report.md'}" in done.stderr


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    done = _cli(tmp_path, GRID_QUESTION, "--out", str(blocker))
    assert done.returncode == 2
    assert f"error: cannot create output directory {blocker}" in done.stderr
    assert done.stdout == ""


def _with_reader_gone(tmp_path: Path, *args: str, read_lines: int) -> tuple[int, str]:
    """Run the CLI, read ``read_lines`` lines of stdout, then close it (as ``| head`` does)."""
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ask", *args, "--now", NOW],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        for _ in range(read_lines):
            assert process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        return process.wait(timeout=60), stderr


@pytest.mark.parametrize(("mode", "read_lines"), [("--json", 1), ("--verbose", 0)])
def test_a_closed_pipe_ends_the_run_quietly(tmp_path: Path, mode: str, read_lines: int) -> None:
    code, stderr = _with_reader_gone(tmp_path, GRID_QUESTION, mode, read_lines=read_lines)
    assert code == 141
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "BrokenPipeError" not in stderr


def test_dataset_is_analysed(tmp_path: Path) -> None:
    data = tmp_path / "energy.csv"
    data.write_text(
        "month,electricity_kwh\n2025-01,1200\n2025-02,1100\n2025-03,1300\n2025-04,900\n"
    )
    done = _cli(tmp_path, "Analyse my uploaded data", "--dataset", str(data), "--json")
    assert done.returncode == 0, done.stderr
    events = [decode_event(line) for line in done.stdout.splitlines()]
    tools = [e.data.tool for e in events if isinstance(e, ToolExecution)]
    assert "analyze_table" in tools
    assert isinstance(events[-1], Completed)
    assert "energy.csv" in events[-1].data.full_content


def test_failed_run_exits_non_zero_with_the_error_code(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[orchestrator]\nmax_messages_per_run = 1\n")
    done = _cli(tmp_path, "When is the grid cleanest tomorrow?")
    assert done.returncode == 1
    assert "error [budget_exhausted]" in done.stderr
    json_done = _cli(tmp_path, "When is the grid cleanest tomorrow?", "--json")
    assert json_done.returncode == 1
    last = decode_event(json_done.stdout.splitlines()[-1])
    assert isinstance(last, ErrorEvent)
    assert last.data.code == "budget_exhausted"


def test_bad_configuration_and_missing_dataset_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[llm]\nprovider = "nope"\n')
    done = _cli(tmp_path, "q", "--config", str(bad))
    assert done.returncode == 2
    assert "invalid configuration" in done.stderr
    assert "$.llm.provider" in done.stderr
    missing = _cli(tmp_path, "q", "--dataset", str(tmp_path / "missing.csv"))
    assert missing.returncode == 2
    assert "cannot read dataset" in missing.stderr


def test_network_providers_need_their_settings(tmp_path: Path) -> None:
    done = _cli(tmp_path, "q", "--provider", "openai")
    assert done.returncode == 2
    assert "set OPENAI_API_KEY" in done.stderr
    chat = _cli(tmp_path, "q", "--provider", "openai_chat")
    assert chat.returncode == 2
    assert "set OPENAI_BASE_URL" in chat.stderr


def test_app_config_names_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("[orchestrator]\nmax_messages_per_run = 1\n")
    done = _cli(tmp_path, "When is the grid cleanest tomorrow?", APP_CONFIG=str(config))
    assert done.returncode == 1
    assert "error [budget_exhausted]" in done.stderr


def test_a_terminal_gets_progress_bars(tmp_path: Path) -> None:
    # A real pseudo-terminal on stderr: the CLI decides by isatty(), as it does for a user.
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ask", "hello there", "--now", NOW],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=follower,
    ) as process:
        os.close(follower)
        output = b""
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(leader, 65536):
                output += chunk
        assert process.wait(timeout=60) == 0
    os.close(leader)
    lines = output.decode().splitlines()
    assert lines[0] == "[" + "." * 20 + "]   0% Run started"
    assert any(line.startswith("[" + "#" * 20 + "] 100% Run completed") for line in lines)


def test_trace_prints_the_span_tree_with_timings_on_stderr(tmp_path: Path) -> None:
    done = _cli(tmp_path, GRID_QUESTION, "--trace")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("I read this as:")  # stdout: still only the report
    lines = done.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"trace [0-9a-f]{32}", line))
    tree = lines[start + 1 : next(i for i, line in enumerate(lines) if line.startswith("usage:"))]
    row = re.compile(r"^(?P<name>.+?)\s+(?P<ms>\d+\.\d) ms(?:  (?P<details>.*))?$")
    rows = [row.fullmatch(line) for line in tree]
    assert all(rows), tree
    names = [match["name"] for match in rows if match]
    assert names[0] == "invoke_agent orchestrator"
    assert names[1] == "├─ step planner"
    assert names[2] == "│  └─ chat gpt-4.1-mini"
    assert "├─ step carbon" in names
    assert "│  ├─ execute_tool grid_best_window" in names
    assert names[-1].startswith("   └─ chat ")  # the last step's last call
    first = rows[0]
    assert first is not None
    assert first["details"].startswith("completed")
    durations = [float(match["ms"]) for match in rows if match]
    assert durations[0] == max(durations)  # the run contains everything
    assert "offline  model=offline-engine" in tree[2]


def test_verbose_logs_carry_trace_ids_when_tracing(tmp_path: Path) -> None:
    done = _cli(tmp_path, "hello there", "--trace", "--verbose")
    assert done.returncode == 0, done.stderr
    trace_line = next(line for line in done.stderr.splitlines() if line.startswith("trace "))
    trace_id = trace_line.split()[1]
    transitions = [line for line in done.stderr.splitlines() if "run.transition" in line]
    assert transitions
    assert all(f"trace_id={trace_id}" in line for line in transitions)
    assert all(re.search(r"span_id=[0-9a-f]{16}", line) for line in transitions)
    plain = _cli(tmp_path, "hello there", "--verbose")
    assert "trace_id=" not in plain.stderr
