"""The real entry point: ``python -m app`` under granian, and its config-error exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.db.migrate import head_revisions
from tests.live_server import REPO_ROOT, LiveServer, run_app


@pytest.mark.server
def test_real_server_serves_health_and_docs(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    with httpx.Client(base_url=server.base_url, timeout=10, trust_env=False) as client:
        health = client.get("/health", headers={"X-Request-ID": "live-1"})
        assert health.status_code == 200
        assert health.json()["status"] == "healthy"
        assert health.headers["x-request-id"] == "live-1"
        assert client.get("/health/ready").status_code == 200
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
        assert client.get("/nope").json()["code"] == "not_found"
    assert server.stop() == 0  # graceful SIGTERM shutdown
    access = [
        json.loads(line)
        for line in server.log_text().splitlines()
        if line.startswith("{") and '"app.access"' in line
    ]
    assert any(line["request_id"] == "live-1" and line["status"] == 200 for line in access)


def test_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = "abc"\nworkers = 0\n[logging]\nlevel = "LOUD"\n')
    result = run_app("--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "configuration error:"
    assert sorted(line.strip() for line in lines[1:]) == [
        'logging.level: expected one of "DEBUG", "INFO", "WARNING", "ERROR", got "LOUD"',
        'server.port: expected int in 1..65535, got "abc"',
        "server.workers: expected int >= 1, got 0",
    ]


def test_bad_flag_value_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "server.port: expected int in 1..65535, got 0" in result.stderr


def test_migrate_command(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    heads = ", ".join(sorted(head_revisions())) or "(none)"
    upgraded = run_app("migrate", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    after = run_app("migrate", "current", env=env)
    assert f"current: {heads}" in after.stdout
    assert "up to date" in after.stdout
    down = run_app("migrate", "downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert "downgraded to base" in down.stdout


@pytest.mark.server
@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the queue")
def test_the_listen_queue_has_the_configured_backlog(
    live_server: Callable[..., LiveServer],
) -> None:
    # For a listening socket, ss reports the accept-queue limit (the backlog) as Send-Q.
    server = live_server(env={"APP__SERVER__BACKLOG": "777"})
    listing = subprocess.run(
        ["ss", "-Hltn", f"sport = :{server.port}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.split()
    assert listing[0] == "LISTEN", listing
    assert int(listing[2]) == 777


def _worker_loops(server: LiveServer) -> list[str]:
    return [
        json.loads(line)["event_loop"]
        for line in server.log_text().splitlines()
        if line.startswith("{") and '"worker starting"' in line
    ]


@pytest.mark.server
@pytest.mark.parametrize(("loop", "expected"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_workers_run_on_the_configured_event_loop(
    live_server: Callable[..., LiveServer], loop: str | None, expected: str
) -> None:
    # "auto" (the default) picks uvloop, a dependency on this platform.
    server = live_server(env={"APP__SERVER__LOOP": loop} if loop else {})
    with httpx.Client(base_url=server.base_url, timeout=10, trust_env=False) as client:
        assert client.get("/health").status_code == 200
    assert _worker_loops(server) == [expected]
