"""The failures of the datasets domain, one class per failure a client may handle.

Each class carries its status, stable ``code``, ``detail`` and when it happens
(:class:`app.errors.AppError`); the dataset routes document them through
:func:`app.openapi_errors.error_responses`, and the runs domain raises
:class:`DatasetNotFound` when a question names a dataset the caller cannot see.
"""

from __future__ import annotations

from typing import ClassVar

from app.errors import AppError

__all__ = [
    "DatasetError",
    "DatasetNotFound",
    "DatasetQuotaExceeded",
    "DatasetTooLarge",
    "InvalidUpload",
    "UploadsBusy",
]


class DatasetError(AppError):
    """Base of the dataset failures."""


class DatasetNotFound(DatasetError):
    """Missing, deleted or another user's dataset: the same 404 (no existence leak)."""

    status = 404
    code = "dataset_not_found"
    detail = "Dataset not found."
    when: ClassVar[str] = "No such dataset for this user"


class DatasetTooLarge(DatasetError):
    """The uploaded file is larger than the per-file limit (``detail`` says both sizes)."""

    status = 413
    code = "payload_too_large"
    detail = "The file is larger than the limit."
    when: ClassVar[str] = "The file is larger than the per-file limit"


class DatasetQuotaExceeded(DatasetError):
    """The account's dataset quota (count or total bytes) has no room for this file; the body
    also carries the figures (``datasets``/``max_datasets`` or ``used_bytes``/…)."""

    status = 409
    code = "dataset_quota_exceeded"
    detail = "The account's dataset quota has no room for this file."
    when: ClassVar[str] = (
        "The account's dataset quota (count or total bytes) has no room for this file"
    )


class InvalidUpload(DatasetError):
    """The file is not a dataset this service can read (``detail`` names the file and why)."""

    status = 422
    code = "invalid_upload"
    detail = "The file is not a valid dataset."
    when: ClassVar[str] = (
        "The file is not a valid CSV or JSON dataset, passes a cap (columns, cells, "
        "cell length, nesting) or its parse's CPU budget; `detail` names the fault"
    )


class UploadsBusy(DatasetError):
    """Every parse slot of this server is taken; retry after ``Retry-After`` seconds."""

    status = 503
    code = "uploads_busy"
    detail = "This server is already parsing uploads; retry in a few seconds."
    when: ClassVar[str] = "The server is already parsing as many uploads as it can"
