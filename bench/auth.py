"""Passkey sign-in and token verification cost, against the real server (granian + SQLite).

* **Login ceremony**: ``POST /auth/login/begin`` + ``POST /auth/login/complete`` signed by the
  software authenticator of the tests (ES256), over loopback HTTP: ms p50/p99 sequentially,
  and ceremonies/s with ``--concurrency`` clients (one user and passkey each, so counters
  never race).
* **Token verification per request**: an authenticated ``GET /auth/me`` (JWT decode, user
  lookup, revocation query, then the handler's own two queries) next to the unauthenticated
  ``GET /health`` (a database ping) and a refused ``GET /auth/me`` without a token, in the same
  run; ms p50/p99 and requests/s.
* **In-process**: µs per JWT decode+verify and per revocation lookup (the two parts of
  verification), without HTTP.

Prints a Markdown section for BENCHMARKS.md. Usage::

    .venv/bin/python -m bench.auth [--logins 200] [--requests 1000] [--concurrency 8]
                                   [--database-url URL] [--output auth.md]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth.models import RevokedToken  # noqa: E402
from app.auth.tokens import TokenService  # noqa: E402
from app.db.engine import Database  # noqa: E402
from app.db.migrate import migrate  # noqa: E402
from app.settings import AuthSettings, DatabaseSettings  # noqa: E402
from tests.live_server import TEST_JWT_SECRET, LiveServer, start_server  # noqa: E402
from tests.support.webauthn import SoftAuthenticator, register  # noqa: E402


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, latencies_ms: list[float], per_second: float) -> str:
    return (
        f"| {name} | {statistics.median(latencies_ms):.2f} | {percentile(latencies_ms, 99):.2f} "
        f"| {per_second:,.0f} |"
    )


async def timed(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def throughput(calls: list[Callable[[], Awaitable[None]]], per_worker: int) -> float:
    """Operations per second with one worker per callable, all running at once."""

    async def worker(call: Callable[[], Awaitable[None]]) -> None:
        for _ in range(per_worker):
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker(call) for call in calls))
    return len(calls) * per_worker / (time.perf_counter() - started)


def login_call(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, email: str
) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        begin = await client.post("/auth/login/begin", json={"email": email})
        begin.raise_for_status()
        done = await client.post("/auth/login/complete", json=authenticator.get(begin.json()))
        done.raise_for_status()

    return call


def get_call(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        response = await client.get(path, headers=headers)
        if response.status_code != status:
            msg = f"GET {path}: {response.status_code} {response.text}"
            raise RuntimeError(msg)

    return call


async def http_section(server: LiveServer, args: argparse.Namespace) -> list[str]:
    origin = f"http://localhost:{server.port}"
    async with httpx.AsyncClient(base_url=origin, trust_env=False, timeout=30) as client:
        users = []
        for i in range(args.concurrency):
            authenticator = SoftAuthenticator(origin=origin)
            email = f"bench-{i}@example.org"
            await register(client, email, authenticator)
            users.append((authenticator, email))
        first = login_call(client, *users[0])
        await timed(first, 10)  # warm-up
        login_ms = await timed(first, args.logins)
        login_rate = await throughput(
            [login_call(client, a, e) for a, e in users], max(1, args.logins // args.concurrency)
        )

        begin = await client.post("/auth/login/begin", json={"email": users[0][1]})
        done = await client.post("/auth/login/complete", json=users[0][0].get(begin.json()))
        bearer = {"Authorization": f"Bearer {done.json()['access_token']}"}
        probes = {
            "GET /health (no auth, DB ping)": get_call(client, "/health", {}, 200),
            "GET /auth/me with a valid bearer": get_call(client, "/auth/me", bearer, 200),
            "GET /auth/me without a token (401)": get_call(client, "/auth/me", {}, 401),
        }
        rows = [row("login ceremony (begin + complete)", login_ms, login_rate)]
        for name, call in probes.items():
            await timed(call, 20)
            latencies = await timed(call, args.requests)
            rate = await throughput(
                [call] * args.concurrency, max(1, args.requests // args.concurrency)
            )
            rows.append(row(name, latencies, rate))
    return rows


async def in_process_section(iterations: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp}/bench.db"))
        await migrate(database.engine)
        settings = AuthSettings(jwt_secret=TEST_JWT_SECRET)
        tokens = TokenService(
            database.session_maker,
            settings,
            signing_key=TEST_JWT_SECRET,
            verify_key=TEST_JWT_SECRET,
        )
        async with database.session_maker.begin() as session:
            session.add_all(
                RevokedToken(jti=f"other-{i}", expires_at=_in_an_hour()) for i in range(1000)
            )
        encoded, _ = tokens.encode_access("user-1", "family-1")
        started = time.perf_counter()
        for _ in range(iterations):
            token = tokens.decode_access(encoded)
        decode_us = (time.perf_counter() - started) / iterations * 1e6
        lookups = max(1, iterations // 10)
        started = time.perf_counter()
        for _ in range(lookups):
            revoked = await tokens.is_revoked(token)
        revoked_us = (time.perf_counter() - started) / lookups * 1e6
        assert not revoked
        await database.dispose()
    return [
        f"| JWT decode + verify (HS256, iss/aud/typ checks) | {decode_us:.1f} µs |",
        f"| revocation lookup (SQLite, 1,000 revoked rows) | {revoked_us:.1f} µs |",
    ]


def _in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--database-url",
        help="e.g. postgresql+asyncpg://postgres@127.0.0.1/bench (default: SQLite)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {"APP__RATE_LIMIT__ENABLED": "false", "APP__LOGGING__LEVEL": "WARNING"}
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        server = start_server(env, [], log_dir=Path(tmp))
        try:
            http_rows = await http_section(server, args)
        finally:
            server.stop()
    process_rows = await in_process_section(10_000)

    lines = [
        "## Auth (passkeys and tokens)",
        "",
        f"`python -m bench.auth --logins {args.logins} --requests {args.requests} "
        f"--concurrency {args.concurrency}`: real server (granian, 1 worker, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}), "
        "loopback HTTP with httpx, software authenticator (ES256). "
        f"Rates use {args.concurrency} concurrent clients.",
        "",
        "| operation | p50 ms | p99 ms | per second |",
        "|---|---|---|---|",
        *http_rows,
        "",
        "| in-process step | time per call |",
        "|---|---|",
        *process_rows,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
