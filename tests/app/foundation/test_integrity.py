"""Integrity errors are classified by their real cause on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import Executable, insert
from sqlalchemy.exc import IntegrityError

from app.auth.models import Credential, User
from app.db.base import new_id
from app.db.engine import Database
from app.db.integrity import ViolationKind, classify_integrity_error


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
