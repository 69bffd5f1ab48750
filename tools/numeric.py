"""Small numeric helpers shared by the grid and analysis modules (plain Python, no numpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

__all__ = ["LinearFit", "linear_fit", "mean", "percentile", "safe_pct"]


class LinearFit(msgspec.Struct, frozen=True, kw_only=True):
    """Least-squares line ``y = slope * x + intercept`` and its coefficient of determination."""

    slope: float
    intercept: float
    r_squared: float


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; callers guarantee a non-empty sequence."""
    return math.fsum(values) / len(values)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear-interpolation percentile (NumPy's default method) of already sorted values.

    The rank is ``pct/100 * (n-1)``; values between two ranks are interpolated.
    """
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    rank = pct / 100.0 * (len(sorted_values) - 1)
    lower = math.floor(rank)
    upper = min(lower + 1, len(sorted_values) - 1)
    frac = rank - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * frac


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Ordinary least squares. A flat or single-point series has slope 0 and R² 0."""
    n = len(xs)
    if n < 2:
        return LinearFit(slope=0.0, intercept=ys[0] if ys else 0.0, r_squared=0.0)
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    syy = math.fsum((y - mean_y) ** 2 for y in ys)
    if sxx == 0.0:
        return LinearFit(slope=0.0, intercept=mean_y, r_squared=0.0)
    slope = sxy / sxx
    r_squared = 0.0 if syy == 0.0 else (sxy * sxy) / (sxx * syy)
    return LinearFit(slope=slope, intercept=mean_y - slope * mean_x, r_squared=r_squared)


def safe_pct(part: float, whole: float) -> float | None:
    """``part / whole`` as a percentage, or None when ``whole`` is zero."""
    if whole == 0.0:
        return None
    return part / whole * 100.0
