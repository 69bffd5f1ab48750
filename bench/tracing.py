"""What tracing costs the real service: CPU per run and per SSE frame, off / on / no OTel.

Three builds of the service run side by side, in the same run of this script, and get the
same workload interleaved request by request (the order rotating each round), so a machine
shared with other work loads them equally:

* ``before``: the build without OpenTelemetry (a source tree given with ``--baseline-src``,
  e.g. ``git archive 090a9d5 | tar -x -C /tmp/sca-before``);
* ``off``: this build, ``[telemetry] tracing = false`` (the default);
* ``on``: this build, tracing on, exporting OTLP/HTTP (protobuf) to a sink in this process
  that counts and discards the spans, ``OTEL_BSP_SCHEDULE_DELAY=500``.

Each one is its own ``python -m app`` (granian, one worker, SQLite) with the ``openai_chat``
provider against the fake OpenAI server at zero latency (three model calls per run, the
production path; ``tests/support/slow_llm.py``), so a run's CPU is the service's own work,
not an offline engine's computation that would hide the tracing cost. Measured as the server
process tree's CPU time (all threads: the span exporter's too):

1. **per run**: ``--runs`` sequential ``POST /ask-stream`` read to the end, CPU divided by
   runs (and by the frames they streamed);
2. **per replayed SSE frame**: ``--replays`` ``GET /runs/{id}/events`` of finished runs from
   the first event (with tracing on, each request span gets a Link to the run's span), CPU
   divided by frames.

Before reading the CPU clock the script waits for the exporter's batch to leave (the same
wait in every build).

3. **the machine alone** (``--machine-runs``): the orchestrator's own overhead per 4-step run
   (``bench/orchestrator.py``'s scripted zero-latency run: 13 spans), in a process per build,
   best of 5: what a span costs next to the machine's bookkeeping, with no I/O to hide it.

Prints Markdown for BENCHMARKS.md::

    .venv/bin/python -m bench.tracing --baseline-src /tmp/sca-before [--runs 40]
        [--replays 200] [--repeat 3] [--machine-runs 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sse import cpu_seconds  # noqa: E402
from tests.live_server import TEST_JWT_SECRET, free_port  # noqa: E402
from tests.support.slow_llm import QUESTION, provider_env, slow_fake_llm  # noqa: E402
from tests.support.sse import parse_sse  # noqa: E402

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
EXPORT_WAIT_S = 1.5


@dataclass
class Figures:
    run_ms: list[float] = field(default_factory=list)
    live_frame_us: list[float] = field(default_factory=list)
    replay_frame_us: list[float] = field(default_factory=list)
    frames_per_run: float = 0.0


class _Sink:
    """An OTLP/HTTP endpoint that counts requests and bytes and discards them."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def _server(src: Path, directory: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``python -m app`` from ``src`` (its own packages first); yields (base URL, pid)."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APP__", "OTEL_"))}
    full = {
        **base,
        "PYTHONPATH": str(src),
        "JWT_SECRET": TEST_JWT_SECRET,
        "APP__LOGGING__FORMAT": "json",
        "APP__LOGGING__LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log = directory / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=src,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), _NO_PROXY.open(f"{url}/health", timeout=2) as ok:
                if ok.status == 200:
                    break
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _token(src: Path, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APP__", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "bench@example.org"],
        cwd=src,
        env={**base, "PYTHONPATH": str(src), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def _ask(client: httpx.Client, headers: dict[str, str]) -> tuple[str, int]:
    response = client.post("/ask-stream", json={"question": QUESTION}, headers=headers)
    frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
    if response.status_code != 200 or not frames or frames[-1].event != "completed":
        raise RuntimeError(f"run failed: {response.status_code} {response.text[-500:]}")
    return response.headers["x-run-id"], len(frames)


@dataclass
class _Live:
    """One build's running server, its client and its runs."""

    name: str
    pid: int
    client: httpx.Client
    headers: dict[str, str]
    runs: list[str] = field(default_factory=list)
    frames: int = 0
    replayed: int = 0
    cpu: float = 0.0


def _interleaved(servers: list[_Live], rounds: int, work: Callable[[_Live, int], None]) -> None:
    """``rounds`` rounds of ``work`` on every server, the order rotating each round, so the
    builds share the machine's load equally; each server's CPU over the loop, less what it
    spends idle for as long (heartbeat, lease sweeps), lands in ``cpu``."""
    idle_start = [cpu_seconds(server.pid) for server in servers]
    time.sleep(EXPORT_WAIT_S)
    idle = [cpu_seconds(s.pid) - start for s, start in zip(servers, idle_start, strict=True)]
    started = time.monotonic()
    before = [cpu_seconds(server.pid) for server in servers]
    for index in range(rounds):
        shift = index % len(servers)
        for server in servers[shift:] + servers[:shift]:
            work(server, index)
    time.sleep(EXPORT_WAIT_S)  # the exporter's batch leaves (the same wait for every build)
    elapsed = time.monotonic() - started
    for server, start, idle_cpu in zip(servers, before, idle, strict=True):
        server.cpu = cpu_seconds(server.pid) - start - idle_cpu * elapsed / EXPORT_WAIT_S


def _run_once(server: _Live, _index: int) -> None:
    run_id, count = _ask(server.client, server.headers)
    server.runs.append(run_id)
    server.frames += count


def _replay_once(server: _Live, index: int) -> None:
    response = server.client.get(
        f"/runs/{server.runs[index % len(server.runs)]}/events",
        headers={**server.headers, "Last-Event-ID": "0"},
    )
    server.replayed += sum(1 for frame in parse_sse(response.text) if frame.id is not None)


def measure(
    variants: list[tuple[str, Path, dict[str, str]]],
    args: argparse.Namespace,
    results: dict[str, Figures],
) -> None:
    """Start every build's server, then run the workloads on all of them interleaved."""
    with contextlib.ExitStack() as stack:
        servers: list[_Live] = []
        for name, src, env in variants:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sca-bt-")))
            database = {"DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'bench.db'}"}
            url, pid = stack.enter_context(_server(src, directory, {**env, **database}))
            client = stack.enter_context(httpx.Client(base_url=url, timeout=60, trust_env=False))
            headers = {"Authorization": f"Bearer {_token(src, database)}"}
            servers.append(_Live(name, pid, client, headers))
        for server in servers:
            for _ in range(5):  # warm-up: imports, first queries, connection pools
                _ask(server.client, server.headers)
        _interleaved(servers, args.runs, _run_once)
        for server in servers:
            figures = results[server.name]
            figures.run_ms.append(server.cpu / args.runs * 1000)
            figures.live_frame_us.append(server.cpu / server.frames * 1e6)
            figures.frames_per_run = server.frames / args.runs
        _interleaved(servers, args.replays, _replay_once)
        for server in servers:
            results[server.name].replay_frame_us.append(server.cpu / server.replayed * 1e6)


_MACHINE = """
import asyncio, sys
import bench.orchestrator as b
{setup}
b.configure_logs("filtered")
n = {runs}
asyncio.run(b.machine_runs(200))
print(b.best_of(5, lambda: b.machine_runs(n)) / n * 1000)
{teardown}
"""
_SDK_SETUP = """
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint="{endpoint}")))
trace.set_tracer_provider(provider)
"""


def machine_ms(src: Path, runs: int, sink: _Sink | None) -> float:
    """The machine's CPU ms per scripted run in a fresh process of ``src`` (sink: traced)."""
    setup = _SDK_SETUP.format(endpoint=f"{sink.url}/v1/traces") if sink is not None else ""
    code = _MACHINE.format(
        setup=setup, runs=runs, teardown="provider.shutdown()" if sink is not None else ""
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APP__", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=src,
        env={**base, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[0])


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}x" if base else "n/a"


def _machine_table(machine: dict[str, list[float]], args: argparse.Namespace) -> list[str]:
    floor = statistics.median(machine["before"])
    lines = [
        f"Machine alone, 4-step scripted run (13 spans), best of 5 x {args.machine_runs} "
        f"runs, {args.repeat} processes per build:",
        "",
        "| build | machine CPU per run, median (min-max) | x before |",
        "|---|---:|---:|",
    ]
    for name, samples in machine.items():
        lines.append(
            f"| {name} | {statistics.median(samples):.3f} ms "
            f"({min(samples):.3f}-{max(samples):.3f}) | "
            f"{_ratio(statistics.median(samples), floor)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--machine-runs", type=int, default=2000, help="0: skip part 3")
    args = parser.parse_args(argv)
    sink = _Sink()
    results = {name: Figures() for name in ("before", "off", "on")}
    with (
        tempfile.TemporaryDirectory(prefix="sca-bench-llm-") as tmp,
        slow_fake_llm(Path(tmp), latency_ms=0) as llm,
    ):
        llm_env = provider_env(llm)
        variants: list[tuple[str, Path, dict[str, str]]] = [
            ("before", args.baseline_src.resolve(), llm_env),
            ("off", ROOT, llm_env),
            (
                "on",
                ROOT,
                {
                    **llm_env,
                    "APP__TELEMETRY__TRACING": "true",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                    "OTEL_BSP_SCHEDULE_DELAY": "500",
                    "OTEL_SERVICE_NAME": "sca-bench",
                },
            ),
        ]
        for repeat in range(args.repeat if args.runs else 0):  # --runs 0: the machine only
            print(f"repeat {repeat + 1}", file=sys.stderr, flush=True)
            measure(variants, args, results)
    machine: dict[str, list[float]] = {"before": [], "off": [], "on": []}
    builds: list[tuple[str, Path, _Sink | None]] = [
        ("before", args.baseline_src.resolve(), None),
        ("off", ROOT, None),
        ("on", ROOT, sink),
    ]
    for repeat in range(args.repeat if args.machine_runs else 0):
        shift = repeat % len(builds)  # the order rotates, as for the servers
        for name, src, traced in builds[shift:] + builds[:shift]:
            machine[name].append(machine_ms(src, args.machine_runs, traced))
    sink.close()
    base = results["before"]
    if not base.run_ms:
        return "\n".join(_machine_table(machine, args))
    lines = [
        f"{args.repeat} repeats x {args.runs} runs + {args.replays} replays per build, "
        f"{base.frames_per_run:.1f} SSE frames per run; median of the repeats "
        "(server process CPU, all threads).",
        "",
        "| build | CPU per run | x before | CPU per live frame | CPU per replayed frame "
        "| x before |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base_run = statistics.median(base.run_ms)
    base_replay = statistics.median(base.replay_frame_us)
    for name, figures in results.items():
        run_ms = statistics.median(figures.run_ms)
        replay = statistics.median(figures.replay_frame_us)
        spread = f" ({min(figures.run_ms):.2f}-{max(figures.run_ms):.2f})"
        lines.append(
            f"| {name} | {run_ms:.2f} ms{spread} | {_ratio(run_ms, base_run)} | "
            f"{statistics.median(figures.live_frame_us):.0f} µs | {replay:.1f} µs | "
            f"{_ratio(replay, base_replay)} |"
        )
    lines += ["", f"OTLP export requests received by the sink (tracing on): {sink.requests}."]
    if machine["before"]:
        lines += ["", *_machine_table(machine, args)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
