"""Parsing an upload off the event loop, within its limits and its share of the worker.

The parse itself (``tools.analysis.upload``) is linear in the file and stops at its CPU-time
budget (``datasets.parse_cpu_s``, the parsing thread's own CPU clock). It runs in a worker
thread, so the event loop keeps answering while a file is read; but a thread still shares
the interpreter, so each worker parses at most ``datasets.max_concurrent_parses`` files at
once and answers any further upload at that moment with 503 ``uploads_busy`` and
``Retry-After`` rather than queueing more CPU work behind it (issue 14, row 1: three large
uploads at once took ``/health`` from 15 to 311 ms and a plain ``/ask`` from 0.3 to 12 s).
"""

from __future__ import annotations

import asyncio

from app.datasets.errors import InvalidUpload, UploadsBusy
from app.settings import DatasetSettings
from tools.analysis.upload import ParsedUpload, UploadError, UploadLimits, parse_upload

__all__ = ["ParseSlots", "parse_off_loop", "upload_limits"]


class ParseSlots:
    """How many parses this worker runs now (touched only from its event loop's thread)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0

    def take(self) -> None:
        if self.busy >= self.size:
            raise UploadsBusy(
                f"This server is already parsing {self.busy} uploads; retry in a few seconds.",
                headers={"Retry-After": "2"},
            )
        self.busy += 1

    def give_back(self) -> None:
        self.busy -= 1


def upload_limits(settings: DatasetSettings) -> UploadLimits:
    """The parser's caps from ``[datasets]``."""
    return UploadLimits(
        max_columns=settings.max_columns,
        max_cell_chars=settings.max_cell_chars,
        max_cells=settings.max_cells,
        max_json_depth=settings.max_json_depth,
        cpu_budget_s=settings.parse_cpu_s,
    )


async def parse_off_loop(
    content: bytes, filename: str, settings: DatasetSettings, slots: ParseSlots
) -> ParsedUpload:
    """The parsed upload; 422 ``invalid_upload`` naming the fault, 503 when the worker is full."""
    slots.take()
    try:
        return await asyncio.to_thread(
            parse_upload,
            content,
            filename,
            settings.max_rows,
            settings.max_bytes,
            limits=upload_limits(settings),
        )
    except UploadError as exc:
        raise InvalidUpload(f"{filename}: {exc}") from exc
    finally:
        slots.give_back()
