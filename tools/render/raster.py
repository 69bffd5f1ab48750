"""SVG charts as PNG images, for clients that can only show an ``<img>`` of a PNG.

A run's charts are kept as the SVG documents :mod:`tools.render.charts` drew; a PNG of the
same chart is rasterised from that SVG (resvg, a self-contained SVG renderer) rather than
redrawn, so the picture is exactly the one the web page shows, labels included, and no data
has to be fetched again. The fonts are matplotlib's own (DejaVu), the ones the SVG names, so
the result does not depend on the host's installed fonts.

:func:`svg_to_png` is a plain module-level function: hosts run it off the event loop with
the chart renderer (``ChartRenderer.render(svg_to_png, svg=…)``).
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["PNG_DPI", "PNG_SIGNATURE", "svg_to_png"]

PNG_DPI = 96.0  # matplotlib's SVG sizes are in points; at 96 dpi an 8 in chart is 768 px
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@functools.cache
def _font_dirs() -> list[str]:
    import matplotlib

    return [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")]


def svg_to_png(*, svg: str, width: int = 1000) -> bytes:
    """The SVG document rasterised to a PNG ``width`` pixels wide, on a white background.

    Raises ``ValueError`` for a document resvg cannot read.
    """
    import resvg_py

    try:
        png = resvg_py.svg_to_bytes(
            svg_string=svg,
            width=width,
            dpi=PNG_DPI,
            background="white",
            font_dirs=_font_dirs(),
            skip_system_fonts=True,
        )
    except ValueError as exc:
        raise ValueError(f"not a readable SVG document: {exc}") from exc
    return bytes(png)
