"""More than one worker on in-memory channels is refused before anything starts.

Each granian worker is a process with its own memory: a run's live events would reach only
the subscribers that happen to share its worker, so the service must not start that way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.live_server import REPO_ROOT

REFUSAL = (
    "server.workers: more than 1 worker needs redis.url (REDIS_URL): in-memory channels "
    "and stores are per process, so live run events would not reach every subscriber"
)


def _run(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP__") and k != "REDIS_URL"}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", **extra)
    return subprocess.run(
        [sys.executable, "-m", "app", "--config", str(tmp_path / "none.toml"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_workers_without_redis_exit_2_naming_the_keys(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text("")
    result = _run(["--workers", "2"], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["configuration error:", f"  {REFUSAL}"]
    assert not (tmp_path / "app.db").exists(), "nothing may start (not even migrations)"


def test_the_workers_key_in_the_environment_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text("")
    result = _run([], tmp_path, APP__SERVER__WORKERS="3")
    assert result.returncode == 2
    assert REFUSAL in result.stderr
