"""No other site can frame the service: in real Chromium, a foreign page's iframes of the
sign-in page, the docs and an API response are refused (``frame-ancestors 'none'``), while the
same foreign page frames its own content fine (so the check can tell the difference)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

FRAMED_PATHS = ("/client", "/client/static/index.html", "/docs", "/redoc", "/health")
BLOCKED_FRAME_URL = "chrome-error://chromewebdata/"


def _foreign_site(target: str) -> ThreadingHTTPServer:
    frames = "".join(f'<iframe src="{target}{path}"></iframe>' for path in FRAMED_PATHS)
    page = f"<!doctype html><title>foreign</title>{frames}<iframe src='/own'></iframe>".encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            body = page if self.path == "/" else b"<!doctype html><p>own content</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def foreign_origin(live_server: Callable[..., LiveServer]) -> Iterator[str]:
    server = _foreign_site(live_server().base_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_foreign_page_cannot_frame_the_service(browser: Browser, foreign_origin: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(foreign_origin, wait_until="load")
        urls = {frame.url for frame in page.frames if frame is not page.main_frame}
        own = next(frame for frame in page.frames if frame.url.endswith("/own"))
        assert own.locator("p").text_content() == "own content"
        # Every service frame was refused: Chromium replaced it with its error page.
        assert urls == {BLOCKED_FRAME_URL, f"{foreign_origin}/own"}
        assert len(page.frames) == len(FRAMED_PATHS) + 2
    finally:
        context.close()
