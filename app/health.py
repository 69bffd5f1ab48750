"""``GET /health`` (liveness with real component checks) and ``GET /health/ready`` (readiness).

Checks are cheap and never cost money: a ``SELECT 1`` round trip, a Redis ``PING`` when Redis
is configured, the provider's configuration, and a cached probe of the model server
(``GET /models``, no LLM call: :mod:`app.health_probe`; an unreachable server or a missing
model makes the provider ``warning`` with the reason). Components that only learn
their state while working (e.g. the provider seeing a 401 from OpenAI) report it to the
:class:`HealthRegistry`; the endpoint folds those reports into its answer. ``/health`` also
carries the predecessor's scalar keys, derived from the same state (:mod:`app.health_compat`).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from app.auth.security import NO_AUTH
from app.db.migrate import migration_status
from app.health_compat import legacy_health
from app.health_probe import ProviderProbe
from app.logging import get_logger
from app.openapi_errors import error_responses
from app.state import get_database, get_health, get_orchestrator, get_redis, get_settings
from orchestrator import ProbeResult, ProbingProvider

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "ComponentStatus",
    "HealthController",
    "HealthRegistry",
    "HealthReport",
    "HealthStatus",
    "ReadinessReport",
]

HealthStatus = Literal["healthy", "warning", "unhealthy"]
_RANK: dict[str, int] = {"healthy": 0, "warning": 1, "unhealthy": 2}
CHECK_TIMEOUT_S = 2.0


def _version() -> str:
    try:
        return importlib.metadata.version("sustainable-city-ai")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = _version()
_log = get_logger("app.health")


class ComponentStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One component's state: ``details`` are extra JSON fields shown next to the message."""

    status: HealthStatus
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    updated_at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, **self.details}


_STATUS_ENCODER = msgspec.json.Encoder()
_STATUS_DECODER = msgspec.json.Decoder(ComponentStatus)


class HealthRegistry:
    """Statuses reported by running components, shared by every worker when Redis is set.

    Example, from the run service after the provider raised ``AuthenticationFailed``::

        await get_health(app.state).report("provider", "unhealthy", "OpenAI rejected the key")

    and ``await clear("provider")`` after the next successful run. Without Redis the reports
    live in this process. With Redis they are one hash (``key``, ``<prefix>:health``), so a 401
    seen by one worker shows on every worker's ``/health`` and a run completed on another
    clears it; if Redis is unreachable, this process's own reports are used instead.
    """

    def __init__(self, shared: Redis | None = None, key: str = "health") -> None:
        self._reports: dict[str, ComponentStatus] = {}
        self._shared = shared
        self._key = key

    async def report(
        self, component: str, status: HealthStatus, message: str, **details: Any
    ) -> None:
        item = ComponentStatus(status=status, message=message, details=details)
        self._reports[component] = item
        await self._write(component, _STATUS_ENCODER.encode(item))

    async def clear(self, component: str) -> None:
        self._reports.pop(component, None)
        await self._write(component, None)

    async def reports(self) -> dict[str, ComponentStatus]:
        if self._shared is None:
            return dict(self._reports)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                raw = await self._shared.hgetall(self._key)
            return {
                name if isinstance(name, str) else name.decode(): _STATUS_DECODER.decode(value)
                for name, value in raw.items()
            }
        except Exception as exc:  # Redis down: this process's own reports still count
            _log.warning("health.shared_read_failed", error=type(exc).__name__)
            return dict(self._reports)

    async def _write(self, component: str, value: bytes | None) -> None:
        if self._shared is None:
            return
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                if value is None:
                    await self._shared.hdel(self._key, component)
                else:
                    await self._shared.hset(self._key, component, value)
        except Exception as exc:  # never fail a run over its health report
            _log.warning("health.shared_write_failed", component=component, error=repr(exc))


class HealthReport(msgspec.Struct, kw_only=True):
    """``components`` holds one object per real check plus the predecessor's scalar keys
    (``agents_status``, ``openai_api_status``, … see :mod:`app.health_compat`)."""

    status: HealthStatus
    message: str
    timestamp: str
    version: str
    # The predecessor's top-level keys: the provider's problem (null when healthy) and when
    # this check ran.
    api_error: str | None
    uptime_check: str
    components: dict[str, Any]


