"""A small in-memory LRU of rendered images, bounded by entries and by bytes, with expiry.

Images are rendered on demand (a grid plot, a PNG of a run's chart) and the same name is
asked for again and again by the ``<img>`` tags of clients; a bounded memory cache makes the
repeat free without letting a stream of distinct names grow the process. Each worker has
its own: an image is cheap to redraw, and nothing here must be shared for correctness.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ImageCache"]


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    expires_at: float


class ImageCache:
    """``get``/``put`` by key; least recently used entries go first when a bound is hit."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("an image cache needs room for at least one entry and byte")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.data

    def put(self, key: str, data: bytes, ttl_s: float) -> None:
        """Keep ``data`` for ``ttl_s`` seconds (an image larger than the whole budget is not
        kept at all)."""
        if key in self._entries:
            self._drop(key)
        if len(data) > self.max_bytes or ttl_s <= 0:
            return
        self._entries[key] = _Entry(data, self._clock() + ttl_s)
        self._bytes += len(data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def discard(self, key: str) -> None:
        """Forget ``key`` if it is kept."""
        if key in self._entries:
            self._drop(key)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.data)
