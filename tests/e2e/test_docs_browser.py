"""The API documentation pages render in a real browser with every external host blocked,
under their Content-Security-Policy (no inline script or style), with no CSP violation."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route

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
    violations: list[str] = []
    errors: list[str] = []
    # Registered before any page script runs (Playwright's init scripts are not subject to the
    # page's CSP); Chromium also reports each violation as a console error.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        context.route("**/*", only_loopback)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            # The blocked logo request logs "Failed to load resource": not a policy matter.
            if "Content Security Policy" in message.text or "CSP violation" in message.text:
                violations.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(20_000)
        swagger = page.goto("/docs")
        assert swagger is not None
        # Swagger UI builds one "opblock" per operation from /openapi.json.
        page.locator(".opblock-summary-path", has_text="/health/ready").first.wait_for()
        assert page.locator(".opblock").count() >= 2
        # Styled (its stylesheet applied): the operation blocks are laid out as flex rows.
        summary = page.locator(".opblock-summary").first
        assert summary.evaluate("e => getComputedStyle(e).display") == "flex"
        redoc = page.goto("/redoc")
        assert redoc is not None
        page.locator("h2", has_text="Liveness with component checks").first.wait_for()
        # Styled: styled-components' rules (nonce) and perfect-scrollbar's sheet (hash) apply.
        menu = page.locator(".menu-content").first
        assert menu.evaluate("e => getComputedStyle(e).position") == "sticky"
        scroller = page.locator(".ps").first
        assert scroller.evaluate("e => getComputedStyle(e).overflow") == "hidden"
    finally:
        context.close()
    assert external == []
    assert violations == []
    assert errors == []
    for response in (swagger, redoc):
        policy = response.headers["content-security-policy"]
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self';" in policy
