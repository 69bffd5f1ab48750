"""``python -m app`` refuses a port another process listens on, unless sharing is opted in;
the workers of one server still share it. Real subprocesses, real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.port_guard import PortInUse, claim_port
from tests.live_server import REPO_ROOT, TEST_JWT_SECRET, LiveServer, free_port, run_app


def refusal_line(port: int) -> str:
    return (
        f"error: 127.0.0.1:{port} is already in use by another process: stop it, choose "
        "another port (--port), or set server.reuse_port = true to share it on purpose"
    )


@pytest.fixture
def foreign_listener() -> Iterator[int]:
    """A port some other program listens on (a plain socket of this test process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_another_program_listens_on_is_refused_in_one_line(
    tmp_path: Path, foreign_listener: int
) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}
    result = run_app("--host", "127.0.0.1", "--port", str(foreign_listener), env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [refusal_line(foreign_listener)]
    assert result.stdout == ""
    assert not (tmp_path / "app.db").exists(), "refused before touching the database"


@pytest.mark.server
def test_a_second_server_on_the_same_port_is_refused(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    first = live_server()
    second = run_app(
        "--host",
        "127.0.0.1",
        "--port",
        str(first.port),
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'second.db'}"},
    )
    assert second.returncode == 2
    assert second.stderr.splitlines() == [refusal_line(first.port)]
    with httpx.Client(base_url=first.base_url, timeout=10, trust_env=False) as client:
        assert client.get("/health").status_code == 200


@pytest.mark.server
def test_sharing_the_port_is_an_explicit_opt_in(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    first = live_server(env={"APP__SERVER__REUSE_PORT": "true"})
    log_path = tmp_path / "sharing.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP__")},
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sharing.db'}",
        "JWT_SECRET": TEST_JWT_SECRET,
        "APP__LOGGING__FORMAT": "json",
        "APP__SERVER__REUSE_PORT": "true",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(first.port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 45
        while '"worker starting"' not in log_path.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.2)
        assert '"worker starting"' in log_path.read_text(), log_path.read_text()
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.mark.server
def test_the_workers_of_one_server_share_its_port(
    live_server: Callable[..., LiveServer], redis_url: str
) -> None:
    server = live_server(
        env={"REDIS_URL": redis_url, "APP__REDIS__KEY_PREFIX": f"pg-{uuid.uuid4().hex[:8]}"},
        args=["--workers", "2"],
    )
    deadline = time.monotonic() + 30
    while server.log_text().count('"worker starting"') < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.log_text().count('"worker starting"') == 2, server.log_text()
    with httpx.Client(base_url=server.base_url, timeout=10, trust_env=False) as client:
        for _ in range(20):
            assert client.get("/health").status_code == 200
    assert "already in use" not in server.log_text()


def test_claim_port_holds_the_port_against_probes_but_not_against_workers() -> None:
    port = free_port()
    guard = claim_port("127.0.0.1", port)
    try:
        # A second server's check fails while the first is still starting its workers…
        with pytest.raises(PortInUse, match="already in use"):
            claim_port("127.0.0.1", port)
        # …while a worker of this server (SO_REUSEPORT, same user) can bind and listen.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))
            worker.listen()
    finally:
        guard.close()
    claim_port("127.0.0.1", port).close()  # released with the guard
