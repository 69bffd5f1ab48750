"""Security headers on every response: what a browser may load, frame, sniff and remember.

One ASGI wrapper adds them to every HTTP response start — API JSON, errors and 404s produced
by routing, static files, the ``/client`` page and the docs — so no route can forget them:

* ``Content-Security-Policy`` — :data:`CONTENT_SECURITY_POLICY` unless the response brought
  its own (``/redoc`` does: a per-request style nonce, see :mod:`app.docs`). Only our own
  scripts and styles run, never inline ones (no ``'unsafe-inline'`` anywhere), and
  ``frame-ancestors 'none'`` keeps every page, the sign-in form included, out of foreign
  frames;
* ``X-Frame-Options: DENY`` — the same for browsers that predate ``frame-ancestors``;
* ``X-Content-Type-Options: nosniff`` — a JSON body or an uploaded file is never run as script;
* ``Referrer-Policy: no-referrer`` — run and ticket URLs never leak to other sites;
* ``Strict-Transport-Security`` — only when the request arrived over HTTPS: directly, or per
  ``X-Forwarded-Proto`` from a trusted proxy (:mod:`app.proxy` runs first and sets the scheme).
  Over plain HTTP it would be ignored by browsers and wrong to promise.

A header the handler already set is left alone, so a route can tighten or relax one header for
itself in plain sight.
"""

from __future__ import annotations

from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "HSTS_MAX_AGE_S",
    "SecurityHeadersMiddleware",
    "content_security_policy",
]

HSTS_MAX_AGE_S: Final = 31_536_000  # one year, the value browsers' preload lists expect


def content_security_policy(
    *,
    style_sources: tuple[str, ...] = (),
    img_sources: tuple[str, ...] = (),
    worker_sources: tuple[str, ...] = (),
) -> str:
    """The policy of every page: own scripts, styles and fetches only; images may also be
    ``data:`` URIs (charts, Swagger's icons). A page that needs more names it here, narrowly:
    a style nonce or hash, one image URL, a worker source (the docs pages, :mod:`app.docs`).
    """

    def directive(name: str, *sources: str) -> str:
        return " ".join((name, *sources))

    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            directive("style-src", "'self'", *style_sources),
            directive("img-src", "'self'", "data:", *img_sources),
            "font-src 'self'",
            "connect-src 'self'",
            *((directive("worker-src", *worker_sources),) if worker_sources else ()),
            "manifest-src 'self'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY: Final = content_security_policy()

_ALWAYS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_HSTS: Final = (b"strict-transport-security", f"max-age={HSTS_MAX_AGE_S}".encode())


class SecurityHeadersMiddleware:
    """ASGI wrapper adding the headers above to each ``http.response.start`` that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                wanted = (*_ALWAYS, _HSTS) if https else _ALWAYS
                headers.extend(pair for pair in wanted if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
