"""The browser client served at ``/client``: static HTML, ES modules and CSS (no build step)."""

from app.web.routes import STATIC_DIR, web_router

__all__ = ["STATIC_DIR", "web_router"]
