"""The failures of the images route, one class per failure a client may handle.

Each class carries its status, stable ``code``, ``detail`` and when it happens
(:class:`app.errors.AppError`); ``GET /images/{name}`` documents them through
:func:`app.openapi_errors.error_responses`. The 400s are the parts of a grid plot name
(``co2plot_{day|month}_{region}_{start}_{end}.png``) that can be wrong, one code each.
"""

from __future__ import annotations

from typing import ClassVar

from app.errors import AppError

__all__ = [
    "DateOutOfRange",
    "GridSourceUnavailable",
    "ImageError",
    "ImageNotFound",
    "ImagesBusy",
    "InvalidDate",
    "InvalidPeriod",
    "InvalidPlotName",
    "InvalidRange",
    "NoGridData",
    "UnknownRegion",
]


class ImageError(AppError):
    """Base of the image failures."""


class ImageNotFound(ImageError):
    """No such chart, or a name that is neither a chart nor a grid plot."""

    status = 404
    code = "image_not_found"
    detail = "No such image."
    when: ClassVar[str] = "No such image"


class NoGridData(ImageError):
    """The grid source has no data for the plot's region and days."""

    status = 404
    code = "no_grid_data"
    detail = "No grid data for this plot."
    when: ClassVar[str] = "No grid data for the plot"


class InvalidPlotName(ImageError):
    """Base of the malformed parts of a grid plot name (``detail`` says which and why)."""

    status = 400


class InvalidPeriod(InvalidPlotName):
    code = "invalid_period"
    detail = "Unknown plot period; use day or month."
    when: ClassVar[str] = "The plot period is not `day` or `month`"


class UnknownRegion(InvalidPlotName):
    code = "unknown_region"
    detail = "Unknown region."
    when: ClassVar[str] = "Unknown region"


class InvalidDate(InvalidPlotName):
    code = "invalid_date"
    detail = "Not a YYYY-MM-DD date."
    when: ClassVar[str] = "A date is not a YYYY-MM-DD date, or does not exist"


class InvalidRange(InvalidPlotName):
    code = "invalid_range"
    detail = "The end date is before the start date."
    when: ClassVar[str] = "The end date is before the start date, or the span is too long"


class DateOutOfRange(InvalidPlotName):
    code = "date_out_of_range"
    detail = "The dates are outside the data's range."
    when: ClassVar[str] = "The days are before the data starts or past the forecast horizon"


class ImagesBusy(ImageError):
    """Too many images are waiting to be drawn; retry after ``Retry-After`` seconds."""

    status = 503
    code = "images_busy"
    detail = "Too many images are being drawn right now; retry shortly."
    when: ClassVar[str] = "Too many images are being drawn"


class GridSourceUnavailable(ImageError):
    """The grid data source failed (``detail`` says how)."""

    status = 503
    code = "grid_source_unavailable"
    detail = "The grid data source failed."
    when: ClassVar[str] = "The grid data source failed"
