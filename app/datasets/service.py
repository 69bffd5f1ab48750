"""The datasets domain's reads and writes: every query of ``datasets`` lives here.

:class:`DatasetService` serves the upload endpoints and owns its sessions: an upload is
checked against its size limit and the user's quota before it is parsed (no CPU spent on a
file that cannot be kept), parsed off the event loop within this app's parse slots
(:mod:`app.datasets.parsing`), and stored in a transaction that checks the quota again
(:mod:`app.datasets.quota`). The module functions take the caller's ``AsyncSession``: the
run service loads a run's dataset inside the transaction that writes the run row.

Every lookup filters on the owner, so another user's dataset is the same 404 as a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.datasets.errors import DatasetNotFound, DatasetTooLarge
from app.datasets.models import DatasetRow
from app.datasets.parsing import ParseSlots, parse_off_loop
from app.datasets.quota import check_dataset_quota
from app.datasets.schemas import DatasetView
from app.errors import InvalidInput
from app.settings import DatasetSettings
from tools.catalog_types import Dataset

__all__ = ["DatasetService", "dataset_exists", "dataset_for_run", "dataset_not_found"]

# A dataset's listing columns: everything but its rows.
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
_NAME_CHARS = 255


def dataset_not_found() -> DatasetNotFound:
    return DatasetNotFound()


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
        raise dataset_not_found()
    return _view(row)


class DatasetService:
    """The dataset endpoints' operations; ``limits`` are this app's upload limits and quota."""

    def __init__(
        self, session_maker: async_sessionmaker[AsyncSession], limits: DatasetSettings
    ) -> None:
        self._sessions = session_maker
        self._limits = limits
        # This app's parses in flight (``datasets.max_concurrent_parses``).
        self._parse_slots = ParseSlots(limits.max_concurrent_parses)

    async def upload(
        self, user_id: str, content: bytes, filename: str, name: str | None
    ) -> DatasetView:
        """Check, parse and store an uploaded file as the user's new dataset.

        Raises :class:`~app.errors.AppError`: 413 too large, 400 a NUL in the name, 409 quota full,
        422 not a valid dataset, 503 no parse slot free.
        """
        limits = self._limits
        if len(content) > limits.max_bytes:
            raise DatasetTooLarge(
                f"The file has {len(content)} bytes; the limit is {limits.max_bytes}.",
            )
        display_name = name or filename
        if "\x00" in display_name:
            # PostgreSQL text cannot hold NUL; say so instead of failing in the database.
            field = "name" if name else "file name"
            raise InvalidInput(f"The {field} contains a NUL character.")
        async with self._sessions() as session:
            await check_dataset_quota(session, user_id, len(content), limits, lock=False)
        parsed = await parse_off_loop(content, filename, limits, self._parse_slots)
        row = DatasetRow(
            user_id=user_id,
            name=display_name[:_NAME_CHARS],
            kind=parsed.kind,
            columns=list(parsed.columns),
            rows=list(parsed.rows),
            row_count=len(parsed.rows),
            warnings=list(parsed.warnings),
            size_bytes=len(content),
            created_at=datetime.now(UTC),
        )
        async with self._sessions() as session, session.begin():
            await check_dataset_quota(session, user_id, len(content), limits, lock=True)
            session.add(row)
        return _view(row)

    async def list_for(self, user_id: str) -> list[DatasetView]:
        """The user's datasets, newest first (without their rows)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(*_VIEW_COLUMNS)
                    .where(DatasetRow.user_id == user_id)
                    .order_by(DatasetRow.created_at.desc(), DatasetRow.id)
                )
            ).all()
        return [_view(row) for row in rows]

    async def get(self, dataset_id: str, user_id: str) -> DatasetView:
        async with self._sessions() as session:
            return await _owned(session, dataset_id, user_id)

    async def delete(self, dataset_id: str, user_id: str) -> None:
        """Delete the user's dataset (404 if none); runs that used it keep their reports."""
        async with self._sessions() as session, session.begin():
            await _owned(session, dataset_id, user_id)
            await session.execute(
                delete(DatasetRow).where(DatasetRow.id == dataset_id, DatasetRow.user_id == user_id)
            )


# -- statements for a caller's transaction ---------------------------------------------------


async def dataset_for_run(session: AsyncSession, user_id: str, dataset_id: str) -> Dataset:
    """The user's dataset with its rows, as the tools read it; 404 if the user has none."""
    row = await session.scalar(
        select(DatasetRow).where(DatasetRow.id == dataset_id, DatasetRow.user_id == user_id)
    )
    if row is None:
        raise dataset_not_found()
    return Dataset(
        id=row.id,
        name=row.name,
        kind=row.kind,
        columns=tuple(row.columns),
        rows=tuple(row.rows),
    )


async def dataset_exists(session: AsyncSession, dataset_id: str) -> bool:
    return await session.get(DatasetRow, dataset_id) is not None
