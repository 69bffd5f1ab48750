"""The label every rendering of synthetic data carries, so it can never pass for measurements.

A chart or dashboard is often shared on its own, away from the report that says where its
numbers came from. So the rendering itself says it: charts of synthetic data carry
:data:`SYNTHETIC_LABEL` as a subtitle and as a watermark over the plot (and in the file's
metadata), dashboards carry it in their header. One constant, so every surface says the same
words and tests can look for them.
"""

from __future__ import annotations

__all__ = ["SYNTHETIC_LABEL"]

SYNTHETIC_LABEL = "SYNTHETIC data \u2014 not measured"
