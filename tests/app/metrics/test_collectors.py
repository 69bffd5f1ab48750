"""The collectors on their own: label bounds, what each input counts, and multiprocess sums.

The multiprocess tests run real worker processes (``python -c``) writing to one directory,
as granian's workers do, and read the sum the way ``/metrics`` does.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.response import Stream
from litestar.testing import AsyncTestClient

from app.metrics import multiproc
from app.metrics.http import UNMATCHED, HttpMetricsMiddleware
from app.metrics.registry import OTHER, LabelGuard, Metrics
from app.metrics.runs import RunMetrics
from orchestrator import ModelCall, ToolExecution, ToolExecutionData
from tests.app.metrics.support import Samples
from tests.live_server import REPO_ROOT


def _samples(metrics: Metrics) -> Samples:
    return Samples(metrics.render().decode())


# -- label bounds ---------------------------------------------------------------------------


def test_a_label_guard_lets_the_first_values_through_and_folds_the_rest() -> None:
    guard = LabelGuard(3)
    assert [guard(v) for v in ["a", "b", "a", "c", "d", "e", "b"]] == [
        "a",
        "b",
        "a",
        "c",
        OTHER,
        OTHER,
        "b",
    ]


def test_a_label_guard_holds_its_bound_under_threads() -> None:
    guard = LabelGuard(10)
    seen: set[str] = set()
    lock = threading.Lock()

    def work(offset: int) -> None:
        for i in range(200):
            value = guard(f"v{offset * 1000 + i}")
            with lock:
                seen.add(value)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen - {OTHER}) == 10
    assert OTHER in seen


def test_model_names_a_server_invents_cannot_grow_the_series_without_bound() -> None:
    metrics = Metrics()
    observer = RunMetrics(metrics)
    for n in range(100):
        observer.model_call(
            ModelCall(
                run_id="r",
                agent="report",
                provider="openai",
                model=f"model-{n}",
                duration_s=0.1,
                input_tokens=1,
            )
        )
    samples = _samples(metrics)
    models = samples.label_values("sca_llm_calls_total", "model")
    assert len(models) == metrics.models.limit + 1
    assert OTHER in models
    assert samples.value("sca_llm_calls_total") == 100
    assert samples.value("sca_llm_calls_total", model=OTHER) == 100 - metrics.models.limit


# -- what the run collectors count ------------------------------------------------------------


def test_offline_turns_are_not_llm_calls_but_their_failures_are_errors() -> None:
    metrics = Metrics()
    observer = RunMetrics(metrics)
    base: dict[str, Any] = {"run_id": "r", "agent": "report", "provider": "offline", "model": "o"}
    observer.model_call(ModelCall(**base, duration_s=0.01, language_model=False))
    observer.model_call(ModelCall(**base, duration_s=0.01, error_code="llm_timeout", retrying=True))
    samples = _samples(metrics)
    assert samples.value("sca_llm_calls_total") == 0
    assert samples.value("sca_llm_tokens_total") == 0
    assert samples.value("sca_llm_errors_total", code="llm_timeout") == 1
    assert samples.value("sca_llm_retries_total", code="llm_timeout") == 1


def _tool_event(status: str, duration_ms: float | None) -> ToolExecution:
    return ToolExecution(
        run_id="r",
        seq=3,
        timestamp="2026-01-01T00:00:00.000+00:00",
        agent_name="carbon",
        message="tool",
        data=ToolExecutionData(
            progress=20,
            step="carbon",
            call_id="c1",
            tool="grid_intensity",
            status=status,  # type: ignore[arg-type]
            arguments={},
            duration_ms=duration_ms,
        ),
    )


def test_tool_calls_are_counted_when_they_end_not_when_they_start() -> None:
    metrics = Metrics()
    observer = RunMetrics(metrics)
    observer.event(_tool_event("started", None))
    observer.event(_tool_event("finished", 250.0))
    observer.event(_tool_event("failed", 1000.0))
    samples = _samples(metrics)
    assert samples.value("sca_tool_calls_total", tool="grid_intensity") == 2
    assert samples.value("sca_tool_calls_total", status="failed") == 1
    assert samples.value("sca_tool_duration_seconds_sum", tool="grid_intensity") == 1.25
    assert samples.value("sca_tool_duration_seconds_bucket", le="0.25") == 1


def test_active_runs_go_down_once_per_run_however_often_it_is_said_to_end() -> None:
    metrics = Metrics()
    observer = RunMetrics(metrics)
    observer.accepted("a")
    observer.accepted("b")
    observer.left("a")
    observer.left("a")
    assert _samples(metrics).value("sca_runs_active") == 1
    assert _samples(metrics).value("sca_runs_started_total") == 2


# -- the HTTP wrapper on a small app ------------------------------------------------------------


async def _frames() -> Any:
    yield b"retry: 3000\n\n"
    yield b"id: 1\nevent: started\ndata: {}\n\n"
    yield b": keep-alive\n\n"
    yield b"id: 2\nevent: completed\ndata: {}\n\n"


@get("/stream/{name:str}", sync_to_thread=False)
def stream(name: FromPath[str]) -> Stream:
    return Stream(_frames(), media_type="text/event-stream")


@get("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("bug")


async def test_sse_frames_are_classified_and_subscribers_return_to_zero() -> None:
    metrics = Metrics()
    app = Litestar([stream, boom], debug=False, logging_config=None)
    app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler, metrics)
    async with AsyncTestClient(app) as client:
        for name in ("a", "b"):
            assert (await client.get(f"/stream/{name}")).status_code == 200
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/nowhere")).status_code == 404
    samples = _samples(metrics)
    assert samples.value("sca_sse_frames_total", kind="event") == 4
    assert samples.value("sca_sse_frames_total", kind="keepalive") == 2
    assert samples.value("sca_sse_frames_total", kind="control") == 2
    assert samples.value("sca_sse_subscribers") == 0
    assert samples.value("sca_http_requests_total", route="/stream/{name}") == 2
    assert samples.value("sca_http_requests_total", route="/boom", status="500") == 1
    assert samples.value("sca_http_requests_total", route=UNMATCHED, status="404") == 1


# -- multiprocess mode ------------------------------------------------------------------------

_WORKER = """
import sys
from app.metrics.registry import Metrics
m = Metrics()
m.runs_completed.inc(int(sys.argv[1]))
m.runs_active.inc(2)
m.llm_tokens.labels(provider="p", model="m", kind="input").inc(10)
m.http_duration.labels(route="/ask", method="POST").observe(0.2)
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[str]]]]:
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(count)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for count in (3, 4)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        yield directory, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


