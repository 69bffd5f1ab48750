"""SVG charts rasterised to PNG with the fonts matplotlib ships."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tools.render.charts import breakdown_chart
from tools.render.raster import PNG_SIGNATURE, svg_to_png


def test_a_chart_svg_becomes_a_png_of_the_requested_width() -> None:
    svg = breakdown_chart(title="By scope", labels=["1", "2"], values=[3.0, 5.0], unit="kg")
    png = svg_to_png(svg=svg.decode(), width=640)
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        assert width == 640
        assert abs(height - 640 * 3.6 / 8) <= 1  # the chart's 8 x 3.6 in aspect ratio
        # A white background, and dark pixels where the bars and the text are.
        rgb = image.convert("RGB")
        corner = rgb.getpixel((0, 0))
        levels = rgb.convert("L").histogram()  # pixels per grey level, black first
    assert corner == (255, 255, 255)
    assert sum(levels[:80]) > 100


def test_a_document_that_is_not_svg_is_refused() -> None:
    with pytest.raises(ValueError, match="not a readable SVG document"):
        svg_to_png(svg="<not svg")
