"""One worker thread for CPU-bound tool work (grid generation and analysis, sync tools).

Work moved off the event loop into threads still needs the GIL, which CPython shares out
round-robin among the threads that want it: with six busy ``asyncio.to_thread`` workers the
loop thread gets about a seventh of the interpreter, and every client of the process waits.
Pure-Python work gains nothing from more threads, so it all queues on a single thread here
and the loop thread keeps at least half. (Charts, the heaviest work, run in a separate
process: :mod:`tools.render.executor`.)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["run_cpu_bound"]

P = ParamSpec("P")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _cpu_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tools-cpu")
        return _executor


async def run_cpu_bound(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` on the shared CPU thread (context variables carried over)."""
    loop = asyncio.get_running_loop()
    call = functools.partial(fn, *args, **kwargs)
    context = contextvars.copy_context()
    return await loop.run_in_executor(_cpu_executor(), context.run, call)
