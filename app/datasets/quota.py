"""The per-user dataset quota: how many datasets one account keeps, and their total size.

Without it one free account could fill the database with 5 MB uploads (issue 14, row 12).
The quota counts datasets and the sum of their file sizes (``size_bytes``, what the user
uploaded and sees in the listing); deleting a dataset frees its share at once. A full quota
is 409 ``dataset_quota_exceeded`` with the numbers, checked before the file is parsed (no CPU
spent on an upload that cannot be kept) and again in the transaction that stores it. On
PostgreSQL that transaction first locks the user's row, so concurrent uploads of one user
are counted one after the other and the quota is exact; SQLite serialises writers, and a
worker parses at most ``datasets.max_concurrent_parses`` uploads at once, which bounds any
overshoot between the count and the insert there.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.datasets.errors import DatasetQuotaExceeded
from app.datasets.models import DatasetRow
from app.settings import DatasetSettings

__all__ = ["check_dataset_quota"]


async def check_dataset_quota(
    session: AsyncSession, user_id: str, new_bytes: int, limits: DatasetSettings, *, lock: bool
) -> None:
    """Raise 409 ``dataset_quota_exceeded`` if one more dataset of ``new_bytes`` does not fit.

    ``lock``: serialise with the user's other uploads (PostgreSQL row lock; call it inside the
    transaction that inserts the dataset).
    """
    if lock and session.get_bind().dialect.name == "postgresql":
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    count, total = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(DatasetRow.size_bytes), 0)).where(
                DatasetRow.user_id == user_id
            )
        )
    ).one()
    if count >= limits.max_per_user:
        raise DatasetQuotaExceeded(
            f"You already have {count} datasets, the most one account may keep; "
            "delete one to upload another.",
            datasets=count,
            max_datasets=limits.max_per_user,
        )
    if total + new_bytes > limits.max_total_bytes_per_user:
        raise DatasetQuotaExceeded(
            f"Your datasets take {total:,} bytes; this file ({new_bytes:,} bytes) would pass "
            f"the limit of {limits.max_total_bytes_per_user:,} bytes per account. Delete a "
            "dataset to make room.",
            used_bytes=total,
            max_total_bytes=limits.max_total_bytes_per_user,
        )
