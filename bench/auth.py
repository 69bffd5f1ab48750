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
* **Sign-in under a flood** (``--flood``): a second server with the default limits (30
  ceremony calls per minute per client, 10 per account, 100 pending challenges per client)
  but a challenge table of ``--flood-table`` (2,000) so that the flood fills it within the
  run, trusting the bench as its proxy, so ``X-Forwarded-For`` sets each simulated
  client's address. ``--flood-clients`` addresses (1,000 by default) hammer
  ``login/begin`` (usernameless and with made-up emails) as fast as ``--flood-concurrency``
  connections allow, while ``--users`` normal users, each from its own address, sign in
  (begin + complete, by email) at a human pace. The same users sign in on the quiet server
  first, in the same run: success rate, p50 and p99 quiet vs. flooded.

Prints a Markdown section for BENCHMARKS.md. Usage::

    .venv/bin/python -m bench.auth [--logins 200] [--requests 1000] [--concurrency 8]
                                   [--database-url URL] [--output auth.md]
    .venv/bin/python -m bench.auth --flood-only [--flood-seconds 30] [--flood-clients 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import secrets
import sqlite3
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


class SignInSample:
    """One normal user's sign-in: did it succeed, and how long did it take."""

    def __init__(self, ok: bool, ms: float, status: int) -> None:
        self.ok = ok
        self.ms = ms
        self.status = status


async def sign_in_once(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, email: str, address: str
) -> SignInSample:
    headers = {"X-Forwarded-For": address}
    started = time.perf_counter()
    begin = await client.post("/auth/login/begin", json={"email": email}, headers=headers)
    status = begin.status_code
    if status == 200:
        done = await client.post(
            "/auth/login/complete", json=authenticator.get(begin.json()), headers=headers
        )
        status = done.status_code
    return SignInSample(status == 200, (time.perf_counter() - started) * 1000, status)


async def normal_users(
    client: httpx.AsyncClient,
    users: list[tuple[SoftAuthenticator, str, str]],
    seconds: float,
    pause_s: tuple[float, float],
) -> list[SignInSample]:
    """Each user signs in, pauses a human while, and again, for ``seconds``."""
    samples: list[SignInSample] = []
    deadline = time.perf_counter() + seconds

    async def user(authenticator: SoftAuthenticator, email: str, address: str) -> None:
        await asyncio.sleep(random.uniform(0, pause_s[1]))
        while time.perf_counter() < deadline:
            samples.append(await sign_in_once(client, authenticator, email, address))
            await asyncio.sleep(random.uniform(*pause_s))

    await asyncio.gather(*(user(*u) for u in users))
    return samples


async def flood(
    client: httpx.AsyncClient, clients: int, connections: int, stop: asyncio.Event
) -> dict[int, int]:
    """``login/begin`` from ``clients`` addresses until ``stop``; status code -> count."""
    addresses = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(clients)]
    counts: dict[int, int] = {}
    order = itertools.cycle(random.sample(addresses, len(addresses)))

    async def connection() -> None:
        while not stop.is_set():
            address = next(order)
            body = {} if random.random() < 0.5 else {"email": f"{secrets.token_hex(4)}@x.test"}
            try:
                response = await client.post(
                    "/auth/login/begin", json=body, headers={"X-Forwarded-For": address}
                )
                counts[response.status_code] = counts.get(response.status_code, 0) + 1
            except httpx.HTTPError:
                counts[0] = counts.get(0, 0) + 1

    await asyncio.gather(*(connection() for _ in range(connections)))
    return counts


def sample_row(name: str, samples: list[SignInSample]) -> str:
    ok = [s.ms for s in samples if s.ok]
    refused = sorted({s.status for s in samples if not s.ok})
    share = 100 * len(ok) / len(samples) if samples else 0.0
    p50 = f"{statistics.median(ok):.1f}" if ok else "n/a"
    p99 = f"{percentile(ok, 99):.1f}" if ok else "n/a"
    return (
        f"| {name} | {len(samples)} | {share:.1f} % | {p50} | {p99} | "
        f"{', '.join(map(str, refused)) or 'none'} |"
    )


