"""``python -m orchestrator ask`` as a user runs it: a real subprocess with the offline engine."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
from pathlib import Path

from orchestrator.events import Completed, ErrorEvent, ToolExecution, decode_event
from tests.support.machine import check_invariants

NOW = "2026-03-18T09:00:00+00:00"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "APP_CONFIG"}
    return {**env, **extra}


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
    assert events[-1].data.full_content.startswith("## Executive summary")
    tools = {e.data.tool for e in events if isinstance(e, ToolExecution)}
    assert "grid_best_window" in tools
    assert any(source.synthetic for source in events[-1].data.sources)


def test_human_mode_prints_progress_lines_then_the_report(tmp_path: Path) -> None:
    done = _cli(tmp_path, "hello there")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "  0% Run started"
    assert lines[1] == "  1% Planner: choosing the steps for this question"
    completed_at = next(i for i, line in enumerate(lines) if line.startswith("100% Run completed"))
    report = "\n".join(lines[completed_at + 1 :]).strip()
    assert report
    assert "run.transition" not in done.stdout  # logs go to stderr, and only warnings


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
    # A real pseudo-terminal: the CLI decides by isatty(), as it does for a user.
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ask", "hello there", "--now", NOW],
        cwd=tmp_path,
        env=_env(),
        stdout=follower,
        stderr=subprocess.DEVNULL,
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
