"""``GET /images/{name}``: PNG images for clients that show them with a plain ``<img>``.

Two kinds of name, both public (an ``<img>`` sends no ``Authorization`` header):

- ``co2plot_{day|month}_{region}_{YYYY-MM-DD}_{YYYY-MM-DD}.png``: the predecessor's grid
  intensity plot, drawn on demand from the configured grid source (:mod:`app.images.co2plot`);
- ``chart-<32 hex>.png``: a chart of a completed run, under the unguessable id its report
  links to (:mod:`app.images.charts`).

Anything else is a 404 JSON error; a malformed plot name a 400 with a stable ``code``. Images
are cached in memory (bounded) and drawn in the chart renderer's process; at most
:data:`MAX_CONCURRENT_RENDERS` draw at once per worker and a longer queue than
:data:`MAX_WAITING_RENDERS` answers 503, so a flood of distinct names cannot take the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final, TypeVar

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath

from app.auth.security import NO_AUTH
from app.errors import ServiceStarting
from app.images.cache import ImageCache
from app.images.charts import CHART_IMAGE_ID, chart_exists, chart_svg
from app.images.co2plot import CO2PLOT_PREFIX, parse_co2plot_name, render_co2plot
from app.images.errors import (
    DateOutOfRange,
    GridSourceUnavailable,
    ImageNotFound,
    ImagesBusy,
    InvalidDate,
    InvalidPeriod,
    InvalidRange,
    NoGridData,
    UnknownRegion,
)
from app.openapi_errors import error_responses
from app.runs.runtime import RunsRuntime
from tools.grid import GRID_SOURCE_SERVICE
from tools.grid.model import GridSource
from tools.render.executor import RENDERER_SERVICE, ChartRenderer
from tools.render.raster import svg_to_png

__all__ = [
    "MAX_CONCURRENT_RENDERS",
    "MAX_NAME_LENGTH",
    "MAX_WAITING_RENDERS",
    "ImageService",
    "ImagesController",
]

MAX_NAME_LENGTH = 200
MAX_CONCURRENT_RENDERS = 2
MAX_WAITING_RENDERS = 16
PNG_MEDIA_TYPE: Final = "image/png"
T = TypeVar("T")
LIVE_PLOT_TTL_S = 60.0  # a plot that includes today (or forecasts) is redrawn after this
CHART_TTL_S = 3600.0  # in this worker's memory; the row is still checked on every request
CHART_BROWSER_MAX_AGE_S = 300
_NOT_FOUND_HINT = (
    "images are co2plot_{day|month}_{region}_{YYYY-MM-DD}_{YYYY-MM-DD}.png "
    "or a chart id linked from a report"
)


class ImageService:
    """Per-app state of the images route: the cache and the render queue bound."""

    def __init__(self, *, cache: ImageCache | None = None, plot_ttl_s: float = 900.0) -> None:
        self.cache = cache or ImageCache(max_entries=256, max_bytes=32 * 1024 * 1024)
        self.plot_ttl_s = plot_ttl_s
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_RENDERS)
        self._waiting = 0

    async def bounded(self, render: Callable[[], Awaitable[T]]) -> T:
        """Run ``render`` when a render slot is free; 503 ``images_busy`` if too many wait."""
        if self._waiting >= MAX_WAITING_RENDERS:
            raise ImagesBusy(headers={"Retry-After": "2"})
        self._waiting += 1
        try:
            async with self._slots:
                return await render()
        finally:
            self._waiting -= 1

    async def co2plot(self, name: str, runtime: RunsRuntime) -> tuple[bytes, float]:
        now = datetime.now(UTC)
        plot = parse_co2plot_name(name, now)
        source = runtime.tool_services.get(GRID_SOURCE_SERVICE)
        if not isinstance(source, GridSource):
            raise ServiceStarting()
        ttl = self.plot_ttl_s if plot.is_over(now) else LIVE_PLOT_TTL_S
        key = f"co2plot:{source.name}:{plot.key}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached, ttl
        renderer = _service(runtime, RENDERER_SERVICE, ChartRenderer)
        png = await self.bounded(lambda: render_co2plot(plot, source, renderer, now))
        self.cache.put(key, png, ttl)
        return png, ttl

    async def chart(self, image_id: str, runtime: RunsRuntime) -> bytes:
        """The chart's PNG. Its row is read on every request (by primary key; only the id when
        the PNG is cached), so a deleted conversation's charts are gone at once everywhere."""
        key = f"chart:{image_id}"
        cached = self.cache.get(key)
        async with runtime.service.session_maker() as session:
            if cached is not None and await chart_exists(session, image_id):
                return cached
            svg = await chart_svg(session, image_id)
        if svg is None:
            self.cache.discard(key)
            raise ImageNotFound(f"No image named {image_id}.png.")
        renderer = _service(runtime, RENDERER_SERVICE, ChartRenderer)
        png = await self.bounded(lambda: renderer.render(svg_to_png, svg=svg))
        self.cache.put(key, png, CHART_TTL_S)
        return png


