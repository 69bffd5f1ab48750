"""API documentation: ``/docs`` (Swagger UI), ``/redoc`` and ``/openapi.json`` (OpenAPI 3.1).

The UI assets are served from the ``drf-spectacular-sidecar`` wheel (self-contained builds of
Swagger UI and Redoc; its files are only read, never imported), so the docs work without a
CDN. If that package is missing, Litestar's own schema pages under ``/schema`` fall back to
its CDN defaults.

The two pages are our own small HTML, not Litestar's renderings: those inline the spec and the
start-up code in ``<script>``/``<style>`` elements, which the pages' Content-Security-Policy
(no ``'unsafe-inline'``, :mod:`app.security_headers`) refuses. Here the start-up code is a
file under ``/docs/ui`` and the spec is fetched from ``/openapi.json``. Swagger UI runs under
the default policy as is; Redoc's additions are listed at :func:`redoc_policy`.
"""

from __future__ import annotations

import html
import importlib.util
import secrets
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, Router, get
from litestar.enums import MediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_404_NOT_FOUND

from app.errors import error_response, unknown_path_detail
from app.openapi_contract import apply_contract
from app.security_headers import content_security_policy
from app.state import get_settings

__all__ = [
    "ASSETS_PATH",
    "UI_PATH",
    "DocsController",
    "assets_dir",
    "docs_assets_router",
    "docs_ui_router",
    "openapi_config",
]

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json"
# Documentation is public: the JWT middleware skips handlers with this option.
_DOCS_OPT = {"exclude_from_auth": True}

ASSETS_PATH = "/docs/assets"
UI_PATH = "/docs/ui"
UI_DIR = Path(__file__).parent / "docs_ui"
SPEC_URL = "/openapi.json"

# What Redoc 2.5.4 (drf-spectacular-sidecar) needs beyond the default policy, each named:
# - its styled-components <style> elements: the per-response nonce (passed to Redoc.init);
# - the perfect-scrollbar stylesheet its bundle injects at load time, before any nonce can be
#   set, and that element's empty first state: their SHA-256 hashes (a new sidecar version
#   shows up as a CSP violation in tests/e2e/test_docs_browser.py);
# - its search index runs in a Worker built from a blob: URL;
# - its footer logo is one image on its CDN (offline it fails and Redoc hides it).
REDOC_STYLE_HASHES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def redoc_policy(style_nonce: str) -> str:
    return content_security_policy(
        style_sources=(f"'nonce-{style_nonce}'", *REDOC_STYLE_HASHES),
        img_sources=(REDOC_LOGO,),
        worker_sources=("blob:",),
    )


API_TITLE = "Sustainable City AI"
API_DESCRIPTION = (
    "Sustainability and business questions answered with computed reports. "
    "Sign in with a passkey (`/auth/*`), then send `Authorization: Bearer <token>`."
)


def assets_dir() -> Path | None:
    """The sidecar's static directory (``swagger-ui-dist/``, ``redoc/``), if installed."""
    spec = importlib.util.find_spec("drf_spectacular_sidecar")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "drf_spectacular_sidecar"
    return path if path.is_dir() else None


def docs_assets_router() -> Router | None:
    directory = assets_dir()
    if directory is None:
        return None
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[directory],
        name="docs_assets",
        opt={"exclude_from_auth": True},
        include_in_schema=False,
    )


docs_ui_router = create_static_files_router(
    path=UI_PATH,
    directories=[UI_DIR],
    name="docs_ui",
    opt={"exclude_from_auth": True},
    include_in_schema=False,
)


def _page(title: str, head: str, body: str) -> bytes:
    favicon = f"{ASSETS_PATH}/swagger-ui-dist/favicon-32x32.png"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="{favicon}">'
        f'<link rel="stylesheet" href="{UI_PATH}/docs.css">{head}</head>'
        f"<body>{body}</body></html>\n"
    ).encode()


