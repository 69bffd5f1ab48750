"""Scale-out for real: ``python -m app --workers 2`` on PostgreSQL + Redis, over real sockets.

Requests land on whichever granian worker the kernel hands the connection to; every request
here uses a new connection, and the worker that served it is read from the access log
(``request_id`` → ``pid``), so "crossed workers" is observed, not assumed. Runs are made slow
honestly with the fake OpenAI server (a separate process answering after a fixed latency).
The keep-alive interval stays at 15 s: a subscriber on another worker than the run that
finishes promptly can only have been fed by Redis pub/sub, not by the keep-alive DB poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.runs.workers import worker_pid
from tests.conftest import REDIS_TEST_URL, service_unavailable
from tests.live_server import LiveServer, start_server
from tests.support.backends import throwaway_database
from tests.support.slow_llm import QUESTION, provider_env, slow_fake_llm
from tests.support.sse import SSEFrame, parse_sse, split_blocks
from tests.support.webauthn import AuthedUser, SoftAuthenticator, signed_in_user

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

WORKERS = 2
LATENCY_MS = 600  # per model call; a run makes three, so it lasts about two seconds
LEASE_S = 2.0


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake OpenAI server as a process; every model call answers after ``LATENCY_MS``."""
    with slow_fake_llm(
        tmp_path_factory.mktemp("scale-llm"), latency_ms=LATENCY_MS, event_delay_ms=20
    ) as base_url:
        yield base_url


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
def pg_dsn() -> Iterator[str]:
    with throwaway_database("sca_scale") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def cluster(
    fake_llm_url: str, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Two granian workers on a fresh PostgreSQL database and Redis (own key prefix)."""
    _redis_reachable()
    prefix = f"sca-scale-{uuid.uuid4().hex[:10]}"
    env = {
        "DATABASE_URL": pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "REDIS_URL": REDIS_TEST_URL,
        "APP__REDIS__KEY_PREFIX": prefix,
        **provider_env(fake_llm_url),
        "APP__RUNS__LEASE_S": str(LEASE_S),
        "APP__RUNS__HEARTBEAT_S": "0.4",
        # The runs a dead worker leaves are closed, not resumed: the interrupt path is what
        # these tests check (resuming them is tests/e2e/test_worker_death.py's subject).
        "APP__RUNS__MAX_RESUMES": "0",
        "APP__RATE_LIMIT__CEREMONY_PER_MINUTE": "10000",
        "APP__LOGGING__LEVEL": "INFO",
    }
    server = start_server(
        env, ["--workers", str(WORKERS)], log_dir=tmp_path_factory.mktemp("cluster")
    )
    try:
        _wait(lambda: len(_ready_pids(server)) >= WORKERS, 30, "both workers to start")
        yield server
    finally:
        server.stop()
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
async def http(cluster: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """No keep-alive: every request opens a new connection, so requests spread over workers."""
    async with httpx.AsyncClient(
        base_url=cluster.base_url,
        timeout=30,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        yield client


# --- helpers -----------------------------------------------------------------------------------


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def _until(predicate: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _log_records(server: LiveServer) -> list[dict[str, Any]]:
    records = []
    for line in server.log_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def _ready_pids(server: LiveServer) -> list[int]:
    """Workers whose runs lifespan started, in start order (respawns append)."""
    return [int(r["pid"]) for r in _log_records(server) if r.get("event") == "runs.ready"]


async def _pids_of(server: LiveServer, request_ids: list[str]) -> list[int]:
    """The worker pid that served each request (its access line), waiting for the lines."""
    for _ in range(100):
        served = {
            r["request_id"]: int(r["pid"])
            for r in _log_records(server)
            if r.get("event") == "request" and "request_id" in r
        }
        if all(rid in served for rid in request_ids):
            return [served[rid] for rid in request_ids]
        await asyncio.sleep(0.05)
    raise AssertionError("access log lines missing")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "X"


def _origin(server: LiveServer) -> str:
    return f"http://localhost:{server.port}"


async def _run_worker_pid(dsn: str, run_id: str) -> int:
    """The PID in ``runs.worker_id`` of the process executing the run."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        worker_id = await conn.fetchval("SELECT worker_id FROM runs WHERE id = $1", run_id)
    finally:
        await conn.close()
    assert isinstance(worker_id, str)
    pid = worker_pid(worker_id)
    assert pid is not None, worker_id
    return pid


class Follower:
    """Follows one run's events like a client would: reconnects with ``Last-Event-ID`` when
    the connection breaks, until the terminal event; notes each frame's arrival time."""

    def __init__(self, http: httpx.AsyncClient, user: AuthedUser, run_id: str) -> None:
        self.http = http
        self.user = user
        self.run_id = run_id
        self.events: list[SSEFrame] = []
        self.arrivals: list[float] = []
        self.request_ids: list[str] = []
        self.reconnects = 0
        self.first = asyncio.Event()

    @property
    def last_id(self) -> int:
        return int(self.events[-1].id or 0) if self.events else 0

    async def follow(self) -> None:
        while not (self.events and self.events[-1].event in ("completed", "error")):
            headers = {**self.user.headers, "Last-Event-ID": str(self.last_id)}
            try:
                async with self.http.stream(
                    "GET", f"/runs/{self.run_id}/events", headers=headers
                ) as response:
                    assert response.status_code == 200, await response.aread()
                    self.request_ids.append(response.headers["x-request-id"])
                    await self._read(response)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
                self.reconnects += 1
                await asyncio.sleep(0.1)

    async def _read(self, response: httpx.Response) -> None:
        buffer, seen = "", 0
        async for chunk in response.aiter_text():
            buffer += chunk
            blocks = split_blocks(buffer)
            for block in blocks[seen:]:
                frame = parse_sse(block + "\n\n")[0]
                if frame.id is not None:
                    self.events.append(frame)
                    self.arrivals.append(time.monotonic())
                    self.first.set()
            seen = len(blocks)


async def _start_run(http: httpx.AsyncClient, user: AuthedUser) -> tuple[str, asyncio.Task[None]]:
    """POST /ask-stream; returns the run id once ``started`` arrived, and a task that drains
    the rest of that stream (its connection may break if its worker is killed)."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def drain() -> None:
        with contextlib.suppress(httpx.RemoteProtocolError, httpx.ReadError):
            async with http.stream(
                "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
            ) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_text():
                    if "event: started" in chunk and not ready.done():
                        ready.set_result(response.headers["x-run-id"])

    task = asyncio.create_task(drain())
    run_id = await asyncio.wait_for(ready, 10)
    return run_id, task


async def _replay(http: httpx.AsyncClient, user: AuthedUser, run_id: str) -> list[SSEFrame]:
    text = (await http.get(f"/runs/{run_id}/events", headers=user.headers)).text
    return [frame for frame in parse_sse(text) if frame.id is not None]


def _ids(frames: list[SSEFrame]) -> list[int]:
    return [int(frame.id or 0) for frame in frames]


# --- tests -------------------------------------------------------------------------------------


async def test_ceremonies_begun_on_one_worker_complete_on_another(
    cluster: LiveServer, http: httpx.AsyncClient
) -> None:
    """Challenges live in PostgreSQL, not in a worker's memory."""
    crossed = 0
    for attempt in range(40):
        authenticator = SoftAuthenticator(origin=_origin(cluster))
        begin = await http.post("/auth/register/begin", json={"email": f"w{attempt}@example.org"})
        assert begin.status_code == 200, begin.text
        complete = await http.post(
            "/auth/register/complete", json=authenticator.create(begin.json())
        )
        assert complete.status_code == 200, complete.text
        login_begin = await http.post("/auth/login/begin", json={})
        assert login_begin.status_code == 200, login_begin.text
        login = await http.post("/auth/login/complete", json=authenticator.get(login_begin.json()))
        assert login.status_code == 200, login.text
        me = await http.get(
            "/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.status_code == 200
        pids = await _pids_of(
            cluster, [r.headers["x-request-id"] for r in (begin, complete, login_begin, login)]
        )
        crossed += (pids[0] != pids[1]) + (pids[2] != pids[3])
        if crossed >= 3:
            break
    assert crossed >= 3, "40 sign-ins never completed a ceremony on another worker"


async def test_twenty_subscribers_on_both_workers_get_every_event_once_in_order(
    cluster: LiveServer, http: httpx.AsyncClient, pg_dsn: str
) -> None:
    user = await signed_in_user(http, "many@example.org", origin=_origin(cluster))
    run_id, starter = await _start_run(http, user)
    followers = [Follower(http, user, run_id) for _ in range(20)]
    tasks = [asyncio.create_task(f.follow()) for f in followers]
    await asyncio.wait_for(asyncio.gather(*tasks, starter), 20)

    replay = await _replay(http, user, run_id)
    assert replay[-1].event == "completed"
    assert _ids(replay) == list(range(1, len(replay) + 1))
    run_pid = await _run_worker_pid(pg_dsn, run_id)
    subscriber_pids = await _pids_of(cluster, [f.request_ids[0] for f in followers])
    assert len(set(subscriber_pids)) == WORKERS, "the subscribers all landed on one worker"
    assert any(pid != run_pid for pid in subscriber_pids)
    finished_at = min(f.arrivals[-1] for f in followers)
    for follower in followers:
        assert follower.reconnects == 0
        assert [f.data for f in follower.events] == [f.data for f in replay]
        # Tailing live, not replaying a finished run: events kept arriving after connecting.
        assert follower.arrivals[-1] - follower.arrivals[0] > 0.3
        # Fed by pub/sub: the keep-alive DB poll (15 s) could not have been this quick.
        assert follower.arrivals[-1] - finished_at < 2.0


async def test_a_starting_worker_leaves_the_running_runs_of_another_alone(
    cluster: LiveServer, http: httpx.AsyncClient, pg_dsn: str, fake_llm_url: str
) -> None:
    """A respawned worker's start-up recovery closes only runs whose lease expired."""
    control = fake_llm_url.removesuffix("/v1")
    slow = {"latency_ms": 2500, "event_delay_ms": 20}
    assert (await http.post(f"{control}/_fake/timing", json=slow)).status_code == 200
    try:
        user = await signed_in_user(http, "bystander@example.org", origin=_origin(cluster))
        run_id, starter = await _start_run(http, user)
        owner = await _run_worker_pid(pg_dsn, run_id)
        workers = [pid for pid in _ready_pids(cluster) if _alive(pid)]
        other = next(pid for pid in workers if pid != owner)
        os.kill(other, signal.SIGKILL)
        await _until(lambda: len(_ready_pids(cluster)) > len(workers), 20, "a respawned worker")
        # The new worker swept for stale runs before it logged runs.ready; ours is alive.
        run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
        assert run["status"] == "running"
        follower = Follower(http, user, run_id)
        await asyncio.wait_for(follower.follow(), 30)
        await asyncio.wait_for(starter, 5)
        assert follower.events[-1].event == "completed"
        assert _ids(follower.events) == list(range(1, len(follower.events) + 1))
        interrupted = [
            r
            for r in _log_records(cluster)
            if r.get("event") == "run.interrupted" and r.get("run_id") == run_id
        ]
        assert interrupted == []
    finally:
        fast = {"latency_ms": LATENCY_MS, "event_delay_ms": 20}
        await http.post(f"{control}/_fake/timing", json=fast)


async def test_killing_the_runs_worker_interrupts_it_after_the_lease_and_loses_nothing(
    cluster: LiveServer, http: httpx.AsyncClient, pg_dsn: str
) -> None:
    user = await signed_in_user(http, "killed@example.org", origin=_origin(cluster))
    workers_before = _ready_pids(cluster)
    run_id, starter = await _start_run(http, user)
    victim = await _run_worker_pid(pg_dsn, run_id)
    assert victim in workers_before
    assert _alive(victim)
    followers = [Follower(http, user, run_id) for _ in range(10)]
    tasks = [asyncio.create_task(f.follow()) for f in followers]
    await asyncio.wait_for(asyncio.gather(*(f.first.wait() for f in followers)), 10)

    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*tasks), 15)
    await asyncio.wait_for(starter, 5)

    # Closed by the surviving worker once the dead one's lease expired.
    assert time.monotonic() - killed_at < LEASE_S + 5
    run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
    assert (run["status"], run["error"]["code"]) == ("interrupted", "interrupted")
    replay = await _replay(http, user, run_id)
    assert replay[0].event == "started"
    assert replay[-1].event == "error"
    assert replay[-1].event_body["data"]["code"] == "interrupted"
    assert _ids(replay) == list(range(1, len(replay) + 1))
    for follower in followers:
        assert [f.data for f in follower.events] == [f.data for f in replay]
    assert any(f.reconnects for f in followers), "no subscriber was on the killed worker"
    detail = await http.get(f"/conversations/{run['conversation_id']}", headers=user.headers)
    assert [m["role"] for m in detail.json()["messages"]] == ["user", "assistant"]

    # The service kept answering, and granian replaced the dead worker.
    assert not _alive(victim)
    for _ in range(10):
        assert (await http.get("/health")).status_code == 200
    await _until(lambda: len(_ready_pids(cluster)) > len(workers_before), 20, "a respawned worker")
    again = await http.post("/ask", json={"question": QUESTION}, headers=user.headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "Success"
