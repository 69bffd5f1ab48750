"""Dataset uploads through the full app: parse, store, list, delete, use in a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import DatasetSettings
from tests.conftest import make_settings
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]

ACTIVITY_CSV = (
    b"date,category,quantity,unit\n"
    b"2026-01-15,electricity,1200,kWh\n"
    b"2026-02-15,electricity,1100,kWh\n"
    b"2026-02-20,diesel,300,litre\n"
)
NUMERIC_JSON = b'[{"month": "Jan", "revenue": 1000, "energy_kwh": 50.5}, ' + (
    b'{"month": "Feb", "revenue": 1200, "energy_kwh": 48}]'
)


@pytest.fixture
async def alice(client: Client) -> AuthedUser:
    return await signed_in_user(client, "alice@example.org")


async def _upload(
    client: Client, user: AuthedUser, content: bytes, filename: str, **form: str
) -> Any:
    return await client.post(
        "/datasets",
        files={"file": (filename, content, "text/csv")},
        data=form,
        headers=user.headers,
    )


async def test_an_activity_csv_is_parsed_and_stored(client: Client, alice: AuthedUser) -> None:
    response = await _upload(client, alice, ACTIVITY_CSV, "energy.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "activity_records"
    assert body["rows"] == 3
    assert body["columns"] == ["date", "category", "quantity", "unit"]
    assert body["name"] == "energy.csv"
    assert body["size_bytes"] == len(ACTIVITY_CSV)
    listed = (await client.get("/datasets", headers=alice.headers)).json()["datasets"]
    assert [d["dataset_id"] for d in listed] == [body["dataset_id"]]
    one = await client.get(f"/datasets/{body['dataset_id']}", headers=alice.headers)
    assert one.json() == body


async def test_a_json_table_is_a_numeric_table_with_a_display_name(
    client: Client, alice: AuthedUser
) -> None:
    response = await _upload(client, alice, NUMERIC_JSON, "sales.json", name="Sales 2026")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["rows"], body["name"]) == ("numeric_table", 2, "Sales 2026")
    assert any("month" in warning for warning in body["warnings"])


async def test_bad_rows_are_422_with_the_line_number(client: Client, alice: AuthedUser) -> None:
    bad = ACTIVITY_CSV + b"2026-03-01,electricity,lots,kWh\n"
    response = await _upload(client, alice, bad, "energy.csv")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_upload"
    assert "line 5" in body["detail"]
    ragged = await _upload(client, alice, b"a,b\n1,2\n3\n", "t.csv")
    assert ragged.status_code == 422
    assert "line 3" in ragged.json()["detail"]
    assert (await client.get("/datasets", headers=alice.headers)).json()["datasets"] == []


async def test_an_upload_needs_a_file(client: Client, alice: AuthedUser) -> None:
    not_multipart = await client.post("/datasets", data={"name": "x"}, headers=alice.headers)
    assert not_multipart.status_code == 415
    assert not_multipart.json()["code"] == "unsupported_media_type"
    assert "multipart/form-data" in not_multipart.json()["detail"]
    no_file = await client.post(
        "/datasets", files={"other": ("a.csv", b"a\n1\n")}, headers=alice.headers
    )
    assert no_file.status_code == 400
    assert "file" in no_file.json()["detail"]


async def test_uploads_over_the_size_limit_are_413(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, datasets=DatasetSettings(max_bytes=200, max_rows=1000))
    async with AsyncTestClient(create_app(settings)) as client:
        user = await signed_in_user(client, "alice@example.org")
        big = ACTIVITY_CSV + b"2026-03-01,electricity,1,kWh\n" * 10
        response = await _upload(client, user, big, "big.csv")
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        huge = await _upload(client, user, b"x" * 200_000, "huge.csv")
        assert huge.status_code == 413


async def test_datasets_are_private_and_deletable(client: Client, alice: AuthedUser) -> None:
    bob = await signed_in_user(client, "bob@example.org")
    dataset_id = (await _upload(client, alice, ACTIVITY_CSV, "energy.csv")).json()["dataset_id"]
    assert (await client.get("/datasets", headers=bob.headers)).json()["datasets"] == []
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/datasets/{dataset_id}", headers=bob.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "dataset_not_found"
    asked = await client.post(
        "/ask", json={"question": "Footprint?", "dataset_id": dataset_id}, headers=bob.headers
    )
    assert asked.status_code == 404
    deleted = await client.delete(f"/datasets/{dataset_id}", headers=alice.headers)
    assert deleted.json() == {"message": "Dataset deleted successfully"}
    assert (await client.get(f"/datasets/{dataset_id}", headers=alice.headers)).status_code == 404


async def test_a_run_uses_the_uploaded_dataset(client: Client, alice: AuthedUser) -> None:
    dataset_id = (await _upload(client, alice, ACTIVITY_CSV, "energy.csv")).json()["dataset_id"]
    response = await client.post(
        "/ask",
        json={
            "question": "What is the carbon footprint of my uploaded data?",
            "dataset_id": dataset_id,
        },
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "Success"
    run = (await client.get(f"/runs/{body['run_id']}", headers=alice.headers)).json()
    assert run["dataset_id"] == dataset_id
    assert any(
        source["kind"] == "upload" or "energy.csv" in source["name"] for source in body["sources"]
    ), body["sources"]
    # Deleting the dataset keeps the run (its link is cleared).
    await client.delete(f"/datasets/{dataset_id}", headers=alice.headers)
    run = (await client.get(f"/runs/{body['run_id']}", headers=alice.headers)).json()
    assert run["dataset_id"] is None
    assert run["status"] == "completed"
