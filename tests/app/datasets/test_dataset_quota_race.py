"""On PostgreSQL, concurrent uploads of one user cannot pass the quota together.

The count and the insert are two statements; between them another upload of the same user
could count the same number. The check locks the user's row first, so the second upload
counts after the first committed. The gap is widened on purpose (a sleep between check and
insert) so that without the lock every task would pass.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.auth.models import User
from app.datasets.models import DatasetRow
from app.datasets.quota import check_dataset_quota
from app.db.engine import Database
from app.db.migrate import migrate
from app.errors import DomainError
from app.settings import DatabaseSettings, DatasetSettings, Settings
from tests.conftest import make_settings
from tests.support.backends import on_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_settings(tmp_path: Path, api_postgres_dsn: str) -> Settings:
    """Settings on the session's (emptied) PostgreSQL database."""
    return on_postgres(make_settings(tmp_path), api_postgres_dsn)


async def test_concurrent_uploads_of_one_user_stop_at_the_quota(
    postgres_settings: Settings,
) -> None:
    settings = postgres_settings
    database = Database(DatabaseSettings(url=settings.database.url))
    limits = DatasetSettings(max_per_user=3)
    user_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    try:
        await migrate(database.engine)
        async with database.session_maker.begin() as session:
            session.add(
                User(id=user_id, email="race@example.org", user_handle=b"h" * 16, created_at=now)
            )

        async def upload() -> str:
            try:
                async with database.session_maker.begin() as session:
                    await check_dataset_quota(session, user_id, 10, limits, lock=True)
                    await asyncio.sleep(0.05)  # the gap another upload could slip into
                    session.add(
                        DatasetRow(
                            user_id=user_id,
                            name="d",
                            kind="numeric_table",
                            columns=[],
                            rows=[],
                            row_count=0,
                            warnings=[],
                            size_bytes=10,
                            created_at=now,
                        )
                    )
            except DomainError as exc:
                return exc.code
            return "stored"

        outcomes = await asyncio.gather(*(upload() for _ in range(8)))
        assert sorted(outcomes) == ["dataset_quota_exceeded"] * 5 + ["stored"] * 3, outcomes
    finally:
        await database.dispose()
