"""Every metric of the service in one place: names, help, labels, buckets, and rendering.

Label values are bounded. Routes are templates (``/runs/{run_id}``), never raw paths;
methods and statuses are the HTTP ones; error codes, steps, tools, providers and models come
from closed sets in practice (the error-code catalogue, configured assistants and tools), and
each label that could still grow is passed through a :class:`LabelGuard`, which lets the first
``limit`` distinct values through and reports any later one as ``other``: a misbehaving model
server that invents a new model name per answer cannot blow up the time series count.

One :class:`Metrics` per app (tests build several apps in one process, each with its own
registry). Under ``python -m app`` every worker process writes to the directory in
``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`app.metrics.multiproc`); a scrape of any worker then
reads all of them, so one scrape shows the sum over the workers. Gauges that describe a live
process (active runs, SSE subscribers, pool connections) use ``livesum``: a dead worker's
share is dropped, not frozen.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from app.metrics.multiproc import MULTIPROC_ENV, mark_dead_workers

__all__ = ["CONTENT_TYPE", "OTHER", "LabelGuard", "Metrics", "multiproc_dir"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
OTHER: Final = "other"

_PREFIX: Final = "sca_"
_HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_RUN_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_TOOL_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LLM_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def multiproc_dir() -> str | None:
    """The multiprocess directory of this process (set by ``python -m app``), if any."""
    return os.environ.get(MULTIPROC_ENV) or None


class LabelGuard:
    """At most ``limit`` distinct values of one label; later newcomers become ``other``.

    Per process: with N workers a label has at most N x ``limit`` values in the worst case
    (in practice the same few everywhere). Thread-safe (tool calls run in threads)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
            return value


class Metrics:
    """The service's metrics, registered in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.multiproc_dir = multiproc_dir()
        r = self.registry
        p = _PREFIX
        # -- HTTP ----------------------------------------------------------------------------
        self.http_requests = Counter(
            f"{p}http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            f"{p}http_request_duration_seconds",
            "Time from request to the end of the response body (an SSE stream: its length).",
            ["route", "method"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.sse_subscribers = Gauge(
            f"{p}sse_subscribers",
            "Open Server-Sent Events responses.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.sse_frames = Counter(
            f"{p}sse_frames",
            "SSE frames written: 'event' (a run event), 'keepalive' (comment), 'control'.",
            ["kind"],
            registry=r,
        )
        # -- runs ----------------------------------------------------------------------------
        self.runs_started = Counter(f"{p}runs_started", "Runs accepted.", registry=r)
        self.runs_completed = Counter(f"{p}runs_completed", "Runs that completed.", registry=r)
        self.runs_failed = Counter(
            f"{p}runs_failed",
            "Runs that ended with an error event, by its code (cancelled included).",
            ["code"],
            registry=r,
        )
        self.run_duration = Histogram(
            f"{p}run_duration_seconds",
            "Run duration by outcome (completed or failed).",
            ["outcome"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.step_duration = Histogram(
            f"{p}step_duration_seconds",
            "Duration of each finished step (planner included) by step kind.",
            ["step"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.runs_active = Gauge(
            f"{p}runs_active",
            "Runs executing now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.run_refusals = Counter(
            f"{p}run_refusals",
            "Runs refused before they started, by reason (process_limit, user_limit, "
            "conversation_busy, shutting_down).",
            ["reason"],
            registry=r,
        )
        # -- LLM -----------------------------------------------------------------------------
        self.llm_calls = Counter(
            f"{p}llm_calls",
            "Answered language-model calls by provider and model.",
            ["provider", "model"],
            registry=r,
        )
        self.llm_duration = Histogram(
            f"{p}llm_call_duration_seconds",
            "Duration of answered language-model calls.",
            ["provider", "model"],
            buckets=_LLM_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            f"{p}llm_tokens",
            "Tokens by provider, model and kind (input, cached, output, reasoning; cached is "
            "part of input, reasoning part of output).",
            ["provider", "model", "kind"],
            registry=r,
        )
        self.llm_cost = Counter(
            f"{p}llm_cost_usd",
            "Estimated cost in USD from [accounting.prices] (0 for an unpriced model).",
            ["provider", "model"],
            registry=r,
        )
        self.llm_errors = Counter(
            f"{p}llm_errors",
            "Failed language-model call attempts by provider, model and error code.",
            ["provider", "model", "code"],
            registry=r,
        )
        self.llm_retries = Counter(
            f"{p}llm_retries",
            "Failed attempts that were retried, by provider, model and error code.",
            ["provider", "model", "code"],
            registry=r,
        )
        # -- tools ---------------------------------------------------------------------------
        self.tool_calls = Counter(
            f"{p}tool_calls",
            "Tool calls by tool and status (finished or failed).",
            ["tool", "status"],
            registry=r,
        )
        self.tool_duration = Histogram(
            f"{p}tool_duration_seconds",
            "Tool call duration by tool.",
            ["tool"],
            buckets=_TOOL_BUCKETS,
            registry=r,
        )
        # -- auth ----------------------------------------------------------------------------
        self.auth_ceremonies = Counter(
            f"{p}auth_ceremonies",
            "Completed WebAuthn ceremonies (registration, authentication, add_credential) by "
            "outcome (success, refused, rate_limited, error).",
            ["ceremony", "outcome"],
            registry=r,
        )
        self.auth_rate_limited = Counter(
            f"{p}auth_rate_limited",
            "Requests refused by the sign-in rate limit (429), by route template.",
            ["route"],
            registry=r,
        )
        # -- database ------------------------------------------------------------------------
        self.db_pool_checked_out = Gauge(
            f"{p}db_pool_checked_out",
            "Database connections in use.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.db_pool_size = Gauge(
            f"{p}db_pool_size",
            "Configured pool size (connections kept open), summed over workers.",
            multiprocess_mode="livesum",
            registry=r,
        )
        # -- label bounds --------------------------------------------------------------------
        self.routes = LabelGuard(200)
        self.models = LabelGuard(32)
        self.providers = LabelGuard(8)
        self.tools = LabelGuard(64)
        self.steps = LabelGuard(32)
        self.codes = LabelGuard(64)

    def render(self) -> bytes:
        """The exposition: this registry, or in multiprocess mode every worker's files."""
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        mark_dead_workers(self.multiproc_dir)
        registry = CollectorRegistry()
        collector: Callable[..., object] = MultiProcessCollector
        collector(registry, path=self.multiproc_dir)
        return generate_latest(registry)
