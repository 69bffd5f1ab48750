"""A run's charts as public PNG images under unguessable ids, linked from its report.

When a run completes, :func:`attach_chart_images` gives each chart of its ``completed``
event a fresh random id (128 bits, :func:`new_chart_image_id`), sets the chart's ``url`` to
``/images/<id>.png`` and appends those image links to the report markdown (``full_content``
and ``final_response``), so the stored answer and the live event carry them and clients that
only read text (the predecessor's React client, any Markdown viewer) can show the charts.
The rows are written in the transaction that stores the event.

``GET /images/<id>.png`` is public (an ``<img>`` sends no ``Authorization`` header), so the
id is the only secret: it is random, never derived from the chart's content (a chart of
synthetic data is reproducible by anyone, its content hash would be guessable), and it
dies with the run's conversation. The PNG is rasterised from the stored SVG on first request
(:mod:`tools.render.raster`, in the chart renderer's process) and kept in a bounded cache.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.images.models import RunChart
from orchestrator import ChartRef, Completed

__all__ = [
    "CHART_IMAGE_ID",
    "attach_chart_images",
    "chart_exists",
    "chart_image_url",
    "chart_svg",
    "new_chart_image_id",
]

CHART_IMAGE_ID = re.compile(r"chart-[0-9a-f]{32}")
_MARKDOWN_SPECIALS = re.compile(r"([\\\[\]()*_`!<>])")


def new_chart_image_id() -> str:
    """``chart-`` and 32 hex digits from the OS's CSPRNG (128 bits)."""
    return f"chart-{secrets.token_hex(16)}"


def chart_image_url(image_id: str) -> str:
    return f"/images/{image_id}.png"


def _alt_text(title: str) -> str:
    """A chart title as Markdown image alt text: one line, brackets and markup escaped."""
    one_line = " ".join(title.split()) or "Chart"
    return _MARKDOWN_SPECIALS.sub(r"\\\1", one_line)


def _links_section(charts: list[ChartRef]) -> str:
    lines = ["", "", "## Chart images", ""]
    for chart in charts:
        lines += [f"![{_alt_text(chart.title)}]({chart.url})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def attach_chart_images(event: Completed, now: datetime) -> tuple[Completed, list[RunChart]]:
    """``event`` with image ids, urls and report links for its charts, and the rows to store.

    An event without charts is returned unchanged (and no rows)."""
    if not event.data.charts:
        return event, []
    rows: list[RunChart] = []
    charts: list[ChartRef] = []
    for position, chart in enumerate(event.data.charts):
        image_id = new_chart_image_id()
        rows.append(
            RunChart(
                id=image_id,
                run_id=event.run_id,
                position=position,
                chart_id=chart.id[:200],
                title=chart.title,
                svg=chart.svg,
                created_at=now,
            )
        )
        charts.append(msgspec.structs.replace(chart, url=chart_image_url(image_id)))
    links = _links_section(charts)
    data = msgspec.structs.replace(
        event.data,
        charts=charts,
        full_content=event.data.full_content.rstrip("\n") + links,
        final_response=event.data.final_response.rstrip("\n") + links,
    )
    return msgspec.structs.replace(event, data=data), rows


async def chart_svg(session: AsyncSession, image_id: str) -> str | None:
    """The stored SVG of a chart image id, or None (unknown, or its run was deleted)."""
    svg: str | None = await session.scalar(select(RunChart.svg).where(RunChart.id == image_id))
    return svg


async def chart_exists(session: AsyncSession, image_id: str) -> bool:
    """Whether the chart image id still exists (its run and conversation were not deleted)."""
    found = await session.scalar(select(RunChart.id).where(RunChart.id == image_id))
    return found is not None
