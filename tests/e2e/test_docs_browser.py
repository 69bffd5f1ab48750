"""The API documentation pages render in a real browser with every external host blocked."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route

from tests.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_swagger_and_redoc_render_offline(
    browser: Browser, live_server: Callable[..., LiveServer]
) -> None:
    server = live_server()
    external: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            # Redoc's footer logo is the one cosmetic image it fetches from its CDN; scripts,
            # styles, fonts and data must all be local.
            if route.request.resource_type != "image":
                external.append(route.request.url)
            route.abort()

    context = browser.new_context(base_url=server.base_url)
    try:
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto("/docs")
        # Swagger UI builds one "opblock" per operation from /openapi.json.
        page.locator(".opblock-summary-path", has_text="/health/ready").first.wait_for()
        assert page.locator(".opblock").count() >= 2
        page.goto("/redoc")
        page.locator("h2", has_text="Liveness with component checks").first.wait_for()
    finally:
        context.close()
    assert external == []
