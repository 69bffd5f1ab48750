"""Fake EirGrid and GB Carbon Intensity servers on loopback for the live grid clients.

A real HTTP server (``ThreadingHTTPServer`` on port 0, in a background thread) serving the
documented JSON with deterministic values the tests can recompute:

* EirGrid (legacy ``/DashboardService.svc/data`` and chart ``/api/chart/``): 15-minute rows
  for each Irish *local* day requested, ``Value = eirgrid_value(local_time)``; slots after
  ``published_until`` (UTC) have ``Value: null``; the forecast area returns
  ``eirgrid_forecast_value`` for every slot.
* GB (``/intensity/{from}/{to}``): half-hour periods with ``actual = uk_value(start)``,
  ``forecast = actual + 5``; periods after ``published_until`` have ``actual: null``.

Faults are queued per request with :meth:`FakeGridServer.push` (status, raw body, delay), so
tests can serve 5xx, malformed payloads and slow answers, then normal ones.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import msgspec

__all__ = [
    "FakeGridServer",
    "FakeResponse",
    "eirgrid_forecast_value",
    "eirgrid_value",
    "serve_grid",
    "uk_value",
]

_DUBLIN = ZoneInfo("Europe/Dublin")


def eirgrid_value(local: datetime) -> float:
    """Actual intensity for a local slot: 100 at midnight, +1 per 15 minutes (100..195)."""
    return 100.0 + local.hour * 4 + local.minute // 15


def eirgrid_forecast_value(local: datetime) -> float:
    return 300.0 + local.minute // 15


def uk_value(start: datetime) -> float:
    """Actual GB intensity for a half-hour starting at ``start`` (UTC): 50..97."""
    return 50.0 + start.hour * 2 + start.minute // 30


class FakeResponse(msgspec.Struct, frozen=True, kw_only=True):
    status: int = 200
    body: bytes | None = None  # None: the normal generated payload
    delay_s: float = 0.0


class FakeGridServer:
    def __init__(self, published_until: datetime | None = None) -> None:
        self.published_until = published_until
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._queue: deque[FakeResponse] = deque()
        self._lock = threading.Lock()
        self.url = ""

    def reset(self, published_until: datetime | None = None) -> None:
        """Forget recorded requests and queued faults (for a server shared between tests)."""
        with self._lock:
            self._queue.clear()
        self.requests.clear()
        self.published_until = published_until

    def push(self, *responses: FakeResponse) -> None:
        """Answer the next requests with these, in order, before normal service resumes."""
        with self._lock:
            self._queue.extend(responses)

    def _next(self) -> FakeResponse | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    # ----------------------------------------------------------------- payloads

    def _published(self, utc: datetime) -> bool:
        return self.published_until is None or utc <= self.published_until

    def eirgrid_payload(self, query: dict[str, str], area: str) -> dict[str, Any]:
        first = datetime.strptime(query["from"][:11], "%d-%b-%Y").date()
        last = datetime.strptime(query["to"][:11], "%d-%b-%Y").date()
        forecast = "forecast" in area
        rows: list[dict[str, Any]] = []
        day = first
        while day <= last:
            start = datetime(day.year, day.month, day.day, tzinfo=_DUBLIN)
            end = start + timedelta(days=1)
            # Walk in UTC so DST days have 92 or 100 slots, with the repeated hour twice.
            utc = start.astimezone(UTC)
            while utc < end.astimezone(UTC):
                local = utc.astimezone(_DUBLIN)
                if forecast:
                    value: float | None = eirgrid_forecast_value(local)
                else:
                    value = eirgrid_value(local) if self._published(utc) else None
                rows.append(
                    {
                        "EffectiveTime": local.strftime("%d-%b-%Y %H:%M:%S"),
                        "FieldName": "CO2_INTENSITY_FORECAST" if forecast else "CO2_INTENSITY",
                        "Region": query["region"],
                        "Value": value,
                    }
                )
                utc += timedelta(minutes=15)
            day += timedelta(days=1)
        return {"ErrorMessage": None, "LastUpdated": "", "Rows": rows, "Status": "Success"}

    def uk_payload(self, start_text: str, end_text: str) -> dict[str, Any]:
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
        end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        data = []
        cursor = start
        while cursor < end:
            actual = uk_value(cursor) if self._published(cursor) else None
            data.append(
                {
                    "from": cursor.strftime("%Y-%m-%dT%H:%MZ"),
                    "to": (cursor + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                    "intensity": {
                        "forecast": int(uk_value(cursor) + 5),
                        "actual": None if actual is None else int(actual),
                        "index": "low",
                    },
                }
            )
            cursor += timedelta(minutes=30)
        return {"data": data}

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        if path == "/DashboardService.svc/data":
            payload = self.eirgrid_payload(
                {"from": query["datefrom"], "to": query["dateto"], "region": query["region"]},
                query["area"],
            )
        elif path == "/api/chart/":
            payload = self.eirgrid_payload(
                {"from": query["dateFrom"], "to": query["dateTo"], "region": query["region"]},
                query["areas"],
            )
        elif path.startswith("/intensity/"):
            parts = path.split("/")
            payload = self.uk_payload(parts[2], parts[3])
        else:
            return 404, b'{"error": "not found"}'
        return 200, json.dumps(payload).encode()


def _handler(server: FakeGridServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            server.requests.append((parts.path, query))
            scripted = server._next()
            if scripted is not None and scripted.delay_s:
                time.sleep(scripted.delay_s)
            if scripted is not None and (scripted.body is not None or scripted.status != 200):
                status, body = scripted.status, scripted.body or b"{}"
            else:
                status, body = server.answer(parts.path, query)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    return Handler


@contextmanager
def serve_grid(published_until: datetime | None = None) -> Iterator[FakeGridServer]:
    """Run a fake grid server on 127.0.0.1:<free port> for the duration of the block."""
    fake = FakeGridServer(published_until)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="fake-grid", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
