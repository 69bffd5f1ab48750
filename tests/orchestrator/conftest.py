"""Fixtures shared by the orchestrator tests: the fake OpenAI server, captured logs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from tests.fakes.openai_server import FakeOpenAI, serve


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """The fake OpenAI server on a free port (real HTTP) and its base URL."""
    app = FakeOpenAI()
    async with serve(app) as base_url:
        yield app, base_url


@pytest.fixture
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture structlog output instead of rendering it (rendering tracebacks is slow)."""
    with structlog.testing.capture_logs() as logs:
        yield logs
