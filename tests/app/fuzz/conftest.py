"""The fuzz tier's target: the real service (``python -m app`` → granian) on a free port, with
a signed-in passkey user, on SQLite always and on PostgreSQL under ``CI=true``.

One server per backend for the whole tier (session scope): starting one costs seconds, and
the fuzzers are meant to share its state (what one request creates, the next may find). The
sign-in rate limit is raised so the fuzzers reach the ceremonies' validation instead of a
429 after 30 requests. After the tier, the server's log must hold no ``internal error``
(a 5xx that a streamed response could hide from the status code).

PostgreSQL costs a second server and a throwaway database, so locally it runs only with
``FUZZ_POSTGRES=1``; under ``CI=true`` it always runs (and fails if PostgreSQL is missing).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import in_ci
from tests.live_server import LiveServer, start_server
from tests.support.backends import throwaway_database
from tests.support.webauthn import AuthedUser, signed_in_user

__all__ = ["FuzzTarget"]

# What the fuzzers may send per minute without being refused for volume.
_GENEROUS_LIMITS = {
    "APP__RATE_LIMIT__CEREMONY_PER_MINUTE": "1000000",
    "APP__RUNS__MAX_CONCURRENT_PER_USER": "64",
}


@dataclass(frozen=True)
class FuzzTarget:
    """A live server and a signed-in user of it."""

    backend: str
    server: LiveServer
    user: AuthedUser

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def internal_errors(self) -> list[str]:
        """The error lines of :mod:`app.errors` (a request that ended in a 500)."""
        found = []
        for line in self.server.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(entry, dict)
                and entry.get("logger") == "app.errors"
                and entry.get("level") == "error"
            ):
                cause = str(entry.get("exception", "")).strip().splitlines()[-1:]
                found.append(f"{entry.get('event')} {entry.get('request_id')}: {cause}")
        return found


async def _sign_in(base_url: str) -> AuthedUser:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client:
        return await signed_in_user(client, "fuzz@example.org")


def _postgres_enabled() -> bool:
    return in_ci() or os.environ.get("FUZZ_POSTGRES") == "1"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    backend: str = request.param
    log_dir: Path = tmp_path_factory.mktemp(f"fuzz-{backend}")
    if backend == "sqlite":
        yield from _serve(backend, dict(_GENEROUS_LIMITS), log_dir)
        return
    if not _postgres_enabled():
        pytest.skip("the PostgreSQL fuzz tier runs under CI=true (or FUZZ_POSTGRES=1)")
    with throwaway_database("sca_fuzz") as dsn:
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        yield from _serve(backend, {**_GENEROUS_LIMITS, "DATABASE_URL": url}, log_dir)


def _serve(backend: str, env: dict[str, str], log_dir: Path) -> Iterator[FuzzTarget]:
    server = start_server(env, [], log_dir=log_dir)
    try:
        target = FuzzTarget(backend, server, asyncio.run(_sign_in(server.base_url)))
        yield target
        assert target.internal_errors() == [], "\n".join(target.internal_errors()[:5])
    finally:
        server.stop()
