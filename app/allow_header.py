"""``OPTIONS`` answers list every method of the path in ``Allow``.

Litestar builds one automatic ``OPTIONS`` handler per route path, but when a second handler
joins a path that already has a route (``GET`` and ``POST /auth/refresh-token``, ``GET`` and
``DELETE /datasets/{id}``), the new route keeps the first route's handler, whose ``Allow``
lists only the first handler's methods. A client (or CORS tooling) reading ``Allow`` would then
believe documented operations do not exist. :class:`AllowHeader` is a ``before_send`` hook
that rewrites ``Allow`` on the automatic answers from the final routes' methods.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

__all__ = ["AllowHeader"]


class AllowHeader:
    """The ``before_send`` hook; :meth:`learn` it the app's routes once they are built."""

    def __init__(self) -> None:
        # id(OPTIONS handler) -> the value of its route's ``Allow`` header.
        self._allow: dict[int, str] = {}

    def learn(self, app: Litestar) -> None:
        for route in app.routes:
            if isinstance(route, HTTPRoute) and "OPTIONS" in route.route_handler_map:
                handler, _ = route.route_handler_map["OPTIONS"]
                self._allow[id(handler)] = ", ".join(sorted(route.methods))

    def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        allow = self._allow.get(id(scope.get("route_handler")))
        headers = MutableScopeHeaders.from_message(message)
        if allow is not None and "allow" in headers:
            headers["Allow"] = allow
