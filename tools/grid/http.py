"""One careful GET for the live grid sources: timeout, bounded retries with backoff on
timeouts, connection errors, 429 and 5xx; anything else becomes a GridDataError."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

from tools.grid.model import GridDataError

__all__ = ["get_json"]

_RETRY_STATUS = {429, 500, 502, 503, 504}


async def get_json(
    url: str,
    params: dict[str, str],
    *,
    source: str,
    timeout_s: float,
    retries: int,
    backoff_s: float = 0.25,
) -> Any:
    """GET ``url`` and decode JSON; retry transient failures ``retries`` times."""
    last_problem = "no attempt made"
    async with httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout_s),
        headers={"Accept": "application/json", "User-Agent": "sustainable-city-ai/1.0"},
    ) as client:
        for attempt in range(max(0, retries) + 1):
            if attempt:
                await asyncio.sleep(min(backoff_s * 2 ** (attempt - 1), 5.0))
            try:
                response = await client.get(url, params=params)
            except httpx2.TimeoutException:
                last_problem = f"timed out after {timeout_s:g} s"
                continue
            except httpx2.TransportError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
                continue
            if response.status_code in _RETRY_STATUS:
                last_problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise GridDataError(f"{source} answered HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError as exc:
                raise GridDataError(f"{source} returned invalid JSON") from exc
    attempts = max(0, retries) + 1
    raise GridDataError(f"{source} unavailable after {attempts} attempts: {last_problem}")
