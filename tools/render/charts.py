"""Charts as SVG (and PNG) via matplotlib, imported lazily so the rest of ``tools`` stays light.

Uses the object-oriented ``Figure`` API (no pyplot global state) with a
fixed SVG hash salt and no date metadata, so the same data gives the same SVG. Each series
gets an SVG ``id`` (e.g. ``series-actual``, ``band-low``, ``best-window``) that the web page
and tests can find. Rendering takes a module lock: ``rc_context`` changes matplotlib's global
settings, so charts drawn from worker threads (the tools render off the event loop) must not
interleave. A chart drawn with ``synthetic=True`` says so inside the image (subtitle, watermark
and file metadata: :data:`tools.render.labels.SYNTHETIC_LABEL`); forecasts stay dashed and
distinct from actual values either way.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

from tools.grid.analysis import Thresholds, Window
from tools.grid.model import IntensityPoint
from tools.render.labels import SYNTHETIC_LABEL

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ImageFormat", "breakdown_chart", "grid_chart", "trend_chart"]

ImageFormat = Literal["svg", "png"]
_LOCK = threading.Lock()
P = ParamSpec("P")
_COLOURS = {"low": "#2e7d32", "medium": "#f9a825", "high": "#c62828"}
_SYNTHETIC_COLOUR = "#b0003a"  # used by nothing else, so the label can be found in a PNG
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RC: dict[Any, Any] = {
    "svg.hashsalt": "sustainable-city-ai",
    "svg.fonttype": "none",
    "font.size": 9.0,
}


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # lazy: matplotlib costs ~0.5 s to import

    fig = Figure(figsize=(8.0, 3.6), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _render(fig: Figure, fmt: ImageFormat, synthetic: bool) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
        if synthetic:
            metadata["Description"] = SYNTHETIC_LABEL
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _label_synthetic(fig: Figure, ax: Axes) -> None:
    """Mark a chart of synthetic data twice: a red subtitle over the chart (``synthetic-label``)
    and a faint watermark across the plot (``synthetic-watermark``), so neither a cropped
    chart nor one shared without its title can pass for measured data."""
    label = fig.suptitle(SYNTHETIC_LABEL, color=_SYNTHETIC_COLOUR, fontweight="bold")
    label.set_gid("synthetic-label")
    mark = ax.text(
        0.5,
        0.5,
        SYNTHETIC_LABEL,
        transform=ax.transAxes,
        ha="center",
        va="center",
        rotation=15,
        fontsize=20,
        color=_SYNTHETIC_COLOUR,
        alpha=0.15,
        zorder=0,
    )
    mark.set_gid("synthetic-watermark")


def _serialised(fn: Callable[P, bytes]) -> Callable[P, bytes]:
    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with _LOCK:
            return fn(*args, **kwargs)

    return locked


@_serialised
def grid_chart(
    *,
    title: str,
    actual: Sequence[IntensityPoint],
    forecast: Sequence[IntensityPoint],
    cuts: Thresholds,
    window: Window | None,
    fmt: ImageFormat = "svg",
    zone: tzinfo = UTC,
    synthetic: bool = False,
) -> bytes:
    """Intensity over time with low/medium/high bands, forecasts dashed, best window shaded.

    The time axis is labelled in ``zone`` (the region's local time, named on the axis)."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, ax = _figure()
        values = [p.value for p in (*actual, *forecast)]
        top = max(values) * 1.08
        bottom = min(0.0, min(values))
        for gid, low, high in (
            ("band-low", bottom, cuts.p33),
            ("band-medium", cuts.p33, cuts.p66),
            ("band-high", cuts.p66, top),
        ):
            band = ax.axhspan(low, high, color=_COLOURS[gid[5:]], alpha=0.10, linewidth=0)
            band.set_gid(gid)
        if actual:
            (line,) = ax.plot(
                _times(actual), [p.value for p in actual], color="#1f4e79", label="actual"
            )
            line.set_gid("series-actual")
        if forecast:
            (line,) = ax.plot(
                _times(forecast),
                [p.value for p in forecast],
                color="#1f4e79",
                linestyle="--",
                label="forecast",
            )
            line.set_gid("series-forecast")
        if window is not None:
            span = ax.axvspan(
                _x(window.start), _x(window.end), color="#2e7d32", alpha=0.25, label="best window"
            )
            span.set_gid("best-window")
        ax.set_ylim(bottom, top)
        ax.set_ylabel("Carbon intensity (gCO2/kWh)")
        ax.set_xlabel(f"Time ({_zone_label(zone, _stamps(actual, forecast))})")
        ax.set_title(title)
        if synthetic:
            _label_synthetic(fig, ax)
        ax.legend(loc="upper right", fontsize=8)
        stamps = _stamps(actual, forecast)
        _date_axis(ax, min(stamps), max(stamps), zone)
        return _render(fig, fmt, synthetic)


def _stamps(*groups: Sequence[IntensityPoint]) -> list[datetime]:
    return [p.ts for group in groups for p in group]


def _zone_label(zone: tzinfo, stamps: Sequence[datetime]) -> str:
    """The zone's abbreviations over the plotted span: ``UTC``, ``GMT``, ``IST`` or
    ``GMT/IST`` when the clocks change inside it."""
    names: list[str] = []
    for moment in (min(stamps), max(stamps)):
        name = str(moment.astimezone(zone).tzname())
        if name not in names:
            names.append(name)
    return "/".join(names)


def _date_axis(ax: Axes, first: datetime, last: datetime, zone: tzinfo = UTC) -> None:
    """Ticks on round LOCAL hours or local midnights of ``zone``, at most ~8 of them (x is
    days since the epoch; ticks are stepped in UTC so a clock change never skips or repeats
    a label)."""
    span_hours = (last - first).total_seconds() / 3600.0
    ticks: list[datetime] = []
    if span_hours <= 48:
        step = next(h for h in (1, 2, 3, 6, 12, 24) if span_hours / h <= 8)
        tick = first.replace(minute=0, second=0, microsecond=0)
        if tick < first:
            tick += timedelta(hours=1)
        fmt = "%H:%M\n%d %b"
        while tick <= last:
            if tick.astimezone(zone).hour % step == 0:
                ticks.append(tick)
            tick += timedelta(hours=1)
    else:
        days = max(1, math.ceil(span_hours / 24 / 8))
        fmt = "%d %b"
        day = first.astimezone(zone).date()
        while True:
            tick = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
            if tick > last:
                break
            if tick >= first:
                ticks.append(tick)
            day += timedelta(days=days)
    labels = [t.astimezone(zone).strftime(fmt) for t in ticks]
    ax.set_xticks([_x(t) for t in ticks], labels)
    ax.set_xlim(_x(first), _x(last))


@_serialised
def breakdown_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    fmt: ImageFormat = "svg",
    synthetic: bool = False,
) -> bytes:
    """Horizontal bars, largest on top (a footprint by scope, category or site)."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, ax = _figure()
        order = sorted(range(len(values)), key=lambda i: values[i])
        bars = ax.barh([labels[i] for i in order], [values[i] for i in order], color="#1f4e79")
        for position, (rect, index) in enumerate(zip(bars.patches, order, strict=True)):
            rect.set_gid(f"bar-{position}")
            ax.annotate(
                f"{values[index]:,.1f}",
                (rect.get_width(), rect.get_y() + rect.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_xlabel(unit)
        ax.set_title(title)
        if synthetic:
            _label_synthetic(fig, ax)
        ax.margins(x=0.15)
        return _render(fig, fmt, synthetic)


@_serialised
def trend_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    fitted: Sequence[float] | None,
    fmt: ImageFormat = "svg",
    synthetic: bool = False,
) -> bytes:
    """Values over ordered labels (e.g. months) with the least-squares line."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, ax = _figure()
        xs = list(range(len(values)))
        (line,) = ax.plot(xs, list(values), marker="o", color="#1f4e79", label="value")
        line.set_gid("series-values")
        if fitted is not None:
            (fit_line,) = ax.plot(xs, list(fitted), linestyle="--", color="#c62828", label="trend")
            fit_line.set_gid("trend-line")
        step = max(1, len(labels) // 12)
        ax.set_xticks(xs[::step], [labels[i] for i in xs[::step]], rotation=45, ha="right")
        ax.set_ylabel(unit)
        ax.set_title(title)
        if synthetic:
            _label_synthetic(fig, ax)
        ax.legend(loc="best", fontsize=8)
        return _render(fig, fmt, synthetic)


def _x(ts: datetime) -> float:
    return (ts - _EPOCH).total_seconds() / 86400.0


def _times(points: Sequence[IntensityPoint]) -> list[float]:
    return [_x(p.ts) for p in points]
