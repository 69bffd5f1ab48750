"""Conversation history endpoints through the full app (real auth, offline engine, SQLite)."""

from __future__ import annotations

from typing import Any

import pytest
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
        "/conversations/nope/messages", json={"question": "q"}, headers=alice.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "conversation_not_found"


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
