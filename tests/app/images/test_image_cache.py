"""The bounded image cache and the render queue bound of ``/images``."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import DomainError
from app.images.cache import ImageCache
from app.images.controller import MAX_CONCURRENT_RENDERS, MAX_WAITING_RENDERS, ImageService


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_images_go_first_when_full() -> None:
    cache = ImageCache(max_entries=2, max_bytes=1000)
    cache.put("a", b"1", 60)
    cache.put("b", b"2", 60)
    assert cache.get("a") == b"1"  # "a" is now the most recently used
    cache.put("c", b"3", 60)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (b"1", b"3")
    assert len(cache) == 2


def test_the_byte_budget_evicts_and_oversized_images_are_not_kept() -> None:
    cache = ImageCache(max_entries=10, max_bytes=10)
    cache.put("a", b"x" * 6, 60)
    cache.put("b", b"y" * 6, 60)
    assert cache.get("a") is None
    assert cache.size_bytes == 6
    cache.put("huge", b"z" * 11, 60)
    assert cache.get("huge") is None
    assert cache.get("b") == b"y" * 6


def test_entries_expire_and_replacing_one_keeps_the_byte_count_right() -> None:
    clock = Clock()
    cache = ImageCache(max_entries=10, max_bytes=100, clock=clock)
    cache.put("a", b"12345", 60)
    cache.put("a", b"123", 60)
    assert cache.size_bytes == 3
    clock.now = 59.9
    assert cache.get("a") == b"123"
    clock.now = 60.0
    assert cache.get("a") is None
    assert cache.size_bytes == 0


def test_a_cache_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ImageCache(max_entries=0, max_bytes=10)


async def test_renders_are_bounded_and_a_long_queue_answers_busy() -> None:
    service = ImageService()
    release = asyncio.Event()
    running = 0
    peak = 0

    async def render() -> bytes:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return b"png"

    tasks = [asyncio.create_task(service.bounded(render)) for _ in range(MAX_WAITING_RENDERS)]
    await asyncio.sleep(0.01)
    assert running == MAX_CONCURRENT_RENDERS
    with pytest.raises(DomainError) as refused:
        await service.bounded(render)
    assert (refused.value.status, refused.value.code) == (503, "images_busy")
    release.set()
    assert await asyncio.gather(*tasks) == [b"png"] * MAX_WAITING_RENDERS
    assert peak == MAX_CONCURRENT_RENDERS
    assert await service.bounded(render) == b"png"  # the queue drained: accepted again
