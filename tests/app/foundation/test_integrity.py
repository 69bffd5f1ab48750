"""Integrity errors are classified by their real cause on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Executable, insert
from sqlalchemy.exc import IntegrityError

from app.auth.models import Credential, User
from app.db.base import new_id
from app.db.engine import Database
from app.db.integrity import ViolationKind, classify_integrity_error
from tests.support.runs import migrated_database, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with migrated_database(database_url) as database:
        yield database


def _user(email: str) -> dict[str, object]:
    return {
        "id": new_id(),
        "email": email,
        "user_handle": os.urandom(64),
        "created_at": datetime.now(UTC),
    }


async def _execute(database: Database, statements: tuple[Executable, ...]) -> None:
    async with database.session_maker.begin() as session:
        for statement in statements:
            await session.execute(statement)


async def _violation(database: Database, *statements: Executable) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        await _execute(database, statements)
    return caught.value


async def test_a_duplicate_is_a_unique_violation_naming_its_column(database: Database) -> None:
    exc = await _violation(
        database,
        insert(User).values(_user("ann@example.org")),
        insert(User).values(_user("ann@example.org")),
    )
    violation = classify_integrity_error(exc)
    assert violation.kind is ViolationKind.UNIQUE
    named = (violation.constraint or "") + " ".join(violation.columns)
    assert "email" in named, violation


async def test_a_missing_parent_is_a_foreign_key_violation(database: Database) -> None:
    orphan = insert(Credential).values(
        id=new_id(),
        user_id=new_id(),
        credential_id=os.urandom(16),
        public_key=b"k",
        sign_count=0,
        transports=[],
        aaguid="00000000-0000-0000-0000-000000000000",
        device_type="single_device",
        backed_up=False,
        name="Passkey 1",
        created_at=datetime.now(UTC),
    )
    violation = classify_integrity_error(await _violation(database, orphan))
    assert violation.kind is ViolationKind.FOREIGN_KEY
