"""``datasets.max_rows`` through ``POST /datasets``, and the body of ``GET /datasets/{id}``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import DatasetSettings, Settings
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]
MAX_ROWS = 3
HEADER = b"date,category,quantity,unit\n"
ROW = b"2026-01-15,electricity,1200,kWh\n"
JSON_ROW = b'{"date": "2026-01-15", "category": "electricity", "quantity": 1200, "unit": "kWh"}'


def json_rows(count: int) -> bytes:
    return b"[" + b", ".join([JSON_ROW] * count) + b"]"


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[Client]:
    """The real app (SQLite, and PostgreSQL in this suite) accepting at most MAX_ROWS rows."""
    limits = DatasetSettings(max_rows=MAX_ROWS)
    app = create_app(msgspec.structs.replace(settings, datasets=limits))
    async with AsyncTestClient(app) as client:
        yield client


@pytest.fixture
async def alice(limited_client: Client) -> AuthedUser:
    return await signed_in_user(limited_client, "alice@example.org")


@pytest.mark.parametrize(
    ("filename", "content"),
    [("over.csv", HEADER + ROW * (MAX_ROWS + 1)), ("over.json", json_rows(MAX_ROWS + 1))],
)
async def test_an_upload_over_max_rows_is_422_and_stores_nothing(
    limited_client: Client, alice: AuthedUser, filename: str, content: bytes
) -> None:
    response = await limited_client.post(
        "/datasets", files={"file": (filename, content, "text/csv")}, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "invalid_upload"
    assert body["detail"] == f"{filename}: too many rows: the limit is {MAX_ROWS}"
    listed = (await limited_client.get("/datasets", headers=alice.headers)).json()
    assert listed == {"datasets": []}


@pytest.mark.parametrize(
    ("filename", "content"),
    [("full.csv", HEADER + ROW * MAX_ROWS), ("full.json", json_rows(MAX_ROWS))],
)
async def test_an_upload_of_exactly_max_rows_is_stored_and_readable(
    limited_client: Client, alice: AuthedUser, filename: str, content: bytes
) -> None:
    created = await limited_client.post(
        "/datasets", files={"file": (filename, content, "text/csv")}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    dataset_id = created.json()["dataset_id"]

    response = await limited_client.get(f"/datasets/{dataset_id}", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {
        "dataset_id",
        "name",
        "kind",
        "rows",
        "columns",
        "warnings",
        "size_bytes",
        "created_at",
    }
    assert body["dataset_id"] == dataset_id
    assert body["name"] == filename
    assert body["kind"] == "activity_records"
    assert body["rows"] == MAX_ROWS
    assert body["columns"] == ["date", "category", "quantity", "unit"]
    assert isinstance(body["warnings"], list)
    assert all(isinstance(warning, str) for warning in body["warnings"])
    assert body["size_bytes"] == len(content)
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() is not None
    # The stored rows are not part of the view; the upload's answer is the same view.
    assert body == created.json()