def test_one_scrape_sums_every_worker_and_drops_a_dead_ones_live_gauges(
    workers: tuple[Path, list[subprocess.Popen[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, (first, second) = workers
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    reader = Metrics()  # what a worker answering /metrics does
    assert reader.multiproc_dir == str(directory)
    both = _samples(reader)
    assert both.value("sca_runs_completed_total") == 7
    assert both.value("sca_runs_active") == 4
    assert both.value("sca_llm_tokens_total", kind="input") == 20
    assert both.value("sca_http_request_duration_seconds_count", route="/ask") == 2

    assert first.stdin is not None
    first.stdin.write("\n")
    first.stdin.flush()
    first.wait(timeout=10)
    after = _samples(reader)
    # The dead worker's counters stay counted; its share of the live gauge is gone.
    assert after.value("sca_runs_completed_total") == 7
    assert after.value("sca_runs_active") == 2
    assert not list(directory.glob(f"gauge_livesum_{first.pid}.db"))
    assert list(directory.glob(f"gauge_livesum_{second.pid}.db"))


def test_prepare_makes_a_fresh_directory_or_empties_the_operators(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    path, created = multiproc.prepare(env)
    assert created
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(path)
    assert path.is_dir()
    assert list(path.iterdir()) == []
    multiproc.cleanup(path, created)
    assert not path.exists()

    own = tmp_path / "own"
    own.mkdir()
    (own / "counter_123.db").write_bytes(b"old")
    (own / "notes.txt").write_text("kept")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(own)}
    path, created = multiproc.prepare(env)
    assert (path, created) == (own, False)
    assert sorted(p.name for p in own.iterdir()) == ["notes.txt"]
    multiproc.cleanup(path, created)
    assert own.exists()
