"""Routes for the web client: the page at ``/client`` and its assets at ``/client/static``.

Both are public (the page signs users in itself). The page gets a strict Content-Security-Policy
so that even a rendering bug cannot run injected script: only our own modules execute, images
may be ``data:`` URIs (how charts are shown), and fetches go to this origin only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "web_router"]

STATIC_DIR: Final = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@get(
    ["/client", "/client/"],
    opt={"exclude_from_auth": True},
    include_in_schema=False,
    media_type="text/html",
    sync_to_thread=False,
)
def client_page() -> Response[bytes]:
    """The single page; read per request so edits show up without a restart (it is small)."""
    return Response(
        (STATIC_DIR / "index.html").read_bytes(),
        media_type="text/html",
        headers=_SECURITY_HEADERS,
    )


_assets = create_static_files_router(
    path="/client/static",
    directories=[STATIC_DIR],
    name="client_static",
    opt={"exclude_from_auth": True},
    cache_control=CacheControlHeader(no_cache=True),
    include_in_schema=False,
)

web_router: Final = Router(path="/", route_handlers=[client_page, _assets])
