"""Dataset uploads: ``POST /datasets`` (multipart CSV/JSON), list, read and delete.

Parsing is the domain's job (``tools.analysis.upload``): it decides whether the file is
activity records or a numeric table and names the line of any bad row (422 here). It runs
off the event loop within caps and a CPU budget (:mod:`app.datasets.parsing`), and only
when the user's quota has room for the file (:mod:`app.datasets.quota`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.datasets.models import DatasetRow
from app.datasets.parsing import ParseSlots, parse_off_loop
from app.datasets.quota import check_dataset_quota
from app.errors import DomainError
from app.openapi_errors import BAD_PARAMETER, error_responses
from app.request_body import require_multipart
from app.runs.http import current_user_id
from app.runs.runtime import RunsRuntime
from app.settings import DatasetSettings, Settings

__all__ = ["DatasetUpload", "DatasetView", "DatasetsController", "datasets_controller"]

# Multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024

_NO_DATASET = (404, "No such dataset for this user (`dataset_not_found`)")


@dataclass
class DatasetUpload:
    """The multipart form: ``file`` (CSV, or ``.json``) and an optional display ``name``."""

    file: UploadFile
    name: str | None = None


class DatasetView(msgspec.Struct, kw_only=True):
    dataset_id: str
    name: str
    kind: str
    rows: int
    columns: list[str]
    warnings: list[str]
    size_bytes: int
    created_at: datetime


class DatasetList(msgspec.Struct, kw_only=True):
    datasets: list[DatasetView]


class Deleted(msgspec.Struct, kw_only=True):
    message: str


_VIEW_COLUMNS = (
    DatasetRow.id,
    DatasetRow.name,
    DatasetRow.kind,
    DatasetRow.row_count,
    DatasetRow.columns,
    DatasetRow.warnings,
    DatasetRow.size_bytes,
    DatasetRow.created_at,
)


def _view(row: Any) -> DatasetView:
    return DatasetView(
        dataset_id=row.id,
        name=row.name,
        kind=row.kind,
        rows=row.row_count,
        columns=list(row.columns),
        warnings=list(row.warnings),
        size_bytes=row.size_bytes,
        created_at=row.created_at,
    )


async def _owned(session: AsyncSession, dataset_id: str, user_id: str) -> DatasetView:
    row = (
        await session.execute(
            select(*_VIEW_COLUMNS).where(DatasetRow.id == dataset_id, DatasetRow.user_id == user_id)
        )
    ).first()
    if row is None:
        raise DomainError(404, "dataset_not_found", "Dataset not found.")
    return _view(row)


class DatasetsController(Controller):
    path = "/datasets"
    tags = ["datasets"]
    # This worker's parses in flight (set per app by :func:`datasets_controller`).
    parse_slots: ParseSlots = ParseSlots(1)

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
            401,
            (
                409,
                "The account's dataset quota (count or total bytes) has no room for this file "
                "(`dataset_quota_exceeded`)",
            ),
            (413, "The body or the file is larger than the limit (`payload_too_large`)"),
            (415, "Content-Type is not multipart/form-data (`unsupported_media_type`)"),
            (
                422,
                "The file is not a valid CSV or JSON dataset, passes a cap (columns, cells, "
                "cell length, nesting) or its parse's CPU budget; `detail` names the fault "
                "(`invalid_upload`)",
            ),
            (
                503,
                "This worker is parsing as many uploads as it may at once (`uploads_busy`), or "
                "the database is unavailable; retry after `Retry-After` seconds",
            ),
        ),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: MultipartBody[DatasetUpload],
        runs_runtime: NamedDependency[RunsRuntime],
        settings: NamedDependency[Settings],
    ) -> DatasetView:
        """Upload a CSV or JSON file; it is parsed, validated and stored for later runs."""
        limits: DatasetSettings = settings.datasets
        content = await data.file.read()
        if len(content) > limits.max_bytes:
            raise DomainError(
                413,
                "payload_too_large",
                f"The file has {len(content)} bytes; the limit is {limits.max_bytes}.",
            )
        filename = data.file.filename or "upload.csv"
        name = data.name or filename
        if "\x00" in name:
            # PostgreSQL text cannot hold NUL; say so instead of failing in the database.
            field = "name" if data.name else "file name"
            raise DomainError(400, "invalid_input", f"The {field} contains a NUL character.")
        user_id = current_user_id(request)
        sessions = runs_runtime.service.session_maker
        async with sessions() as session:
            await check_dataset_quota(session, user_id, len(content), limits, lock=False)
        parsed = await parse_off_loop(content, filename, limits, self.parse_slots)
        now = datetime.now(UTC)
        row = DatasetRow(
            user_id=user_id,
            name=name[:255],
            kind=parsed.kind,
            columns=list(parsed.columns),
            rows=list(parsed.rows),
            row_count=len(parsed.rows),
            warnings=list(parsed.warnings),
            size_bytes=len(content),
            created_at=now,
        )
        async with sessions() as session, session.begin():
            await check_dataset_quota(session, user_id, len(content), limits, lock=True)
            session.add(row)
        return _view(row)

    @get(["/", ""], responses=error_responses(401, 503))
    async def list_datasets(
        self, request: Request[Any, Any, Any], runs_runtime: NamedDependency[RunsRuntime]
    ) -> DatasetList:
        """The caller's datasets, newest first (without their rows)."""
        async with runs_runtime.service.session_maker() as session:
            rows = (
                await session.execute(
                    select(*_VIEW_COLUMNS)
                    .where(DatasetRow.user_id == current_user_id(request))
                    .order_by(DatasetRow.created_at.desc(), DatasetRow.id)
                )
            ).all()
        return DatasetList(datasets=[_view(row) for row in rows])

    @get("/{dataset_id:str}", responses=error_responses(BAD_PARAMETER, 401, _NO_DATASET, 503))
    async def get_dataset(
        self,
        request: Request[Any, Any, Any],
        dataset_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> DatasetView:
        async with runs_runtime.service.session_maker() as session:
            return await _owned(session, dataset_id, current_user_id(request))

    @delete(
        "/{dataset_id:str}",
        status_code=200,
        responses=error_responses(BAD_PARAMETER, 401, _NO_DATASET, 503),
    )
    async def delete_dataset(
        self,
        request: Request[Any, Any, Any],
        dataset_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> Deleted:
        """Delete a dataset; runs that used it keep their reports (their link is cleared)."""
        user_id = current_user_id(request)
        async with runs_runtime.service.session_maker() as session, session.begin():
            await _owned(session, dataset_id, user_id)
            await session.execute(
                sql_delete(DatasetRow).where(
                    DatasetRow.id == dataset_id, DatasetRow.user_id == user_id
                )
            )
        return Deleted(message="Dataset deleted successfully")


def datasets_controller(settings: DatasetSettings) -> type[DatasetsController]:
    """The controller with a body limit that fits the configured maximum upload size, and
    this app's own count of parses in flight."""
    return type(
        "DatasetsController",
        (DatasetsController,),
        {
            "request_max_body_size": settings.max_bytes + _MULTIPART_OVERHEAD,
            "parse_slots": ParseSlots(settings.max_concurrent_parses),
        },
    )
