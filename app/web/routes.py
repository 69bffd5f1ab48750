"""Routes for the web client: the page at ``/client`` and its assets at ``/client/static``.

Both are public (the page signs users in itself). The page, and ``/client/static/index.html``
too, gets the strict Content-Security-Policy of :mod:`app.security_headers` so that even a
rendering bug cannot run injected script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from app.security_headers import CONTENT_SECURITY_POLICY

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "web_router"]

STATIC_DIR: Final = Path(__file__).parent / "static"

# The page's policy is the one every response gets (app.security_headers): only our own
# modules execute, images may be ``data:`` URIs (how charts are shown), fetches stay on this
# origin, and no other site may frame the page.
_PAGE_HEADERS: Final = {"Cache-Control": "no-cache"}


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
        headers=_PAGE_HEADERS,
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
