"""The predecessor's health keys, derived from this service's real state.

The predecessor's web client (React) reads scalar keys next to the component objects of
``GET /health`` and crashes when one is missing: ``components.agents_status``,
``openai_client_status``, ``openai_api_status``, ``api_key_configured``,
``data_directory_exists``, ``data_files_count``, and the top-level ``api_error`` and
``uptime_check``. They keep their old meanings here, but every value is computed from what the
service knows, never a constant:

- ``agents_status``: ``"initialized"`` while this worker's orchestrator exists (built by the
  runs lifespan with its assistants), else ``"not_initialized"``.
- ``openai_client_status``: ``"connected"`` when the orchestrator's provider is a client of an
  OpenAI-compatible server (``openai`` or ``openai_chat``), its configuration is complete and
  the health probe (``GET /models``, :mod:`app.health_probe`) did not find the server
  unreachable; ``"not_connected"`` otherwise, and for the offline engine.
- ``openai_api_status``: what runs last learned about the API (health checks never pay for an
  LLM call): ``"healthy"`` after a run the model server answered, ``"invalid_key"`` /
  ``"forbidden"`` after a 401 / 403, ``"quota_exceeded"`` after OpenAI's insufficient-quota
  429, ``"error"`` for another reported failure. Before any run, the probe speaks:
  ``"healthy"`` when the server answered with the models, ``"invalid_key"`` / ``"forbidden"``
  when it refused the key, ``"error"`` when it is unreachable or lacks a model. ``"unknown"``
  offline, or with the probe off and no run yet.
- ``api_key_configured``: whether ``llm.api_key`` (``OPENAI_API_KEY``) is set.
- ``data_directory_exists`` / ``data_files_count``: ``server.data_dir`` and the regular files
  under it (counted in a thread, capped at :data:`MAX_COUNTED_FILES`).
- ``api_error``: the provider's problem when it is not healthy (configuration or a reported
  failure), else null. ``uptime_check``: when this check ran (UTC, ISO 8601).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from app.health import ComponentStatus
    from app.settings import Settings
    from orchestrator import Orchestrator, ProbeResult

__all__ = [
    "MAX_COUNTED_FILES",
    "ApiStatus",
    "LegacyHealth",
    "api_status_of_failure",
    "legacy_health",
]

ApiStatus = Literal["healthy", "unknown", "quota_exceeded", "invalid_key", "forbidden", "error"]
MAX_COUNTED_FILES = 100_000  # a check must stay cheap: stop counting (and report) this many
_OPENAI_PROTOCOL = frozenset({"openai", "openai_chat"})
_API_STATUSES: dict[str, ApiStatus] = {status: status for status in get_args(ApiStatus)}


def api_status_of_failure(code: str, error: str) -> ApiStatus | None:
    """What a run's ``error`` event says about the model server's API, when it says anything
    lasting: a rejected key, a forbidden project, an exhausted quota. Transient failures
    (timeouts, 5xx, ordinary rate limits) say nothing about the API's state: None."""
    if code == "llm_auth_failed":
        return "forbidden" if "HTTP 403" in error else "invalid_key"
    if code == "llm_rate_limited" and ("insufficient_quota" in error or "quota" in error.lower()):
        return "quota_exceeded"
    return None


def _api_status(
    provider_name: str | None, reported: ComponentStatus | None, probe: ProbeResult | None
) -> ApiStatus:
    if provider_name not in _OPENAI_PROTOCOL:
        return "unknown"
    if reported is None:
        return _probe_api_status(probe)
    known = _API_STATUSES.get(str(reported.details.get("api_status")))
    if known is not None:
        return known
    return "healthy" if reported.status == "healthy" else "error"


def _probe_api_status(probe: ProbeResult | None) -> ApiStatus:
    if probe is None:
        return "unknown"
    if probe.status == "ok":
        return "healthy"
    if probe.status == "rejected":
        return "forbidden" if "HTTP 403" in probe.message else "invalid_key"
    return "error"


def _count_files(root: Path) -> tuple[bool, int]:
    if not root.is_dir():
        return False, 0
    count = 0
    for _dirpath, _dirnames, filenames in os.walk(root):
        count += len(filenames)
        if count >= MAX_COUNTED_FILES:
            return True, MAX_COUNTED_FILES
    return True, count


@dataclass(frozen=True, slots=True)
class LegacyHealth:
    """The predecessor's keys: ``components`` extras and the two top-level fields."""

    components: dict[str, Any]
    api_error: str | None
    uptime_check: str


async def legacy_health(
    settings: Settings,
    orchestrator: Orchestrator | None,
    provider: ComponentStatus,
    reported_provider: ComponentStatus | None,
    checked_at: str,
    *,
    probe: ProbeResult | None = None,
) -> LegacyHealth:
    """The predecessor's keys from the settings, this worker's orchestrator, the provider
    component as ``/health`` computed it, the provider report runs left (if any) and the
    model server's probe (if it ran)."""
    provider_name = None if orchestrator is None else orchestrator.provider.name
    reachable = probe is None or probe.status != "unreachable"
    connected = provider_name in _OPENAI_PROTOCOL and _complete(settings) and reachable
    exists, count = await asyncio.to_thread(_count_files, Path(settings.server.data_dir))
    components: dict[str, Any] = {
        "agents_status": "initialized" if orchestrator is not None else "not_initialized",
        "openai_client_status": "connected" if connected else "not_connected",
        "openai_api_status": _api_status(provider_name, reported_provider, probe),
        "api_key_configured": bool(settings.llm.api_key),
        "data_directory_exists": exists,
        "data_files_count": count,
    }
    api_error = None if provider.status == "healthy" else provider.message
    return LegacyHealth(components, api_error, checked_at)


def _complete(settings: Settings) -> bool:
    """Whether the provider has what it needs to reach its server (key / base URL)."""
    llm = settings.llm
    if llm.provider == "openai":
        return bool(llm.api_key)
    return bool(llm.base_url)
