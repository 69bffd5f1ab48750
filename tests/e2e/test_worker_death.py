"""Durable runs for real: the service process dies or stops mid-run, the runs finish anyway.

Real processes (``python -m app`` → granian) over real sockets, made slow honestly by the fake
OpenAI server (a separate process answering each model call after ``LATENCY_MS``; it records
every request, so the calls each run's steps cost are counted, not assumed). Every run asks
a question of its own, which is how a recorded request is traced to its run; a run makes
three calls: the plan, the carbon step and the report step.

* SQLite, one process: ``kill -9`` mid-run, start it again on the same file: the new process
  resumes the runs at start-up and they complete.
* PostgreSQL + Redis, two instances (one granian worker each, as two hosts or a rolling
  restart would be): 20 runs execute on instance A, their SSE subscribers follow them on
  instance B. SIGKILL A: B claims every run and completes it; SIGTERM A: A hands every run
  over at its next step boundary, B completes it, nothing is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_TEST_URL, service_unavailable
from tests.live_server import LiveServer, start_server
from tests.support.backends import throwaway_database
from tests.support.slow_llm import PLANNER_MODEL, QUESTION, provider_env, slow_fake_llm
from tests.support.sse import SSEFrame, parse_sse, split_blocks
from tests.support.webauthn import AuthedUser, signed_in_user

pytestmark = [pytest.mark.server]

LATENCY_MS = 1200  # per model call: a run lasts about 3.6 s
RUNS = 20


@pytest.fixture(scope="module")
def fake_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with slow_fake_llm(
        tmp_path_factory.mktemp("durable-llm"), latency_ms=LATENCY_MS, event_delay_ms=10
    ) as base_url:
        yield base_url


def _env(fake_llm: str, **extra: str) -> dict[str, str]:
    return {
        **provider_env(fake_llm),
        "APP__RUNS__MAX_CONCURRENT_PER_USER": str(RUNS),
        "APP__RUNS__HEARTBEAT_S": "0.3",
        # Long enough that a live instance loaded by 20 runs keeps its leases; a dead one of
        # this host is seen at once (its PID), of another host after this lease.
        "APP__RUNS__LEASE_S": "10",
        "APP__RATE_LIMIT__CEREMONY_PER_MINUTE": "10000",
        # The fake's canned report quotes figures no tool returned: the grounding checks
        # would ask for it again, and these tests count each step's model calls.
        "APP__ORCHESTRATOR__GROUNDING_CHECKS": "false",
        **extra,
    }


# --- helpers -------------------------------------------------------------------------------


def _kill_tree(server: LiveServer) -> None:
    """SIGKILL the server and its granian worker: no shutdown code runs at all."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in [pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    server.process.wait(timeout=10)


class Follower:
    """Follows one run's events like a client: reconnects with ``Last-Event-ID`` when the
    connection breaks, until the terminal event; notes when each frame arrived."""

    def __init__(self, http: httpx.AsyncClient, user: AuthedUser, run_id: str) -> None:
        self.http, self.user, self.run_id = http, user, run_id
        self.events: list[SSEFrame] = []
        self.arrivals: list[float] = []
        self.reconnects = 0

    def saw(self, event: str, agent: str | None = None) -> bool:
        return any(
            f.event == event and (agent is None or f.event_body["agent_name"] == agent)
            for f in self.events
        )

    async def follow(self) -> None:
        while not (self.events and self.events[-1].event in ("completed", "error")):
            last = int(self.events[-1].id or 0) if self.events else 0
            headers = {**self.user.headers, "Last-Event-ID": str(last)}
            try:
                async with self.http.stream(
                    "GET", f"/runs/{self.run_id}/events", headers=headers
                ) as response:
                    assert response.status_code == 200, await response.aread()
                    buffer, seen = "", 0
                    async for chunk in response.aiter_text():
                        buffer += chunk
                        blocks = split_blocks(buffer)
                        for block in blocks[seen:]:
                            frame = parse_sse(block + "\n\n")[0]
                            if frame.id is not None:
                                self.events.append(frame)
                                self.arrivals.append(time.monotonic())
                        seen = len(blocks)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
                self.reconnects += 1
                await asyncio.sleep(0.1)


async def _start(http: httpx.AsyncClient, user: AuthedUser, question: str) -> str:
    """POST /ask-stream, read until ``started``, leave (the run goes on without its client)."""
    async with http.stream(
        "POST", "/ask-stream", json={"question": question}, headers=user.headers
    ) as response:
        assert response.status_code == 200, await response.aread()
        run_id = response.headers["x-run-id"]
        async for chunk in response.aiter_text():
            if "event: started" in chunk:
                break
    return str(run_id)