async def flood_section(args: argparse.Namespace, log_dir: Path) -> list[str]:
    env = {
        "APP__LOGGING__LEVEL": "WARNING",
        "APP__SERVER__TRUSTED_PROXIES": '["127.0.0.1"]',
        "APP__AUTH__MAX_PENDING_CHALLENGES": str(args.flood_table),
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    server = start_server(env, [], log_dir=log_dir)
    try:
        origin = f"http://localhost:{server.port}"
        limits = httpx.Limits(max_connections=args.flood_concurrency + args.users + 4)
        async with httpx.AsyncClient(
            base_url=origin, trust_env=False, timeout=60, limits=limits
        ) as client:
            users = []
            for i in range(args.users):
                authenticator = SoftAuthenticator(origin=origin)
                email = f"person-{i}@example.org"
                address = f"192.0.2.{i + 1}"
                client.headers["X-Forwarded-For"] = address
                await register(client, email, authenticator)
                users.append((authenticator, email, address))
            client.headers.pop("X-Forwarded-For", None)
            pause = (3.0, 9.0)  # under the 10-per-minute account limit
            quiet = await normal_users(client, users, args.flood_seconds / 2, pause)

            stop = asyncio.Event()
            flooding = asyncio.create_task(
                flood(client, args.flood_clients, args.flood_concurrency, stop)
            )
            await asyncio.sleep(5)  # let the flood fill the limiter and the challenge table
            started = time.perf_counter()
            flooded = await normal_users(client, users, args.flood_seconds, pause)
            stop.set()
            counts = await flooding
            elapsed = time.perf_counter() - started + 5
    finally:
        server.stop()
    pending = ""
    if not args.database_url:
        with sqlite3.connect(log_dir / f"app-{server.port}.db") as db:
            rows = db.execute(
                "SELECT count(*), count(DISTINCT client) FROM webauthn_challenges"
            ).fetchone()
        pending = f" At the end {rows[0]:,} challenges were pending, from {rows[1]:,} clients."
    total = sum(counts.values())
    refused = counts.get(429, 0)
    return [
        "| normal users' sign-ins | count | succeeded | p50 ms | p99 ms | failures |",
        "|---|---:|---:|---:|---:|---|",
        sample_row("quiet server", quiet),
        sample_row(f"during a flood from {args.flood_clients:,} clients", flooded),
        "",
        f"Flood: {total:,} `login/begin` calls in {elapsed:.0f} s ({total / elapsed:,.0f}/s) from "
        f"{args.flood_clients:,} addresses over {args.flood_concurrency} connections; "
        f"{counts.get(200, 0):,} got a challenge, {refused:,} got 429"
        + (f", {counts[0]:,} transport errors" if counts.get(0) else "")
        + "."
        + pending,
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
    parser.add_argument("--flood", action="store_true", help="add the flood section")
    parser.add_argument("--flood-only", action="store_true", help="only the flood section")
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--flood-clients", type=int, default=1000)
    parser.add_argument("--flood-concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--flood-table",
        type=int,
        default=2000,
        help="auth.max_pending_challenges of the flooded server (small, so the flood fills it)",
    )
    args = parser.parse_args()

    lines: list[str] = []
    if not args.flood_only:
        lines = await measured_section(args)
    if args.flood or args.flood_only:
        with tempfile.TemporaryDirectory() as tmp:
            flood_rows = await flood_section(args, Path(tmp))
        lines += [
            "### Sign-in during a flood",
            "",
            f"`python -m bench.auth --flood-only --flood-seconds {args.flood_seconds:g} "
            f"--flood-clients {args.flood_clients} --flood-concurrency "
            f"{args.flood_concurrency} --users {args.users} --flood-table {args.flood_table}`: "
            f"real server (granian, 1 worker, {'PostgreSQL' if args.database_url else 'SQLite'}), "
            f"default limits except a table of {args.flood_table:,} pending challenges (so the "
            "flood fills it within the run), "
            f"{args.users} normal users each signing in every 3 to 9 s from their own address.",
            "",
            *flood_rows,
            "",
        ]
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")


async def measured_section(args: argparse.Namespace) -> list[str]:
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

    return [
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


if __name__ == "__main__":
    asyncio.run(main())
