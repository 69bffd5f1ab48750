"""The directory every granian worker writes its metrics to (prometheus-client multiprocess).

``python -m app`` calls :func:`prepare` before granian starts the workers: it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory (an operator's own value is kept, and
emptied: files of an earlier start would add old counts to this one), which the workers
inherit. Each worker writes its values to memory-mapped files named after its pid; any worker
answering ``/metrics`` reads them all. A worker that stops cleanly marks itself dead; one that
crashed is found at the next scrape (its pid no longer exists) and marked dead then, so its
``livesum`` gauges (active runs, subscribers) leave the sum while its counters stay counted.

This module never imports prometheus-client at import time: the launcher must not load it
before the variable is set (the library picks its storage once, when first imported).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Final

__all__ = [
    "MULTIPROC_ENV",
    "cleanup",
    "mark_dead_workers",
    "mark_process_dead",
    "pid_alive",
    "prepare",
]

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"^gauge_(?:live\w+)_(\d+)\.db$")


def prepare(environ: MutableMapping[str, str] | None = None) -> tuple[Path, bool]:
    """Set up the directory for this start; returns it and whether it was created here
    (then :func:`cleanup` removes it at exit)."""
    env = os.environ if environ is None else environ
    given = env.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for entry in path.glob("*.db"):
            entry.unlink(missing_ok=True)
        return path, False
    path = Path(tempfile.mkdtemp(prefix="sca-metrics-"))
    env[MULTIPROC_ENV] = str(path)
    return path, True


def cleanup(path: Path, created: bool) -> None:
    """Remove a directory :func:`prepare` created (an operator's own directory is kept)."""
    if created:
        shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_process_dead(pid: int, path: str | os.PathLike[str]) -> None:
    """Drop ``pid``'s live gauges (``livesum`` …) from the sum; its counters stay."""
    from prometheus_client import multiprocess

    mark: Callable[[int, str], None] = multiprocess.mark_process_dead
    mark(pid, str(path))


def mark_dead_workers(path: str | os.PathLike[str]) -> list[int]:
    """Mark every worker whose live-gauge files remain but whose process is gone; returns
    their pids."""
    dead: set[int] = set()
    try:
        names = os.listdir(path)
    except OSError:
        return []
    for name in names:
        match = _LIVE_GAUGE_FILE.match(name)
        if match is not None and not pid_alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in sorted(dead):
        mark_process_dead(pid, path)
    return sorted(dead)
