"""Worker identities, and telling a dead worker of this machine from a live one.

A ``worker_id`` is ``host:pid-namespace:pid:random``. A run whose worker is on this host, in
this PID namespace, and whose process no longer exists is closed at once instead of when its
lease expires: a restarted service (or a respawned granian worker) tidies up immediately.
Everywhere else (another machine or container, or a platform without ``/proc``) the lease
stays the only evidence, because a PID there says nothing about a process here.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from functools import cache

__all__ = ["is_dead_here", "local_prefix", "new_worker_id", "worker_pid"]


@cache
def _pid_namespace() -> str | None:
    """This process's PID namespace id (Linux), e.g. ``4026531836``; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None
    digits = "".join(ch for ch in link if ch.isdigit())
    return digits or None


def local_prefix() -> str | None:
    """The ``worker_id`` prefix shared by every worker whose PID this process can check."""
    namespace = _pid_namespace()
    return None if namespace is None else f"{socket.gethostname()}:{namespace}:"


def new_worker_id() -> str:
    namespace = _pid_namespace() or "-"
    return f"{socket.gethostname()}:{namespace}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def worker_pid(worker_id: str) -> int | None:
    """The PID in a ``host:pid-namespace:pid:random`` worker id (None if it is not one)."""
    parts = worker_id.split(":")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


def is_dead_here(worker_id: str, own_id: str) -> bool:
    """True only when ``worker_id`` certainly names a process of this host that has exited."""
    prefix = local_prefix()
    if prefix is None or worker_id == own_id or not worker_id.startswith(prefix):
        return False
    pid = worker_pid(worker_id)
    if pid is None:
        return False
    if pid == os.getpid():
        return True  # this process now holds that PID, so the one that had it is gone
    try:
        os.kill(pid, 0)  # signal 0: existence check only (Linux; never sent on Windows)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by another user
    return False  # alive, or its PID was reused: the lease decides
