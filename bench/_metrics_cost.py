"""The instrumentation's own CPU cost, timed exactly (run by ``bench.metrics`` in a subprocess).

Run with ``PROMETHEUS_MULTIPROC_DIR`` set, like a worker of ``python -m app``: every value
then lives in a memory-mapped file, the mode the service runs in. Two figures:

* **per SSE frame**: an ASGI app writing event frames of a ``text/event-stream`` response,
  with and without :class:`~app.metrics.http.HttpMetricsMiddleware`; the difference per frame.
* **per run**: what the metrics do for one real run, replayed: the run's own events (a run
  of the real app in process, ``openai_chat`` against the fake server), its model-call
  records, its ``POST /ask`` request, and its pool checkouts and checkins (counted on the
  engine while the run executed), each timed over many repetitions.

Prints one JSON object: ``frame_us``, ``run_us`` and the counts the run figure rests on.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app.main import create_app  # noqa: E402
from app.metrics.http import HttpMetricsMiddleware  # noqa: E402
from app.metrics.registry import Metrics  # noqa: E402
from app.metrics.runs import RunMetrics  # noqa: E402
from app.state import get_database  # noqa: E402
from orchestrator import Event, ModelCall, decode_envelope  # noqa: E402
from orchestrator.config import LLMConfig  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, Turn, serve_in_thread  # noqa: E402
from tests.support.slow_llm import PLAN, QUESTION  # noqa: E402
from tests.support.sse import parse_sse  # noqa: E402
from tests.support.webauthn import signed_in_user  # noqa: E402

FRAME = b'id: 7\nevent: agent_thinking\ndata: {"event":{"event_type":"agent_thinking"}}\n\n'


async def _sse_app(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
    )
    for _ in range(scope["frames"]):
        await send({"type": "http.response.body", "body": FRAME, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _json_app(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


async def _noop_send(message: Any) -> None:
    return None


async def _receive() -> Any:
    return {"type": "http.disconnect"}


async def frame_cost_us(metrics: Metrics, frames: int = 100_000, repeat: int = 5) -> float:
    wrapped = HttpMetricsMiddleware(_sse_app, metrics)
    scope: Any = {"type": "http", "method": "GET", "path": "/x", "headers": [], "frames": frames}
    best: dict[str, float] = {"bare": float("inf"), "wrapped": float("inf")}
    for _ in range(repeat):
        for name, app in (("bare", _sse_app), ("wrapped", wrapped)):
            start = time.process_time()
            await app(scope.copy(), _receive, _noop_send)
            best[name] = min(best[name], time.process_time() - start)
    return (best["wrapped"] - best["bare"]) / frames * 1e6


async def one_real_run() -> tuple[list[Event], int, int]:
    """A run of the real app (metrics off, so nothing is counted twice): its events, its
    model calls and the pool checkouts made while it ran."""
    fake = FakeOpenAI(default=Turn(text=msgspec.json.encode(PLAN).decode()))
    with serve_in_thread(fake) as base_url, tempfile.TemporaryDirectory() as directory:
        settings = make_settings(
            Path(directory),
            llm=LLMConfig(provider="openai_chat", base_url=f"{base_url}/v1", api_key="sk-t"),
        )
        settings = msgspec.structs.replace(
            settings, metrics=msgspec.structs.replace(settings.metrics, enabled=False)
        )
        app = create_app(settings)
        async with AsyncTestClient(app) as client:
            user = await signed_in_user(client, "bench@example.org")
            checkouts = 0

            def count(*_: Any) -> None:
                nonlocal checkouts
                checkouts += 1

            engine = get_database(app.state).engine.sync_engine
            event.listen(engine, "checkout", count)
            answer = (
                await client.post("/ask", json={"question": QUESTION}, headers=user.headers)
            ).json()
            event.remove(engine, "checkout", count)
            replay = await client.get(f"/runs/{answer['run_id']}/events", headers=user.headers)
    events = [decode_envelope(frame.data[0]) for frame in parse_sse(replay.text) if frame.id]
    return events, int(answer["usage"]["llm_calls"]), checkouts


async def run_cost_us(
    metrics: Metrics, events: list[Event], llm_calls: int, checkouts: int, repeat: int = 2000
) -> float:
    """The metrics work of one run (the request's includes a trivial app's own sends: an
    overestimate of a few µs)."""
    observer = RunMetrics(metrics)
    middleware = HttpMetricsMiddleware(_json_app, metrics)
    scope: Any = {"type": "http", "method": "POST", "path": "/ask", "headers": []}
    call = ModelCall(
        run_id="r",
        agent="report",
        provider="openai_chat",
        model="fake-step",
        duration_s=0.2,
        input_tokens=900,
        output_tokens=120,
        cost_usd=0.001,
    )
    checkout, checkin = metrics.db_pool_checked_out.inc, metrics.db_pool_checked_out.dec
    start = time.process_time()
    for n in range(repeat):
        run_id = f"run-{n}"
        observer.accepted(run_id)
        for item in events:
            observer.event(item)
        for _ in range(llm_calls):
            observer.model_call(call)
        for _ in range(checkouts):
            checkout()
            checkin()
        observer.left(run_id)
        await middleware(scope.copy(), _receive, _noop_send)
    return (time.process_time() - start) / repeat * 1e6


async def main() -> dict[str, Any]:
    metrics = Metrics()
    assert metrics.multiproc_dir is not None, "run with PROMETHEUS_MULTIPROC_DIR set"
    events, llm_calls, checkouts = await one_real_run()
    return {
        "frame_us": await frame_cost_us(metrics),
        "run_us": await run_cost_us(metrics, events, llm_calls, checkouts),
        "events_per_run": len(events),
        "llm_calls_per_run": llm_calls,
        "pool_checkouts_per_run": checkouts,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
