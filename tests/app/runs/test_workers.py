"""Worker ids, and closing the runs of a dead process of this host without waiting for the lease."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.runs.workers import is_dead_here, local_prefix, new_worker_id, worker_pid

pytestmark = pytest.mark.skipif(
    local_prefix() is None, reason="needs Linux /proc/self/ns/pid to identify PID namespaces"
)


def exited_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_worker_id_names_host_namespace_and_pid() -> None:
    own = new_worker_id()
    prefix = local_prefix()
    assert prefix is not None
    assert own.startswith(prefix)
    assert worker_pid(own) == os.getpid()
    assert worker_pid("host:4026531836:not-a-pid:x") is None
    assert worker_pid("old-format:123:abc") is None
    assert new_worker_id() != own


def test_only_an_exited_process_of_this_host_is_dead(live_pid: int) -> None:
    own = new_worker_id()
    prefix = local_prefix()
    assert prefix is not None
    assert is_dead_here(f"{prefix}{exited_pid()}:0000aaaa", own)
    assert not is_dead_here(f"{prefix}{live_pid}:0000aaaa", own)
    # This process holds the PID now, so an earlier holder with another id has exited.
    assert is_dead_here(f"{prefix}{os.getpid()}:0000aaaa", own)
    assert not is_dead_here(own, own)
    # Elsewhere a PID says nothing: another host, another PID namespace, or no namespace.
    assert not is_dead_here(f"other-host:{prefix.split(':')[1]}:{exited_pid()}:x", own)
    assert not is_dead_here(f"{prefix.split(':')[0]}:1:{exited_pid()}:x", own)
    assert not is_dead_here(f"{prefix.split(':')[0]}:-:{exited_pid()}:x", own)
    assert not is_dead_here(f"{prefix}not-a-pid:x", own)
