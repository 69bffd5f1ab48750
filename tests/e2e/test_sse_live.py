"""SSE against the REAL server (``python -m app`` → granian) on a free port.

The Litestar test client buffers streams, so everything about timing, disconnects and
reconnects is tested here over real sockets. Runs are made slow honestly: the service uses
the ``openai_chat`` provider against the fake OpenAI server (a separate process) that answers
each model call after a fixed latency — the production code path, no test hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.runs.demo import DEMO_INTERVAL_S, demo_events
from tests.fakes.openai_server import closed_port
from tests.live_server import LiveServer, start_server
from tests.support.slow_llm import QUESTION, provider_env, slow_fake_llm
from tests.support.sse import SSEFrame, parse_sse, split_blocks
from tests.support.webauthn import AuthedUser, signed_in_user

pytestmark = [pytest.mark.server]

LATENCY_MS = 500


class FakeLLM:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


@pytest.fixture(scope="module")
def fake_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLLM]:
    """The fake OpenAI server as a process: every call answers after ``LATENCY_MS``."""
    with slow_fake_llm(
        tmp_path_factory.mktemp("fake-llm"), latency_ms=LATENCY_MS, event_delay_ms=20
    ) as base_url:
        yield FakeLLM(base_url)


def _slow_env(fake: FakeLLM, **extra: str) -> dict[str, str]:
    return {**provider_env(fake.base_url), "APP__RUNS__KEEPALIVE_S": "0.3", **extra}


@pytest.fixture(scope="module")
def slow_server(
    fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    server = start_server(_slow_env(fake_llm), [], log_dir=tmp_path_factory.mktemp("slow"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http(slow_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=slow_server.base_url, timeout=30) as client:
        yield client


class Reader:
    """Reads an SSE response incrementally, noting when each frame arrived."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.started = time.perf_counter()
        self.buffer = ""
        self.frames: list[SSEFrame] = []
        self.arrivals: list[float] = []
        self._chunks = response.aiter_text()

    async def next_frame(self) -> SSEFrame | None:
        while True:
            blocks = split_blocks(self.buffer)
            if len(blocks) > len(self.frames):
                frame = parse_sse(blocks[len(self.frames)] + "\n\n")[0]
                self.frames.append(frame)
                self.arrivals.append(time.perf_counter() - self.started)
                return frame
            try:
                self.buffer += await anext(self._chunks)
            except StopAsyncIteration:
                return None

    async def until(self, predicate: Any) -> SSEFrame:
        while (frame := await self.next_frame()) is not None:
            if predicate(frame):
                return frame
        raise AssertionError("the stream ended first")

    async def rest(self) -> list[SSEFrame]:
        while await self.next_frame() is not None:
            pass
        return self.frames

    @property
    def events(self) -> list[SSEFrame]:
        return [frame for frame in self.frames if frame.id is not None]


async def _user(http: httpx.AsyncClient, email: str) -> AuthedUser:
    """Sign in through the real passkey ceremony (the server's origin is localhost:<port>)."""
    return await signed_in_user(http, email, origin=f"http://localhost:{http.base_url.port}")


