"""API documentation: ``/docs`` (Swagger UI), ``/redoc`` and ``/openapi.json`` (OpenAPI 3.1).

The UI assets are served from the ``drf-spectacular-sidecar`` wheel (self-contained builds of
Swagger UI and Redoc; its files are only read, never imported), so the docs work without a
CDN. If that package is missing, the pages fall back to Litestar's CDN defaults.
"""

from __future__ import annotations

import importlib.util
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
from app.state import get_settings

__all__ = ["ASSETS_PATH", "DocsController", "assets_dir", "docs_assets_router", "openapi_config"]

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json"
# Documentation is public: the JWT middleware skips handlers with this option.
_DOCS_OPT = {"exclude_from_auth": True}

ASSETS_PATH = "/docs/assets"
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
    def swagger(self, request: Request[Any, Any, Any]) -> bytes:
        return _render_plugins()[0].render(request, _schema(request))

    @get("/redoc", media_type=MediaType.HTML, opt=_DOCS_OPT, sync_to_thread=False)
    def redoc(self, request: Request[Any, Any, Any]) -> bytes:
        return _render_plugins()[1].render(request, _schema(request))