async def _until(predicate: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _replay(http: httpx.AsyncClient, user: AuthedUser, run_id: str) -> list[SSEFrame]:
    text = (await http.get(f"/runs/{run_id}/events", headers=user.headers)).text
    return [frame for frame in parse_sse(text) if frame.id is not None]


async def _calls_per_step(fake_llm: str, tag: str) -> dict[str, Counter[str]]:
    """Model calls the fake received for each run of this test (its question ends in
    ``[tag-N]``), by step: planner, carbon, report."""
    control = fake_llm.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        recorded = (await http.get(f"{control}/_fake/requests")).json()
    calls: dict[str, Counter[str]] = {}
    for request in recorded:
        body = request.get("body")
        if not isinstance(body, dict) or "messages" not in body:
            continue
        text = json.dumps(body["messages"])
        start = text.find(f"[{tag}-")
        if start < 0:
            continue
        run = text[start : text.index("]", start) + 1]
        if body.get("model") == PLANNER_MODEL:
            step = "planner"
        else:  # the report step is sent the carbon step's answer; the carbon step is first
            step = "report" if "300 kg CO2e" in text else "carbon"
        calls.setdefault(run, Counter())[step] += 1
    return calls


def _check_run(frames: list[SSEFrame], calls: Counter[str], reason: str) -> None:
    """One run's whole event log and the model calls it cost."""
    assert [int(f.id or 0) for f in frames] == list(range(1, len(frames) + 1))
    assert frames[0].event == "started"
    assert frames[-1].event == "completed", frames[-1].data
    assert [f.event for f in frames].count("completed") == 1
    assert "error" not in [f.event for f in frames]
    resumed = [i for i, f in enumerate(frames) if f.event == "resumed"]
    assert len(resumed) == 1, [f.event for f in frames]
    assert frames[resumed[0]].event_body["data"]["reason"] == reason
    # A step answered before the death or handover was never asked again.
    answered = {
        f.event_body["agent_name"] for f in frames[: resumed[0]] if f.event == "agent_response"
    }
    for step in ("planner", "carbon", "report"):
        if step in answered:
            assert calls[step] == 1, (step, calls)
        else:  # at most the call in flight at the death was made twice
            assert 1 <= calls[step] <= 2, (step, calls)


# --- SQLite: one process, kill -9, start again ------------------------------------------------


async def test_sqlite_runs_survive_kill_9_and_complete_when_the_process_starts_again(
    fake_llm: str, tmp_path: Path
) -> None:
    env = _env(fake_llm, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")
    tag = f"sqlite-{uuid.uuid4().hex[:6]}"
    first = start_server(env, [], log_dir=tmp_path / "first")
    try:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as http:
            user = await signed_in_user(http, "k9@example.org", origin=_origin(first))
            run_ids = [await _start(http, user, f"{QUESTION} [{tag}-{i}]") for i in range(3)]
            followers = [Follower(http, user, run_id) for run_id in run_ids]
            tasks = [asyncio.create_task(f.follow()) for f in followers]
            await _until(
                lambda: all(f.saw("agent_response", "planner") for f in followers),
                15,
                "every plan",
            )
            _kill_tree(first)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        first.stop()
    with start_server(env, [], log_dir=tmp_path / "second") as again:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=30) as http:
            followers = [Follower(http, user, run_id) for run_id in run_ids]
            await asyncio.wait_for(asyncio.gather(*(f.follow() for f in followers)), 30)
            calls = await _calls_per_step(fake_llm, tag)
            for index, follower in enumerate(followers):
                replay = await _replay(http, user, follower.run_id)
                assert [f.data for f in follower.events] == [f.data for f in replay]
                _check_run(replay, calls[f"[{tag}-{index}]"], "worker_lost")
                run = (await http.get(f"/runs/{follower.run_id}", headers=user.headers)).json()
                assert run["status"] == "completed"
                detail = await http.get(
                    f"/conversations/{run['conversation_id']}", headers=user.headers
                )
                assert [m["role"] for m in detail.json()["messages"]] == ["user", "assistant"]


def _origin(server: LiveServer) -> str:
    return f"http://localhost:{server.port}"


# --- PostgreSQL + Redis: two instances ----------------------------------------------------------


def _redis_reachable() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        service_unavailable(f"Redis not reachable at {REDIS_TEST_URL}: {exc}")
    finally:
        client.close()


@pytest.fixture(scope="module")
def scale_env(fake_llm: str) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database and Redis key prefix shared by the module's instances
    (each test's runs ask questions of their own)."""
    _redis_reachable()
    prefix = f"sca-durable-{uuid.uuid4().hex[:10]}"
    with throwaway_database("sca_durable") as dsn:
        yield _env(
            fake_llm,
            DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            REDIS_URL=REDIS_TEST_URL,
            APP__REDIS__KEY_PREFIX=prefix,
        )
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def survivor(
    scale_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Instance B: it stays up while each test's instance A dies or stops."""
    with start_server(scale_env, [], log_dir=tmp_path_factory.mktemp("survivor")) as server:
        yield server


@pytest.fixture
def doomed(scale_env: dict[str, str], survivor: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    """Instance A: the test kills or stops it (stopped here if it has not)."""
    with start_server(scale_env, [], log_dir=tmp_path / "a") as server:
        yield server


async def _runs_followed_elsewhere(
    a: LiveServer, b: LiveServer, tag: str
) -> tuple[AuthedUser, list[Follower], list[asyncio.Task[None]]]:
    """``RUNS`` runs started on ``a``, each followed over SSE on ``b``, all past their plan."""
    async with httpx.AsyncClient(base_url=a.base_url, timeout=30, trust_env=False) as on_a:
        user = await signed_in_user(on_a, f"{tag}@example.org", origin=_origin(a))
        run_ids = await asyncio.gather(
            *(_start(on_a, user, f"{QUESTION} [{tag}-{i}]") for i in range(RUNS))
        )
    on_b = httpx.AsyncClient(base_url=b.base_url, timeout=60, trust_env=False)
    followers = [Follower(on_b, user, run_id) for run_id in run_ids]
    tasks = [asyncio.create_task(f.follow()) for f in followers]
    await _until(
        lambda: all(f.saw("agent_response", "planner") for f in followers), 20, "every plan"
    )
    return user, followers, tasks


async def _check_all(
    followers: list[Follower], user: AuthedUser, b: LiveServer, fake_llm: str, tag: str, reason: str
) -> None:
    calls = await _calls_per_step(fake_llm, tag)
    async with httpx.AsyncClient(base_url=b.base_url, timeout=30, trust_env=False) as http:
        for index, follower in enumerate(followers):
            replay = await _replay(http, user, follower.run_id)
            # The subscriber on the survivor saw every event, once, in order, without
            # reconnecting: the resumed run's events reached it like the first ones.
            assert follower.reconnects == 0
            assert [f.data for f in follower.events] == [f.data for f in replay]
            _check_run(replay, calls[f"[{tag}-{index}]"], reason)
            run = (await http.get(f"/runs/{follower.run_id}", headers=user.headers)).json()
            assert run["status"] == "completed"


@pytest.mark.postgres
@pytest.mark.redis
async def test_sigkill_of_the_worker_running_20_runs_they_all_complete_on_the_other(
    doomed: LiveServer, survivor: LiveServer, fake_llm: str
) -> None:
    tag = f"kill-{uuid.uuid4().hex[:6]}"
    a, b = doomed, survivor
    user, followers, tasks = await _runs_followed_elsewhere(a, b, tag)
    _kill_tree(a)
    killed_at = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*tasks), 40)
    await followers[0].http.aclose()
    first_resumed = min(f.arrivals[[e.event for e in f.events].index("resumed")] for f in followers)
    # Same host: the survivor's next sweep (every 0.3 s) sees the dead worker's PID gone;
    # from another host it would wait for the lease (10 s here) first.
    assert 0 < first_resumed - killed_at < 3
    await _check_all(followers, user, b, fake_llm, tag, "worker_lost")
    print(f"death to first resumed event: {first_resumed - killed_at:.2f} s")


@pytest.mark.postgres
@pytest.mark.redis
async def test_sigterm_hands_20_runs_over_and_none_is_interrupted_or_asked_twice(
    doomed: LiveServer, survivor: LiveServer, fake_llm: str
) -> None:
    tag = f"term-{uuid.uuid4().hex[:6]}"
    a, b = doomed, survivor
    user, followers, tasks = await _runs_followed_elsewhere(a, b, tag)
    stopping = time.monotonic()
    assert a.stop() == 0
    stop_s = time.monotonic() - stopping
    # Each run stopped at its next step boundary (a model call away), well inside
    # runs.handover_s (5 s) + the lifespan's own shutdown.
    assert stop_s < 5 + 3
    await asyncio.wait_for(asyncio.gather(*tasks), 40)
    await followers[0].http.aclose()
    await _check_all(followers, user, b, fake_llm, tag, "handover")
    calls = await _calls_per_step(fake_llm, tag)
    # Stopped at boundaries, never mid-call: no model call was made twice.
    assert all(sum(c.values()) == 3 for c in calls.values()), calls
    assert "run.interrupted" not in a.log_text() + b.log_text()
    print(f"graceful stop of the worker with {RUNS} runs: {stop_s:.2f} s")
