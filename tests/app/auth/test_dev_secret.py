"""The development JWT secret kept in a 0600 file: created once, reused by every start, so a
token outlives a restart; production still refuses to start without ``JWT_SECRET``."""

from __future__ import annotations

import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.auth.dev_secret import DevSecretError, load_or_create_dev_secret
from tests.live_server import LiveServer, free_port, run_app
from tests.support.webauthn import signed_in_user


def test_created_once_private_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "dev-jwt-secret"
    secret, created = load_or_create_dev_secret(path, min_bytes=32)
    assert created
    assert len(secret.encode()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f"{secret}\n"
    assert load_or_create_dev_secret(path, min_bytes=32) == (secret, False)
    assert [p.name for p in path.parent.iterdir()] == ["dev-jwt-secret"]  # no temporary left


def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "dev-jwt-secret"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: load_or_create_dev_secret(path, min_bytes=32), range(8)))
    assert len({secret for secret, _ in results}) == 1
    assert sum(created for _, created in results) == 1


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [
        (0o644, "x" * 64, "accessible to other users (mode 0644): run chmod 600"),
        (0o600, "too-short", "holds fewer than 32 bytes"),
    ],
)
def test_an_unsafe_file_is_refused(tmp_path: Path, mode: int, content: str, message: str) -> None:
    path = tmp_path / "dev-jwt-secret"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(DevSecretError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_or_create_dev_secret(path, min_bytes=32)


def _dev_env(tmp_path: Path) -> dict[str, str]:
    """Development mode with no JWT_SECRET; one database and one secret file for both starts."""
    return {
        "JWT_SECRET": "",
        "APP__AUTH__DEV_SECRET_FILE": str(tmp_path / "var" / "dev-jwt-secret"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}",
    }


def _mode_and_text(path: Path) -> tuple[int, str]:
    return stat.S_IMODE(path.stat().st_mode), path.read_text()


@pytest.mark.server
async def test_a_token_survives_a_restart_in_development_mode(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    env = _dev_env(tmp_path)
    first = live_server(env=env)
    async with httpx.AsyncClient(base_url=first.base_url, timeout=30, trust_env=False) as client:
        ann = await signed_in_user(client, "ann@example.org")
        assert (await client.get("/auth/me", headers=ann.headers)).status_code == 200
    assert first.stop() == 0
    secret_file = Path(env["APP__AUTH__DEV_SECRET_FILE"])
    mode, kept = _mode_and_text(secret_file)
    assert mode == 0o600
    assert '"secret_file"' in first.log_text()
    assert kept.strip() not in first.log_text()

    second = live_server(env=env)
    async with httpx.AsyncClient(base_url=second.base_url, timeout=30, trust_env=False) as client:
        me = await client.get("/auth/me", headers=ann.headers)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "ann@example.org"
    assert _mode_and_text(secret_file) == (0o600, kept)


def test_an_unsafe_secret_file_stops_the_start_in_one_line(tmp_path: Path) -> None:
    env = _dev_env(tmp_path)
    path = Path(env["APP__AUTH__DEV_SECRET_FILE"])
    path.parent.mkdir()
    path.write_text("x" * 64)
    path.chmod(0o640)
    result = run_app("--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"error: the development secret {path} is accessible to other users (mode 0640): "
        f"run chmod 600 {path}, or delete it to make a new one"
    )


def test_production_still_refuses_to_start_without_jwt_secret(tmp_path: Path) -> None:
    env = {**_dev_env(tmp_path), "APP__SERVER__MODE": "production"}
    result = run_app(env=env)
    assert result.returncode == 2
    assert "auth.jwt_secret: required in production mode" in result.stderr
    assert not Path(env["APP__AUTH__DEV_SECRET_FILE"]).exists()
