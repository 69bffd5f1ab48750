"""``/health``'s probe of the model server: cheap, cached, shared by concurrent callers.

The provider's :func:`~orchestrator.providers.base.probe_provider` lists the server's models
(``GET /models``: no model runs, no token is spent). Load balancers call ``/health`` every few
seconds and from several places, so one probe result serves every call for
``server.health_probe_ttl_s`` seconds, and calls that arrive while a probe is in flight wait
for that probe instead of starting their own. ``0`` turns the probe off (the provider is then
judged on its configuration and on what runs report, as before).

The probe runs as its own task: a ``/health`` request that disconnects does not cancel the
probe other callers are waiting for.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from orchestrator import ProbeResult, probe_provider

if TYPE_CHECKING:
    from orchestrator import Orchestrator

__all__ = ["ProviderProbe", "probe_models_of"]


def probe_models_of(orchestrator: Orchestrator) -> tuple[str, ...]:
    """Every model the orchestrator's assistants call, each once, in a stable order."""
    return tuple(dict.fromkeys(spec.model for spec in orchestrator.assistants.values()))


class ProviderProbe:
    """One cached probe result per process (per app), refreshed after ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float, timeout_s: float) -> None:
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.probes = 0  # probes started (for tests and metrics)
        self._result: ProbeResult | None = None
        self._checked_at = 0.0
        self._running: asyncio.Task[ProbeResult] | None = None

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def forget(self) -> None:
        """Drop the cached result: the next call probes again."""
        self._result = None

    async def result(self, orchestrator: Orchestrator) -> ProbeResult:
        """The cached result while fresh, else the result of one shared probe."""
        if self._result is not None and time.monotonic() - self._checked_at < self.ttl_s:
            return self._result
        if self._running is None or self._running.done():
            self.probes += 1
            self._running = asyncio.create_task(self._probe(orchestrator), name="health-probe")
        return await asyncio.shield(self._running)

    async def _probe(self, orchestrator: Orchestrator) -> ProbeResult:
        models = probe_models_of(orchestrator)
        try:
            # The SDK's own timeout bounds the request; this bounds anything around it.
            async with asyncio.timeout(self.timeout_s + 1.0):
                result = await probe_provider(orchestrator.provider, models, self.timeout_s)
        except TimeoutError:
            result = ProbeResult(
                status="unreachable",
                message=f"the model server did not answer within {self.timeout_s:g} s",
            )
        except Exception as exc:  # a probe must never fail /health itself
            result = ProbeResult(status="error", message=f"probe failed: {type(exc).__name__}")
        self._result, self._checked_at = result, time.monotonic()
        return result