def _kill_process_tree(pid: int) -> None:
    """SIGKILL the server and its granian workers (killing only the parent would leave the
    worker that executes the run alive)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in [pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def _ids(frames: list[SSEFrame]) -> list[int]:
    return [int(frame.id) for frame in frames if frame.id is not None]


async def _wait_for_status(
    http: httpx.AsyncClient, user: AuthedUser, run_id: str, statuses: set[str]
) -> dict[str, Any]:
    for _ in range(300):
        run: dict[str, Any] = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}")


async def test_events_arrive_incrementally_with_keepalives(http: httpx.AsyncClient) -> None:
    user = await _user(http, "incremental@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Reader(response)
        frames = await reader.rest()
    events = reader.events
    assert events[0].event == "started"
    assert events[-1].event == "completed"
    assert _ids(events) == list(range(1, len(events) + 1))
    first_at = reader.arrivals[reader.frames.index(events[0])]
    done_at = reader.arrivals[-1]
    # Three model calls of 0.5 s each: the first event is out long before the end.
    assert done_at >= 1.4
    assert first_at < 1.0
    assert done_at - first_at > 1.0
    keepalives = [frame for frame in frames if frame.comments == ["keep-alive"]]
    assert keepalives, "a 0.5 s model call with keepalive_s=0.3 must produce a keep-alive"
    assert all(not frame.data for frame in keepalives)


async def test_reconnecting_with_last_event_id_mid_run_and_after_is_exact(
    http: httpx.AsyncClient,
) -> None:
    user = await _user(http, "reconnect@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        run_id = response.headers["x-run-id"]
        first = Reader(response)
        await first.until(lambda f: f.id == "2")
    # The client went away after seq 2; reconnect mid-run from there.
    async with http.stream(
        "GET", f"/runs/{run_id}/events", headers={**user.headers, "Last-Event-ID": "2"}
    ) as response:
        second = Reader(response)
        await second.rest()
    run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "completed"
    assert _ids(second.events) == list(range(3, run["last_seq"] + 1))
    assert second.events[-1].event == "completed"
    # A full replay after the end equals what the two connections saw together.
    replay = parse_sse((await http.get(f"/runs/{run_id}/events", headers=user.headers)).text)
    joined = [f.data for f in first.events[:2]] + [f.data for f in second.events]
    assert [f.data for f in replay if f.id is not None] == joined
    late = await http.get(f"/runs/{run_id}/events", headers={**user.headers, "Last-Event-ID": "4"})
    assert _ids(parse_sse(late.text)) == list(range(5, run["last_seq"] + 1))


async def test_a_disconnected_client_does_not_stop_the_run(http: httpx.AsyncClient) -> None:
    user = await _user(http, "disconnect@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        run_id = response.headers["x-run-id"]
        conversation_id = response.headers["x-conversation-id"]
        await Reader(response).until(lambda f: f.event == "started")
    run = await _wait_for_status(http, user, run_id, {"completed", "failed"})
    assert run["status"] == "completed"
    assert run["report"]
    detail = (await http.get(f"/conversations/{conversation_id}", headers=user.headers)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]


async def test_cancel_ends_the_live_stream_with_code_cancelled(http: httpx.AsyncClient) -> None:
    user = await _user(http, "cancel@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        run_id = response.headers["x-run-id"]
        reader = Reader(response)
        await reader.until(lambda f: f.event == "started")
        cancelled = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        await reader.rest()
    last = reader.events[-1]
    assert last.event == "error"
    assert last.event_body["data"]["code"] == "cancelled"
    again = await http.post(f"/runs/{run_id}/cancel", headers=user.headers)
    assert again.status_code == 409


async def test_two_users_cannot_follow_each_others_runs(http: httpx.AsyncClient) -> None:
    alice = await _user(http, "alice-live@example.org")
    bob = await _user(http, "bob-live@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=alice.headers
    ) as response:
        run_id = response.headers["x-run-id"]
        reader = Reader(response)
        await reader.until(lambda f: f.event == "started")
        spy = await http.get(f"/runs/{run_id}/events", headers=bob.headers)
        assert spy.status_code == 404
        assert spy.headers["content-type"].startswith("application/json")
        assert (await http.get("/conversations", headers=bob.headers)).json() == {
            "conversations": []
        }
        await reader.rest()
    assert reader.events[-1].event == "completed"


async def test_an_event_source_follows_a_run_with_a_ticket(http: httpx.AsyncClient) -> None:
    user = await _user(http, "ticket@example.org")
    async with http.stream(
        "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
    ) as response:
        run_id = response.headers["x-run-id"]
        await Reader(response).until(lambda f: f.event == "started")
        ticket = (await http.post(f"/runs/{run_id}/ticket", headers=user.headers)).json()
        # No Authorization header, like a browser EventSource.
        async with (
            httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as anonymous,
            anonymous.stream("GET", ticket["events_url"]) as follow,
        ):
            assert follow.status_code == 200
            follower = Reader(follow)
            await follower.rest()
    assert follower.events[0].event == "started"
    assert follower.events[-1].event == "completed"
    assert _ids(follower.events) == list(range(1, len(follower.events) + 1))


async def test_the_demo_stream_is_paced(http: httpx.AsyncClient) -> None:
    async with http.stream("GET", "/test-stream") as response:
        reader = Reader(response)
        await reader.rest()
    assert reader.events[0].event == "started"
    assert reader.events[-1].event == "completed"
    assert len(reader.events) == len(demo_events())
    paced = (len(reader.events) - 1) * DEMO_INTERVAL_S
    assert reader.arrivals[-1] - reader.arrivals[0] >= paced * 0.8


async def test_a_failing_provider_ends_the_stream_with_an_error_and_stores_a_message(
    tmp_path: Path,
) -> None:
    env = {
        "APP__LLM__PROVIDER": "openai_chat",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "OPENAI_API_KEY": "sk-test-dummy",
        "APP__LLM__MAX_RETRIES": "0",
        "APP__ORCHESTRATOR__PROVIDER_RETRIES": "0",
    }
    with start_server(env, [], log_dir=tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            user = await _user(http, "failing@example.org")
            response = await http.post(
                "/ask-stream", json={"question": QUESTION}, headers=user.headers
            )
            events = [f for f in parse_sse(response.text) if f.id is not None]
            assert events[0].event == "started"
            assert events[-1].event == "error"
            assert events[-1].event_body["data"]["code"] == "llm_unavailable"
            conversation_id = response.headers["x-conversation-id"]
            detail = (
                await http.get(f"/conversations/{conversation_id}", headers=user.headers)
            ).json()
            assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
            assert "llm_unavailable" in detail["messages"][1]["content"]


async def test_a_shutdown_closes_running_runs_as_interrupted(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    # Without resumes (runs.max_resumes = 0); with them the run is handed over instead
    # (tests/e2e/test_worker_death.py).
    env = _slow_env(fake_llm, DATABASE_URL=database, APP__RUNS__MAX_RESUMES="0")
    server = start_server(env, [], log_dir=tmp_path / "first")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            user = await _user(http, "shutdown@example.org")
            async with http.stream(
                "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
            ) as response:
                run_id = response.headers["x-run-id"]
                reader = Reader(response)
                await reader.until(lambda f: f.event == "started")
            # The client has gone (granian would otherwise wait for the open stream, and the
            # run would simply complete); SIGTERM now is a graceful shutdown mid-run.
    finally:
        assert server.stop() == 0
    with start_server(env, [], log_dir=tmp_path / "second") as again:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=30) as http:
            run = (await http.get(f"/runs/{run_id}", headers=user.headers)).json()
            assert (run["status"], run["error"]["code"]) == ("interrupted", "interrupted")
            replay = [
                f
                for f in parse_sse(
                    (await http.get(f"/runs/{run_id}/events", headers=user.headers)).text
                )
                if f.id is not None
            ]
            assert replay[0].data == reader.events[0].data
            assert replay[-1].event == "error"
            assert replay[-1].event_body["data"]["code"] == "interrupted"
            assert _ids(replay) == list(range(1, len(replay) + 1))
            detail = (
                await http.get(f"/conversations/{run['conversation_id']}", headers=user.headers)
            ).json()
            assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]


async def test_a_run_of_a_killed_process_is_closed_once_its_lease_expires(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    env = _slow_env(
        fake_llm,
        DATABASE_URL=database,
        APP__RUNS__LEASE_S="1.5",
        APP__RUNS__HEARTBEAT_S="0.3",
        APP__RUNS__MAX_RESUMES="0",  # closed, not resumed (see tests/e2e/test_worker_death.py)
    )
    server = start_server(env, [], log_dir=tmp_path / "first")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        user = await _user(http, "killed@example.org")
        async with http.stream(
            "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
        ) as response:
            run_id = response.headers["x-run-id"]
            await Reader(response).until(lambda f: f.event == "started")
            _kill_process_tree(server.process.pid)  # SIGKILL: no shutdown code runs at all
            server.process.wait(timeout=10)
    # A new process starts while the dead one's lease is still valid: the run stays running
    # until the lease expires, then the periodic sweep closes it with a terminal event.
    with start_server(env, [], log_dir=tmp_path / "second") as again:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=30) as http:
            run = await _wait_for_status(http, user, run_id, {"interrupted"})
            assert run["error"]["code"] == "interrupted"
            replay = [
                f
                for f in parse_sse(
                    (await http.get(f"/runs/{run_id}/events", headers=user.headers)).text
                )
                if f.id is not None
            ]
            assert replay[0].event == "started"
            assert replay[-1].event == "error"
            assert replay[-1].event_body["data"]["code"] == "interrupted"
            assert _ids(replay) == list(range(1, len(replay) + 1))


async def test_cancel_on_disconnect_cancels_the_run_when_its_client_leaves(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    env = _slow_env(fake_llm, APP__RUNS__CANCEL_ON_DISCONNECT="true")
    with start_server(env, [], log_dir=tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            user = await _user(http, "leaver@example.org")
            async with http.stream(
                "POST", "/ask-stream", json={"question": QUESTION}, headers=user.headers
            ) as response:
                run_id = response.headers["x-run-id"]
                await Reader(response).until(lambda f: f.event == "started")
            run = await _wait_for_status(http, user, run_id, {"cancelled", "completed"})
            assert run["status"] == "cancelled"
            assert run["error"]["code"] == "cancelled"
