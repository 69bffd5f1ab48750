"""HTTP metrics at the ASGI edge: requests, latency, SSE streams and sign-in ceremonies.

An outer ASGI wrapper (around routing and exception handling, like the access log), so 404s,
405s and 500s are counted too. The ``route`` label is the matched route's template as
Litestar's router records it in the scope (``/runs/{run_id}/events``), never the raw
path: a path that matched no route is ``<unmatched>``, so scanners probing random URLs add
no series. Methods outside the standard set are ``OTHER``.

Everything else this wrapper sees needs no code in the domains:

- an SSE response (``content-type: text/event-stream``) counts as a subscriber while it is
  open, and each body chunk it writes is one frame, classified from its first bytes (an
  ``id:`` line is an event, a ``:`` comment a keep-alive, anything else control, e.g.
  ``retry:``);
- the ``complete`` endpoint of each WebAuthn ceremony counts that ceremony by outcome: 2xx
  ``success``, 429 ``rate_limited``, other 4xx ``refused``, 5xx ``error``;
- a 429 from a route marked for the sign-in rate limit counts as a rate-limit refusal.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from app.auth.ratelimit import RATE_LIMIT_OPT
from app.metrics.registry import Metrics

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CEREMONY_ROUTES", "UNMATCHED", "HttpMetricsMiddleware"]

UNMATCHED: Final = "<unmatched>"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CEREMONY_ROUTES: Final = {
    "/auth/register/complete": "registration",
    "/auth/login/complete": "authentication",
    "/auth/credentials/complete": "add_credential",
}
_SSE: Final = b"text/event-stream"


def _ceremony_outcome(status: int) -> str:
    if status < 400:
        return "success"
    if status == 429:
        return "rate_limited"
    return "refused" if status < 500 else "error"


def _is_sse(headers: Any) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return bool(value.startswith(_SSE))
    return False


class HttpMetricsMiddleware:
    """Counts every HTTP request by route template, method and status (see module doc)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._frames = {
            b"i": metrics.sse_frames.labels(kind="event"),
            b":": metrics.sse_frames.labels(kind="keepalive"),
        }
        self._control = metrics.sse_frames.labels(kind="control")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type: str = scope["type"]
        if scope_type != "http":  # websockets and lifespan pass through untouched
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        started = time.perf_counter()
        status = 500
        sse = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sse
            if message["type"] == "http.response.body":
                if sse:
                    body = message.get("body", b"")
                    if body:
                        self._frames.get(body[:1], self._control).inc()
            elif message["type"] == "http.response.start":
                status = message["status"]
                if _is_sse(message.get("headers", ())):
                    sse = True
                    metrics.sse_subscribers.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if sse:
                metrics.sse_subscribers.dec()
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        metrics = self.metrics
        handler = scope.get("route_handler")
        template = scope.get("path_template") if handler is not None else None
        route = metrics.routes(template) if isinstance(template, str) else UNMATCHED
        method = scope.get("method", "GET")
        if method not in _METHODS:
            method = "OTHER"
        metrics.http_requests.labels(route=route, method=method, status=str(status)).inc()
        metrics.http_duration.labels(route=route, method=method).observe(elapsed)
        ceremony = CEREMONY_ROUTES.get(route)
        if ceremony is not None and method == "POST":
            outcome = _ceremony_outcome(status)
            metrics.auth_ceremonies.labels(ceremony=ceremony, outcome=outcome).inc()
        if status == 429 and handler is not None and handler.opt.get(RATE_LIMIT_OPT):
            metrics.auth_rate_limited.labels(route=route).inc()
