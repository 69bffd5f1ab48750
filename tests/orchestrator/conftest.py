"""Fixtures shared by the provider tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_server import FakeOpenAI, serve


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """The fake OpenAI server on a free port (real HTTP) and its base URL."""
    app = FakeOpenAI()
    async with serve(app) as base_url:
        yield app, base_url
