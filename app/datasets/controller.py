"""Dataset uploads: ``POST /datasets`` (multipart CSV/JSON), list, read and delete.

Parsing is the domain's job (``tools.analysis.upload``): it decides whether the file is
activity records or a numeric table and names the line of any bad row (422 here). The
service (:mod:`app.datasets.service`) parses it off the event loop within caps and a CPU
budget, and only when the user's quota has room for the file.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody

from app.datasets.errors import (
    DatasetNotFound,
    DatasetQuotaExceeded,
    DatasetTooLarge,
    InvalidUpload,
    UploadsBusy,
)
from app.datasets.schemas import DatasetList, DatasetUpload, DatasetView, Deleted, DeletedResponse
from app.datasets.service import DatasetService
from app.errors import InvalidInput
from app.openapi_errors import BAD_PARAMETER, error_responses
from app.request_body import require_multipart
from app.runs.http import current_user_id
from app.settings import DatasetSettings

__all__ = ["DatasetsController", "datasets_controller"]

# Multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024


class DatasetsController(Controller):
    path = "/datasets"
    tags = ["datasets"]

    @post(
        ["/", ""],
        status_code=201,
        guards=[require_multipart],
        responses=error_responses(
            (
                400,
                "Not a readable multipart form, or its `file` part is missing "
                "(`bad_request`, `validation_error`)",
            ),
            InvalidInput,
            401,
            DatasetQuotaExceeded,
            (413, "The body or the file is larger than the limit (`payload_too_large`)"),
            DatasetTooLarge,
            (415, "Content-Type is not multipart/form-data (`unsupported_media_type`)"),
            InvalidUpload,
            (
                503,
                "This worker is parsing as many uploads as it may at once (`uploads_busy`), or "
                "the database is unavailable; retry after `Retry-After` seconds",
            ),
            UploadsBusy,
        ),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: MultipartBody[DatasetUpload],
        dataset_service: NamedDependency[DatasetService],
    ) -> DatasetView:
        """Upload a CSV or JSON file; it is parsed, validated and stored for later runs."""
        content = await data.file.read()
        return await dataset_service.upload(
            current_user_id(request),
            content,
            filename=data.file.filename or "upload.csv",
            name=data.name,
        )

    @get(["/", ""], responses=error_responses(401, 503))
    async def list_datasets(
        self,
        request: Request[Any, Any, Any],
        dataset_service: NamedDependency[DatasetService],
    ) -> DatasetList:
        """The caller's datasets, newest first (without their rows)."""
        return DatasetList(datasets=await dataset_service.list_for(current_user_id(request)))

    @get("/{dataset_id:str}", responses=error_responses(BAD_PARAMETER, 401, DatasetNotFound, 503))
    async def get_dataset(
        self,
        request: Request[Any, Any, Any],
        dataset_id: FromPath[str],
        dataset_service: NamedDependency[DatasetService],
    ) -> DatasetView:
        return await dataset_service.get(dataset_id, current_user_id(request))

    @delete(
        "/{dataset_id:str}",
        status_code=200,
        responses=error_responses(BAD_PARAMETER, 401, DatasetNotFound, 503),
    )
    async def delete_dataset(
        self,
        request: Request[Any, Any, Any],
        dataset_id: FromPath[str],
        dataset_service: NamedDependency[DatasetService],
    ) -> DeletedResponse:
        """Delete a dataset; runs that used it keep their reports (their link is cleared)."""
        await dataset_service.delete(dataset_id, current_user_id(request))
        return Deleted(message="Dataset deleted successfully")


def datasets_controller(settings: DatasetSettings) -> type[DatasetsController]:
    """The controller with a body limit that fits the configured maximum upload size."""
    return type(
        "DatasetsController",
        (DatasetsController,),
        {"request_max_body_size": settings.max_bytes + _MULTIPART_OVERHEAD},
    )
