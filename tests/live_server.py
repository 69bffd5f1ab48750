"""Run the real service (``python -m app`` → granian) in a subprocess for end-to-end tests.

Usage (function- or session-scoped; always stop what you start)::

    from tests.live_server import start_server

    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    server = start_server(env, ["--workers", "2"])
    try:
        httpx.get(f"{server.base_url}/health")
    finally:
        server.stop()

or ``with start_server({}, []) as server: ...``. The ``live_server`` fixture in
``tests/conftest.py`` does the stopping for you. Output goes to ``server.log_path`` (a file,
never a pipe, so a chatty server can never block on a full pipe); on a start-up failure the
error includes the log's tail. Defaults: a free port on 127.0.0.1, a fresh SQLite file next
to the log, a fixed test JWT secret, JSON logs. ``env`` entries override the defaults.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["REPO_ROOT", "TEST_JWT_SECRET", "LiveServer", "free_port", "start_server"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef0123456789"
# Loopback must never go through an HTTP proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m app …`` run to completion (a config error, the migrate command), from the
    repository, without the caller's own ``APP__*`` overrides."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("APP__")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A running ``python -m app`` process (leader of its own process group, so its granian
    workers can be found with ``os.killpg``); :meth:`stop` is SIGTERM, then SIGKILL.
    """

    def __init__(self, base_url: str, port: int, process: subprocess.Popen[bytes], log_path: Path):
        self.base_url = base_url
        self.port = port
        self.process = process
        self.log_path = log_path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """Graceful stop; returns the exit code (negative = killed by that signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The server runs in its own session: kill its whole group, workers included.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        return self.process.returncode

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_server(
    env: dict[str, str],
    args: list[str],
    *,
    timeout: float = 45.0,
    log_dir: Path | None = None,
    ready_path: str = "/health",
) -> LiveServer:
    """Start ``python -m app --host 127.0.0.1 --port <free> *args`` and wait for ``ready_path``.

    Waits until ``ready_path`` answers 200; raises ``RuntimeError`` with the log tail if the
    process exits or the timeout passes first (and then kills it).
    """
    directory = log_dir if log_dir is not None else Path(tempfile.mkdtemp(prefix="sca-server-"))
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = directory / f"server-{port}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / f'app-{port}.db'}",
        "JWT_SECRET": TEST_JWT_SECRET,
        "APP__LOGGING__FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"server exited with {process.returncode}:\n{_tail(log_path)}"
            raise RuntimeError(msg)
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            _NO_PROXY.open(server.base_url + ready_path, timeout=2) as response,
        ):
            if response.status == 200:
                return server
        time.sleep(0.1)
    server.stop(timeout=5)
    msg = f"server not ready after {timeout:g}s:\n{_tail(log_path)}"
    raise RuntimeError(msg)