def _service(runtime: RunsRuntime, key: str, kind: type[T]) -> T:
    value = runtime.tool_services.get(key)
    if not isinstance(value, kind):
        raise ServiceStarting()
    return value


def _png_response(png: bytes, cache_control: str) -> Response[bytes]:
    return Response(
        png,
        media_type=PNG_MEDIA_TYPE,
        headers={
            "Cache-Control": cache_control,
            "X-Content-Type-Options": "nosniff",
        },
    )


class ImagesController(Controller):
    path = "/images"
    tags = ["images"]
    opt = {"exclude_from_auth": True}
    security = NO_AUTH

    @get(
        "/{name:str}",
        media_type=PNG_MEDIA_TYPE,
        summary="A grid plot or a run's chart as PNG (public, for <img>)",
        responses={
            200: ResponseSpec(
                bytes,
                media_type=PNG_MEDIA_TYPE,
                description="The PNG image",
                generate_examples=False,
            ),
            **error_responses(
                (
                    400,
                    "A malformed grid plot name (`invalid_period`, `unknown_region`, "
                    "`invalid_date`, `invalid_range`, `date_out_of_range`)",
                ),
                InvalidPeriod,
                UnknownRegion,
                InvalidDate,
                InvalidRange,
                DateOutOfRange,
                (404, "No such image, or no grid data for it (`image_not_found`, `no_grid_data`)"),
                ImageNotFound,
                NoGridData,
                (
                    503,
                    "Starting, busy, or the grid source failed (`images_busy`, "
                    "`grid_source_unavailable`)",
                ),
                ImagesBusy,
                GridSourceUnavailable,
                ServiceStarting,
            ),
        },
    )
    async def image(
        self,
        name: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
        image_service: NamedDependency[ImageService],
    ) -> Response[bytes]:
        """A PNG: ``co2plot_{day|month}_{region}_{YYYY-MM-DD}_{YYYY-MM-DD}.png`` (the grid
        intensity of those local days, drawn on demand; region ``all`` is the island) or
        ``chart-<id>.png`` (a run's chart, linked from its report). No authentication."""
        if len(name) <= MAX_NAME_LENGTH:
            if name.startswith(CO2PLOT_PREFIX):
                png, ttl = await image_service.co2plot(name, runs_runtime)
                return _png_response(png, f"public, max-age={int(ttl)}")
            stem, dot, extension = name.rpartition(".")
            if dot and extension == "png" and CHART_IMAGE_ID.fullmatch(stem):
                png = await image_service.chart(stem, runs_runtime)
                # Private and short: browsers only, and a deleted chart stops showing soon.
                return _png_response(png, f"private, max-age={CHART_BROWSER_MAX_AGE_S}")
        raise ImageNotFound(f"No such image ({_NOT_FOUND_HINT}).")
