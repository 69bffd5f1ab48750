"""Uploads cannot hurt the service: quota, caps, CPU budget, parse slots, NUL (issue 14).

Runs on SQLite and PostgreSQL (this folder's conftest): a NUL in a dataset name was a 500
on PostgreSQL only, and the quota's row lock is PostgreSQL's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.datasets.parsing import ParseSlots, parse_off_loop
from app.errors import DomainError
from app.main import create_app
from app.settings import DatasetSettings, Settings
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]
ClientWith = Callable[..., AbstractAsyncContextManager[tuple[Client, AuthedUser]]]

CSV = b"month,revenue\n2026-01,1000\n2026-02,1200\n"


@pytest.fixture
def client_with(settings: Settings) -> ClientWith:
    """``async with client_with(max_per_user=2) as (client, alice)``: the app on this test's
    backend with those ``[datasets]`` settings, and a signed-in user."""

    @asynccontextmanager
    async def make(**datasets: Any) -> AsyncIterator[tuple[Client, AuthedUser]]:
        limits = msgspec.structs.replace(DatasetSettings(), **datasets)
        app = create_app(msgspec.structs.replace(settings, datasets=limits))
        async with AsyncTestClient(app) as client:
            yield client, await signed_in_user(client, "alice@example.org")

    return make


async def upload(
    client: Client, user: AuthedUser, content: bytes, filename: str = "a.csv", **form: str
) -> Any:
    return await client.post(
        "/datasets",
        files={"file": (filename, content, "text/csv")},
        data=form,
        headers=user.headers,
    )


async def test_the_quota_caps_how_many_datasets_a_user_keeps(client_with: ClientWith) -> None:
    async with client_with(max_per_user=2) as (client, alice):
        first = await upload(client, alice, CSV)
        assert first.status_code == 201, first.text
        assert (await upload(client, alice, CSV)).status_code == 201
        refused = await upload(client, alice, CSV)
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["code"] == "dataset_quota_exceeded"
        assert body["detail"].startswith("You already have 2 datasets")
        assert (body["datasets"], body["max_datasets"]) == (2, 2)
        listed = (await client.get("/datasets", headers=alice.headers)).json()["datasets"]
        assert len(listed) == 2
        # Deleting one frees its place at once; another user has a quota of their own.
        deleted = await client.delete(
            f"/datasets/{first.json()['dataset_id']}", headers=alice.headers
        )
        assert deleted.status_code == 200
        assert (await upload(client, alice, CSV)).status_code == 201
        bob = await signed_in_user(client, "bob@example.org")
        assert (await upload(client, bob, CSV)).status_code == 201


async def test_the_quota_caps_the_bytes_a_user_keeps(client_with: ClientWith) -> None:
    async with client_with(max_total_bytes_per_user=2 * len(CSV) + 1) as (client, alice):
        assert (await upload(client, alice, CSV)).status_code == 201
        assert (await upload(client, alice, CSV)).status_code == 201
        refused = await upload(client, alice, CSV)
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["code"] == "dataset_quota_exceeded"
        assert (body["used_bytes"], body["max_total_bytes"]) == (2 * len(CSV), 2 * len(CSV) + 1)


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b'[{"v": ' + b"9" * 5_000 + b"}]", "big.json", "out of range"),
        (b"[" * 50_000 + b"]" * 50_000, "deep.json", "nested more than 8 levels"),
        (b'[{"v": 1, "note": "a\\u0000b"}]', "nul.json", "NUL"),
        (b"v,note\n1,a\x00b\n", "nul.csv", "line 2: the file contains a NUL"),
        (
            (",".join(f"c{i}" for i in range(1_001)) + "\n" + "1," * 1_000 + "1\n").encode(),
            "wide.csv",
            "too many columns: the limit is 1,000",
        ),
    ],
)
async def test_a_harmful_file_is_422_naming_the_fault(
    client_with: ClientWith, content: bytes, filename: str, message: str
) -> None:
    async with client_with() as (client, alice):
        response = await upload(client, alice, content, filename)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_upload"
        assert message in response.json()["detail"]


async def test_a_parse_past_its_cpu_budget_is_422(client_with: ClientWith) -> None:
    content = b"v,w\n" + b"1,2\n" * 20_000
    async with client_with(parse_cpu_s=0.001) as (client, alice):
        response = await upload(client, alice, content)
        assert response.status_code == 422, response.text
        assert "CPU-time budget of 0.001 s" in response.json()["detail"]


async def test_an_upload_past_the_parse_slots_gets_503_with_retry_after() -> None:
    """The slot is taken before the parse awaits its thread, so the refusal is immediate."""
    slots = ParseSlots(1)
    big = b"v,w,x\n" + b"1,2,3\n" * 20_000
    first = asyncio.create_task(parse_off_loop(big, "big.csv", DatasetSettings(), slots))
    await asyncio.sleep(0)  # the first parse holds the only slot and waits for its thread
    with pytest.raises(DomainError) as refused:
        await parse_off_loop(CSV, "a.csv", DatasetSettings(), slots)
    assert (refused.value.status, refused.value.code) == (503, "uploads_busy")
    assert refused.value.headers == {"Retry-After": "2"}
    assert len((await first).rows) == 20_000
    assert slots.busy == 0
    assert len((await parse_off_loop(CSV, "a.csv", DatasetSettings(), slots)).rows) == 2
    # A failed parse gives its slot back too.
    with pytest.raises(DomainError, match="no data rows"):
        await parse_off_loop(b"v\n", "a.csv", DatasetSettings(), slots)
    assert slots.busy == 0


def multipart(filename: bytes, content: bytes, name: bytes | None = None) -> bytes:
    """A raw multipart body (httpx would percent-encode a NUL in the file name)."""
    parts = [
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n"
    ]
    if name is not None:
        parts.append(b'--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n' + name + b"\r\n")
    return b"".join(parts) + b"--B--\r\n"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (multipart(b"a.csv", CSV, name=b"q1\x00"), "name"),
        (multipart(b"a\x00.csv", CSV), "file name"),
    ],
)
async def test_a_nul_in_the_dataset_name_is_400(
    client_with: ClientWith, body: bytes, field: str
) -> None:
    async with client_with() as (client, alice):
        response = await client.post(
            "/datasets",
            content=body,
            headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=B"},
        )
        assert response.status_code == 400, response.text
        assert response.json() | {"request_id": None} == {
            "detail": f"The {field} contains a NUL character.",
            "code": "invalid_input",
            "request_id": None,
        }


UNKNOWN_CHARSET = multipart(b"a.csv", CSV).replace(
    b"--B--",
    b'--B\r\nContent-Disposition: form-data; name="name"\r\n'
    b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nq1\r\n--B--",
)


@pytest.mark.parametrize(
    "body",
    [
        multipart(b"a.csv", CSV, name=b"\xff\xfe"),
        multipart(b"a.csv", CSV, name=b"\xed\xa0\x80"),  # an encoded lone surrogate
        UNKNOWN_CHARSET,
    ],
    ids=["invalid-utf8", "surrogate", "unknown-charset"],
)
async def test_a_form_field_that_is_not_text_is_400(client_with: ClientWith, body: bytes) -> None:
    async with client_with() as (client, alice):
        response = await client.post(
            "/datasets",
            content=body,
            headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=B"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_input"
        assert (
            response.json()["detail"]
            == "A text field of the form cannot be decoded; send it as UTF-8."
        )
        listed = (await client.get("/datasets", headers=alice.headers)).json()
        assert listed == {"datasets": []}
        # The same form with a readable name is stored.
        fine = await client.post(
            "/datasets",
            content=multipart(b"a.csv", CSV, name="Q1 \u00e9nergie".encode()),
            headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=B"},
        )
        assert fine.status_code == 201, fine.text
        assert fine.json()["name"] == "Q1 \u00e9nergie"
