"""``python -m app token …`` as a real subprocess against real databases, and the headless
flow it exists for: a running server, a token from the command line, a streamed question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import DatabaseSettings
from tests.conftest import make_settings
from tests.live_server import LiveServer, run_app
from tests.support.sse import parse_sse

TOKEN_LINE = re.compile(r"^sca_pat_[A-Za-z0-9_-]{43}\n$")
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"


async def me(tmp_path: Path, database_url: str, token: str) -> httpx.Response:
    """``GET /auth/me`` with ``token`` through the app on the database the command used."""
    settings = make_settings(tmp_path)
    settings = msgspec.structs.replace(settings, database=DatabaseSettings(url=database_url))
    async with AsyncTestClient(create_app(settings)) as client:
        return await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_create_prints_only_the_token_and_makes_the_account(
    tmp_path: Path, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url}
    first = run_app("token", "create", "Ops@Example.org", "--name", "ci", env=env)
    assert first.returncode == 0, first.stderr
    assert TOKEN_LINE.match(first.stdout), first.stdout
    assert "created account ops@example.org" in first.stderr
    assert "expires" in first.stderr

    second = run_app("token", "create", "ops@example.org", "--expires-days", "1", env=env)
    assert second.returncode == 0, second.stderr
    assert TOKEN_LINE.match(second.stdout)
    assert "created account" not in second.stderr
    assert second.stdout != first.stdout

    answers = [await me(tmp_path, database_url, out.stdout.strip()) for out in (first, second)]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert {a.json()["email"] for a in answers} == {"ops@example.org"}
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[0].json()["credential_count"] == 0

    listed = run_app("token", "list", "ops@example.org", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[1] == "ci"
    assert lines[1].split("\t")[1] == "cli"  # the default name
    assert first.stdout.strip() not in listed.stdout


async def test_revoke_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url}
    token = run_app("token", "create", "ops@example.org", env=env).stdout.strip()
    token_id = run_app("token", "list", "ops@example.org", env=env).stdout.split("\t")[0]
    revoked = run_app("token", "revoke", "ops@example.org", token_id, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == f"revoked {token_id}\n"
    answer = await me(tmp_path, url, token)
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_revoked"
    again = run_app("token", "revoke", "ops@example.org", token_id, env=env)
    assert again.returncode == 1
    assert again.stderr.strip().endswith("error: No such token on your account")
    assert run_app("token", "list", "ops@example.org", env=env).stdout == ""


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["create", "not-an-email"], 2, "error: not an email address: 'not-an-email'"),
        (["create", "a@example.org", "--expires-days", "0"], 2, "expires_in_days must be"),
        (["create", "a@example.org", "--expires-days", "366"], 2, "between 1 and 365"),
        (["create", "a@example.org", "--name", "  "], 2, "error: A token name cannot be blank"),
        (["list", "nobody@example.org"], 1, "error: no account for nobody@example.org"),
        (["revoke", "nobody@example.org", "x"], 1, "error: no account for nobody@example.org"),
    ],
)
def test_refusals_say_why_on_stderr_and_print_nothing(
    tmp_path: Path, args: list[str], status: int, message: str
) -> None:
    result = run_app(
        "token", *args, env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    )
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.server
def test_headless_flow_token_then_ask_stream(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'headless.db'}"
    server = live_server(env={"DATABASE_URL": url})
    created = run_app("token", "create", "you@example.org", env={"DATABASE_URL": url})
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
    with httpx.Client(base_url=server.base_url, timeout=60, trust_env=False) as client:
        response = client.post("/ask-stream", json={"question": QUESTION}, headers=headers)
        assert response.status_code == 200, response.text
        events = [frame.event for frame in parse_sse(response.text) if frame.id is not None]
        assert events[0] == "started"
        assert events[-1] == "completed"
        assert client.get("/auth/me", headers=headers).json()["email"] == "you@example.org"