def swagger_page() -> bytes:
    swagger = f"{ASSETS_PATH}/swagger-ui-dist"
    return _page(
        f"{API_TITLE} - Swagger UI",
        f'<link rel="stylesheet" href="{swagger}/swagger-ui.css">'
        f'<script src="{swagger}/swagger-ui-bundle.js" defer></script>'
        f'<script src="{swagger}/swagger-ui-standalone-preset.js" defer></script>'
        f'<script src="{UI_PATH}/swagger-init.js" defer></script>',
        f'<div id="swagger-ui" data-spec-url="{SPEC_URL}"></div>',
    )


def redoc_page(style_nonce: str) -> bytes:
    return _page(
        f"{API_TITLE} - ReDoc",
        f'<script src="{ASSETS_PATH}/redoc/bundles/redoc.standalone.js" defer></script>'
        f'<script src="{UI_PATH}/redoc-init.js" defer></script>',
        f'<div id="redoc" data-spec-url="{SPEC_URL}" data-style-nonce="{style_nonce}"></div>',
    )


def _render_plugins() -> tuple[SwaggerRenderPlugin, RedocRenderPlugin]:
    if assets_dir() is None:
        return SwaggerRenderPlugin(path="/swagger"), RedocRenderPlugin(path="/redoc")
    favicon = f"<link rel='icon' href='{ASSETS_PATH}/swagger-ui-dist/favicon-32x32.png'>"
    swagger = SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS_PATH}/swagger-ui-dist/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui-dist/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-dist/swagger-ui-standalone-preset.js",
        favicon=favicon,
    )
    redoc = RedocRenderPlugin(
        path="/redoc",
        js_url=f"{ASSETS_PATH}/redoc/bundles/redoc.standalone.js",
        google_fonts=False,
        favicon=favicon,
    )
    return swagger, redoc


def _json_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar's schema router answers unknown ``/schema/*`` paths with an HTML page; the API
    promises JSON errors everywhere.
    """
    if response.status_code == HTTP_404_NOT_FOUND:
        return error_response(HTTP_404_NOT_FOUND, "not_found", unknown_path_detail())
    return response


def openapi_config(version: str) -> OpenAPIConfig:
    """Litestar's own schema router stays under ``/schema`` (its catch-all 404 page must not
    shadow the API's JSON 404s); the public pages are the root handlers of :class:`DocsController`.
    """
    swagger, redoc = _render_plugins()
    return OpenAPIConfig(
        title=API_TITLE,
        version=version,
        description=API_DESCRIPTION,
        path="/schema",
        render_plugins=[swagger, redoc],
        openapi_router=Router(
            "/schema",
            route_handlers=[],
            include_in_schema=False,
            opt=dict(_DOCS_OPT),
            after_request=_json_not_found,
        ),
    )


def _schema(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return apply_contract(request.app.openapi_schema.to_schema(), get_settings(request.app.state))


class DocsController(Controller):
    """``/docs``, ``/redoc`` and ``/openapi.json`` at the root, as existing clients expect."""

    include_in_schema = False

    @get("/openapi.json", media_type=OPENAPI_MEDIA_TYPE, opt=_DOCS_OPT, sync_to_thread=False)
    def openapi_json(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        body = msgspec.json.encode(_schema(request))
        return Response(body, media_type=OPENAPI_MEDIA_TYPE)

    @get("/docs", media_type=MediaType.HTML, opt=_DOCS_OPT, sync_to_thread=False)
    def swagger(self) -> bytes:
        return swagger_page()

    @get("/redoc", media_type=MediaType.HTML, opt=_DOCS_OPT, sync_to_thread=False)
    def redoc(self) -> Response[bytes]:
        nonce = secrets.token_urlsafe(18)
        return Response(
            redoc_page(nonce),
            media_type=MediaType.HTML,
            headers={"Content-Security-Policy": redoc_policy(nonce)},
        )