class ReadinessReport(msgspec.Struct, kw_only=True):
    ready: bool
    status: HealthStatus
    message: str
    timestamp: str
    components: dict[str, dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _worst(statuses: list[ComponentStatus]) -> HealthStatus:
    worst: HealthStatus = "healthy"
    for item in statuses:
        if _RANK[item.status] > _RANK[worst]:
            worst = item.status
    return worst


async def _check_database(request: Request[Any, Any, Any]) -> ComponentStatus:
    database = get_database(request.app.state)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            latency = await database.ping()
    except Exception as exc:  # any driver error means "unreachable" for this check
        return ComponentStatus(
            status="unhealthy",
            message=f"database unreachable: {type(exc).__name__}",
            details={"backend": database.backend},
        )
    return ComponentStatus(
        status="healthy",
        message="database reachable",
        details={"backend": database.backend, "latency_ms": round(latency, 2)},
    )


def _check_config(request: Request[Any, Any, Any]) -> ComponentStatus:
    settings = get_settings(request.app.state)
    return ComponentStatus(
        status="healthy",
        message="configuration valid",
        details={"mode": settings.server.mode, "workers": settings.server.workers},
    )


_PROBE_STATE = "health_provider_probe"


async def _probe_provider(request: Request[Any, Any, Any]) -> ProbeResult | None:
    """The model server's cached probe, or None (probe off, no orchestrator, or a provider
    without a server to probe, such as the offline engine)."""
    state = request.app.state
    orchestrator = get_orchestrator(state)
    if orchestrator is None or not isinstance(orchestrator.provider, ProbingProvider):
        return None
    if _check_provider(request, None).status != "healthy":
        return None  # no key / base URL: the configuration is the problem to report
    probe = state.get(_PROBE_STATE)
    if not isinstance(probe, ProviderProbe):
        ttl_s = get_settings(state).server.health_probe_ttl_s
        probe = ProviderProbe(ttl_s=ttl_s, timeout_s=CHECK_TIMEOUT_S)
        state[_PROBE_STATE] = probe
    if not probe.enabled:
        return None
    return await probe.result(orchestrator)


def _probed(configured: ComponentStatus, probe: ProbeResult | None) -> ComponentStatus:
    """The configured provider's status with what the probe found (healthy stays healthy
    only when the server answered and serves the models)."""
    if probe is None or configured.status != "healthy":
        return configured
    details = {**configured.details, "probe": probe.status}
    if probe.latency_ms is not None:
        details["latency_ms"] = probe.latency_ms
    if probe.missing:
        details["missing_models"] = list(probe.missing)
    status: HealthStatus = "healthy" if probe.status == "ok" else "warning"
    return ComponentStatus(status=status, message=probe.message, details=details)


def _check_provider(
    request: Request[Any, Any, Any],
    reported: ComponentStatus | None,
    probe: ProbeResult | None = None,
) -> ComponentStatus:
    llm = get_settings(request.app.state).llm
    details: dict[str, Any] = {"provider": llm.provider}
    if llm.provider == "offline":
        configured = ComponentStatus(
            status="healthy", message="offline engine (no network, no key)", details=details
        )
    elif llm.provider == "openai" and not llm.api_key:
        configured = ComponentStatus(
            status="unhealthy", message="OPENAI_API_KEY is not set", details=details
        )
    elif llm.provider == "openai_chat" and not llm.base_url:
        configured = ComponentStatus(
            status="unhealthy", message="llm.base_url is not set", details=details
        )
    else:
        details["model"] = llm.model
        configured = _probed(
            ComponentStatus(status="healthy", message="configured", details=details), probe
        )
    if reported is not None and _RANK[reported.status] >= _RANK[configured.status]:
        return ComponentStatus(
            status=reported.status,
            message=reported.message,
            details={**details, **reported.details, "reported_at": reported.updated_at.isoformat()},
        )
    return configured


async def _check_redis(request: Request[Any, Any, Any]) -> ComponentStatus | None:
    """PING through the app's own client (its pool), so the check costs no new connection."""
    client = get_redis(request.app.state)
    if client is None:
        return None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            started = asyncio.get_running_loop().time()
            await client.ping()
            latency = (asyncio.get_running_loop().time() - started) * 1000.0
    except Exception as exc:  # connection refused, timeout, auth: all mean "down" here
        return ComponentStatus(
            status="unhealthy", message=f"redis unreachable: {type(exc).__name__}"
        )
    return ComponentStatus(
        status="healthy", message="redis reachable", details={"latency_ms": round(latency, 2)}
    )


async def _components(
    request: Request[Any, Any, Any],
    reports: dict[str, ComponentStatus],
    probe: ProbeResult | None,
) -> dict[str, ComponentStatus]:
    components: dict[str, ComponentStatus] = {
        "database": await _check_database(request),
        "config": _check_config(request),
        "provider": _check_provider(request, reports.get("provider"), probe),
    }
    redis = await _check_redis(request)
    if redis is not None:
        components["redis"] = redis
    for name, reported in reports.items():
        components.setdefault(name, reported)
    return components


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    # Probes and load balancers call these without a token.
    opt = {"exclude_from_auth": True}
    security = NO_AUTH

    @get(
        "/",
        summary="Liveness with component checks",
        responses={
            **error_responses(),
            503: ResponseSpec(
                HealthReport,
                description="A component is unhealthy; the body is the same health report",
                generate_examples=False,
            ),
        },
    )
    async def health(self, request: Request[Any, Any, Any]) -> Response[HealthReport]:
        reports = await get_health(request.app.state).reports()
        probe = await _probe_provider(request)
        components = await _components(request, reports, probe)
        status = _worst(list(components.values()))
        messages = {
            "healthy": "All systems operational",
            "warning": "Operational with warnings",
            "unhealthy": "One or more components are unhealthy",
        }
        checked_at = _now()
        legacy = await legacy_health(
            get_settings(request.app.state),
            get_orchestrator(request.app.state),
            components["provider"],
            reports.get("provider"),
            checked_at,
            probe=probe,
        )
        report = HealthReport(
            status=status,
            message=messages[status],
            timestamp=checked_at,
            version=VERSION,
            api_error=legacy.api_error,
            uptime_check=legacy.uptime_check,
            components={
                **{name: item.to_json() for name, item in components.items()},
                **legacy.components,
            },
        )
        code = HTTP_503_SERVICE_UNAVAILABLE if status == "unhealthy" else HTTP_200_OK
        return Response(report, status_code=code)

    @get(
        "/ready",
        summary="Readiness for load balancers",
        responses={
            **error_responses(),
            503: ResponseSpec(
                ReadinessReport,
                description="Not ready (database, migrations or Redis); the body is the same "
                "readiness report",
                generate_examples=False,
            ),
        },
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[ReadinessReport]:
        components: dict[str, ComponentStatus] = {"database": await _check_database(request)}
        if components["database"].status == "healthy":
            components["migrations"] = await _check_migrations(request)
        redis = await _check_redis(request)
        if redis is not None:
            components["redis"] = redis
        status = _worst(list(components.values()))
        ready = status != "unhealthy"
        report = ReadinessReport(
            ready=ready,
            status=status,
            message="ready" if ready else "not ready",
            timestamp=_now(),
            components={name: item.to_json() for name, item in components.items()},
        )
        return Response(report, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)


_MIGRATED_FLAG = "app_schema_up_to_date"


async def _check_migrations(request: Request[Any, Any, Any]) -> ComponentStatus:
    state = request.app.state
    if state.get(_MIGRATED_FLAG):
        return ComponentStatus(status="healthy", message="schema up to date")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            result = await migration_status(get_database(state).engine)
    except Exception as exc:  # unreadable version table = not ready
        return ComponentStatus(
            status="unhealthy", message=f"cannot read schema version: {type(exc).__name__}"
        )
    if not result.up_to_date:
        return ComponentStatus(
            status="unhealthy",
            message="migrations pending",
            details={"current": sorted(result.current), "heads": sorted(result.heads)},
        )
    state[_MIGRATED_FLAG] = True
    return ComponentStatus(status="healthy", message="schema up to date")
