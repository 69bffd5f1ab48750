"""Conversation history endpoints through the full app (real auth, offline engine), on SQLite
and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.sse import parse_sse
from tests.support.webauthn import AuthedUser, signed_in_user

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def alice(client: Client) -> AuthedUser:
    return await signed_in_user(client, "alice@example.org")


async def _ask(client: Client, user: AuthedUser, question: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/ask", json={"question": question, **body}, headers=user.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_conversations_are_listed_with_and_without_trailing_slash(
    client: Client, alice: AuthedUser
) -> None:
    older = await _ask(client, alice, "Footprint of 1,000 kWh of electricity in Ireland?")
    newer = await _ask(client, alice, "x" * 80)
    for path in ("/conversations", "/conversations/"):
        response = await client.get(path, headers=alice.headers)
        assert response.status_code == 200
        conversations = response.json()["conversations"]
        assert [c["id"] for c in conversations] == [
            newer["conversation_id"],
            older["conversation_id"],
        ]
    first = conversations[0]
    assert set(first) == {"id", "title", "created_at", "updated_at", "user_id"}
    assert first["title"] == "x" * 50
    assert first["user_id"] == alice.user_id
    # Continuing the older conversation makes it the most recently updated one.
    await _ask(client, alice, "And 2,000 kWh?", conversation_id=older["conversation_id"])
    again = (await client.get("/conversations", headers=alice.headers)).json()["conversations"]
    assert again[0]["id"] == older["conversation_id"]


async def test_a_conversation_shows_alternating_messages(client: Client, alice: AuthedUser) -> None:
    answer = await _ask(client, alice, "Footprint of 1,000 kWh of electricity in Ireland?")
    response = await client.get(
        f"/conversations/{answer['conversation_id']}", headers=alice.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["conversation"]["id"] == answer["conversation_id"]
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == answer["message"]["content"]
    for message in messages:
        assert {"id", "conversation_id", "role", "content", "timestamp"} <= set(message)
        assert message["conversation_id"] == answer["conversation_id"]
        assert message["run_id"] == answer["run_id"]


async def test_continuing_a_conversation_streams_a_new_run(
    client: Client, alice: AuthedUser
) -> None:
    first = await _ask(client, alice, "Footprint of 1,000 kWh of electricity in Ireland?")
    conversation_id = first["conversation_id"]
    response = await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"question": "What about 2,000 kWh?"},
        headers=alice.headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
    assert frames[0].event == "started"
    assert frames[0].event_body["data"]["conversation_id"] == conversation_id
    assert frames[-1].event == "completed"
    detail = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2


async def test_continuing_rejects_bad_input_as_json(client: Client, alice: AuthedUser) -> None:
    first = await _ask(client, alice, "Footprint of 1,000 kWh?")
    path = f"/conversations/{first['conversation_id']}/messages"
    extra = await client.post(
        path, json={"question": "q", "conversation_id": "x"}, headers=alice.headers
    )
    assert extra.status_code == 400
    assert extra.headers["content-type"].startswith("application/json")
    assert "conversation_id" in extra.json()["detail"]
    plain = await client.post(
        path, content=b"q", headers={**alice.headers, "content-type": "text/plain"}
    )
    assert plain.status_code == 415
    missing = await client.post(
        "/conversations/987654/messages", json={"question": "q"}, headers=alice.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "conversation_not_found"
    not_an_id = await client.post(
        "/conversations/nope/messages", json={"question": "q"}, headers=alice.headers
    )
    assert not_an_id.status_code == 400
    assert not_an_id.json()["code"] == "invalid_conversation_id"


async def test_deleting_a_conversation_removes_its_messages_runs_and_events(
    client: Client, alice: AuthedUser
) -> None:
    answer = await _ask(client, alice, "Footprint of 1,000 kWh?")
    conversation_id, run_id = answer["conversation_id"], answer["run_id"]
    response = await client.delete(f"/conversations/{conversation_id}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "Conversation deleted successfully"}
    assert (
        await client.get(f"/conversations/{conversation_id}", headers=alice.headers)
    ).status_code == 404
    assert (await client.get(f"/runs/{run_id}", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/runs/{run_id}/events", headers=alice.headers)).status_code == 404
    assert (await client.get("/conversations", headers=alice.headers)).json() == {
        "conversations": []
    }
    again = await client.delete(f"/conversations/{conversation_id}", headers=alice.headers)
    assert again.status_code == 404


async def test_two_users_cannot_see_each_others_conversations(
    client: Client, alice: AuthedUser
) -> None:
    bob = await signed_in_user(client, "bob@example.org")
    answer = await _ask(client, alice, "Footprint of 1,000 kWh?")
    conversation_id = answer["conversation_id"]
    assert (await client.get("/conversations", headers=bob.headers)).json() == {"conversations": []}
    for method, path, body in [
        ("GET", f"/conversations/{conversation_id}", None),
        ("DELETE", f"/conversations/{conversation_id}", None),
        ("POST", f"/conversations/{conversation_id}/messages", {"question": "mine now?"}),
    ]:
        response = await client.request(method, path, json=body, headers=bob.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "conversation_not_found"
    still = await client.get(f"/conversations/{conversation_id}", headers=alice.headers)
    assert [m["role"] for m in still.json()["messages"]] == ["user", "assistant"]


async def test_conversations_need_a_signed_in_user(client: Client) -> None:
    for path in ("/conversations", "/conversations/", "/conversations/x"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def _without_request_id(response: Response) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = response.json()
    body.pop("request_id", None)
    return response.status_code, body


async def test_conversation_and_message_ids_are_json_integers(
    client: Client, alice: AuthedUser
) -> None:
    first = await _ask(client, alice, "Footprint of 1,000 kWh of electricity in Ireland?")
    second = await _ask(client, alice, "And 2,000 kWh?", conversation_id=first["conversation_id"])
    conversation_id = first["conversation_id"]
    assert type(conversation_id) is int
    assert second["conversation_id"] == conversation_id
    run = (await client.get(f"/runs/{first['run_id']}", headers=alice.headers)).json()
    assert run["conversation_id"] == conversation_id
    listed = (await client.get("/conversations", headers=alice.headers)).json()
    assert [c["id"] for c in listed["conversations"]] == [conversation_id]
    detail = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    assert detail["conversation"]["id"] == conversation_id
    ids = [m["id"] for m in detail["messages"]]
    assert all(type(i) is int for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    assert {m["conversation_id"] for m in detail["messages"]} == {conversation_id}
    # The run ids stay opaque strings.
    assert isinstance(first["run_id"], str)
    assert not first["run_id"].isdigit()
    # A new conversation gets a new, larger id.
    other = await _ask(client, alice, "Grid intensity in France today?")
    assert other["conversation_id"] > conversation_id


async def test_a_numeric_string_id_is_accepted_like_the_integer(
    client: Client, alice: AuthedUser
) -> None:
    first = await _ask(client, alice, "Footprint of 1,000 kWh of electricity in Ireland?")
    as_text = str(first["conversation_id"])
    continued = await _ask(client, alice, "And 2,000 kWh?", conversation_id=as_text)
    assert continued["conversation_id"] == first["conversation_id"]
    streamed = await client.post(
        "/ask-stream",
        json={"question": "And 3,000 kWh?", "conversation_id": f" {as_text} "},
        headers=alice.headers,
    )
    assert streamed.status_code == 200, streamed.text
    started = next(f for f in parse_sse(streamed.text) if f.event == "started")
    assert started.event_body["data"]["conversation_id"] == first["conversation_id"]
    detail = (await client.get(f"/conversations/{as_text}", headers=alice.headers)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 3


@pytest.mark.parametrize(
    "bad", ["NaN", "abc", "1.5", "1e3", "0x10", "46278abc", "3fa85f64-5717-4562-b3fc-2c963f66afa6"]
)
async def test_an_id_that_is_not_an_integer_is_a_400_everywhere(
    client: Client, alice: AuthedUser, bad: str
) -> None:
    for method, path, body in [
        ("GET", f"/conversations/{bad}", None),
        ("DELETE", f"/conversations/{bad}", None),
        ("POST", f"/conversations/{bad}/messages", {"question": "q"}),
        ("POST", "/ask", {"question": "q", "conversation_id": bad}),
        ("POST", "/ask-stream", {"question": "q", "conversation_id": bad}),
    ]:
        response = await client.request(method, path, json=body, headers=alice.headers)
        assert response.status_code == 400, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()
        assert error["code"] == "invalid_conversation_id"
        assert "positive integer" in error["detail"]
    assert (await client.get("/runs", headers=alice.headers)).json()["total"] == 0


async def test_ids_of_the_wrong_json_type_are_400(client: Client, alice: AuthedUser) -> None:
    for value in (True, 4.2, [1], {"id": 1}):
        response = await client.post(
            "/ask", json={"question": "q", "conversation_id": value}, headers=alice.headers
        )
        assert response.status_code == 400, (value, response.text)
        assert response.json()["code"] == "validation_error"
        assert "conversation_id" in response.json()["detail"]


@pytest.mark.parametrize("impossible", ["0", "-1", str(2**63), "9" * 39])
async def test_an_integer_no_conversation_can_have_is_a_404(
    client: Client, alice: AuthedUser, impossible: str
) -> None:
    missing = _without_request_id(await client.get("/conversations/987654", headers=alice.headers))
    assert missing[0] == 404
    for method, path, body in [
        ("GET", f"/conversations/{impossible}", None),
        ("DELETE", f"/conversations/{impossible}", None),
        ("POST", f"/conversations/{impossible}/messages", {"question": "q"}),
        ("POST", "/ask", {"question": "q", "conversation_id": int(impossible)}),
    ]:
        response = await client.request(method, path, json=body, headers=alice.headers)
        assert _without_request_id(response) == missing, (method, path)


async def test_guessing_ids_reveals_nothing_about_other_users(
    client: Client, alice: AuthedUser
) -> None:
    """Bob walks every id from 1 past the highest: each of Alice's answers exactly as an id
    that was never given out (and one that was deleted), and nothing of hers changes."""
    bob = await signed_in_user(client, "bob@example.org")
    alices = [
        (await _ask(client, alice, question))["conversation_id"]
        for question in ("Footprint of 1,000 kWh?", "Grid intensity in France today?")
    ]
    deleted = (await _ask(client, alice, "Footprint of 5 kWh?"))["conversation_id"]
    await client.delete(f"/conversations/{deleted}", headers=alice.headers)
    bobs = (await _ask(client, bob, "Footprint of 3,000 kWh?"))["conversation_id"]
    never_given = bobs + 1000
    baseline = {
        method: _without_request_id(
            await client.request(method, path.format(never_given), json=body, headers=bob.headers)
        )
        for method, path, body in _PROBES
    }
    assert {status for status, _ in baseline.values()} == {404}
    for guess in range(1, bobs + 3):
        if guess == bobs:
            continue
        for method, path, body in _PROBES:
            response = await client.request(
                method, path.format(guess), json=body, headers=bob.headers
            )
            assert _without_request_id(response) == baseline[method], (method, guess)
        continued = await client.post(
            "/ask", json={"question": "mine?", "conversation_id": guess}, headers=bob.headers
        )
        assert _without_request_id(continued) == baseline["GET"], guess
    listed = (await client.get("/conversations", headers=bob.headers)).json()["conversations"]
    assert [c["id"] for c in listed] == [bobs]
    for conversation_id in alices:
        detail = await client.get(f"/conversations/{conversation_id}", headers=alice.headers)
        assert [m["role"] for m in detail.json()["messages"]] == ["user", "assistant"]
    mine = (await client.get("/conversations", headers=alice.headers)).json()["conversations"]
    assert sorted(c["id"] for c in mine) == sorted(alices)


_PROBES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/conversations/{}", None),
    ("DELETE", "/conversations/{}", None),
    ("POST", "/conversations/{}/messages", {"question": "mine now?"}),
]
