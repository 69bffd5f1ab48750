"""Passkey ceremonies through the real endpoints with a software authenticator.

Every test runs on SQLite and on PostgreSQL (``auth_client`` is parametrized).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs
from webauthn.helpers import base64url_to_bytes

from app.main import create_app
from app.settings import AuthSettings, RateLimitSettings
from tests.conftest import make_settings
from tests.support.webauthn import EDDSA, SoftAuthenticator, login, register, signed_in_user

Client = AsyncTestClient[Litestar]


async def begin_registration(client: Client, email: str, **kw: Any) -> dict[str, Any]:
    response = await client.post("/auth/register/begin", json={"email": email}, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def begin_login(client: Client, email: str | None = None) -> dict[str, Any]:
    response = await client.post(
        "/auth/login/begin", json={} if email is None else {"email": email}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: Any, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert fragment.lower() in body["detail"].lower(), body


async def test_registration_options_follow_the_contract(auth_client: Client) -> None:
    options = await begin_registration(auth_client, "Ann@Example.org")
    assert len(base64url_to_bytes(options["challenge"])) == 64
    assert options["rp"] == {"id": "localhost", "name": "Sustainable City AI"}
    user_handle = base64url_to_bytes(options["user"]["id"])
    assert len(user_handle) == 64
    assert b"ann" not in user_handle.lower()
    assert options["user"]["name"] == "ann@example.org"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257]
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["excludeCredentials"] == []


async def test_register_login_me(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    registered = await register(auth_client, "ann@example.org", authenticator)
    assert registered["message"] == "Registration successful"
    options = await begin_login(auth_client, "ann@example.org")
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "preferred"
    [allowed] = options["allowCredentials"]
    assert base64url_to_bytes(allowed["id"]) in authenticator.credentials
    assert allowed["transports"] == ["internal", "hybrid"]
    response = await auth_client.post("/auth/login/complete", json=authenticator.get(options))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["message"] == "Authentication successful"
    assert result["token_type"] == "bearer"
    assert result["expires_in"] > 300
    assert result["refresh_token"]
    assert result["user"] == {"id": registered["user_id"], "email": "ann@example.org"}
    me = await auth_client.get(
        "/auth/me", headers={"Authorization": f"Bearer {result['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["id"] == registered["user_id"]
    assert me.json()["email"] == "ann@example.org"
    assert me.json()["credential_count"] == 1


async def test_eddsa_and_packed_attestation_register_and_login(auth_client: Client) -> None:
    authenticator = SoftAuthenticator(fmt="packed", algorithms=(EDDSA,))
    await register(auth_client, "ed@example.org", authenticator)
    result = await login(auth_client, authenticator, "ed@example.org")
    assert result["user"]["email"] == "ed@example.org"


async def test_discoverable_login_with_empty_body_or_object(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    registered = await register(auth_client, "ann@example.org", authenticator)
    begins = [
        await auth_client.post("/auth/login/begin", json={}),
        await auth_client.post("/auth/login/begin", content=b""),
        await auth_client.post("/auth/login/begin", json={"email": None}),
    ]
    for response in begins:
        assert response.status_code == 200, response.text
        options = response.json()
        assert options["allowCredentials"] == []
        done = await auth_client.post("/auth/login/complete", json=authenticator.get(options))
        assert done.status_code == 200, done.text
        assert done.json()["user"]["id"] == registered["user_id"]


async def test_unknown_email_is_not_enumerable(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    await register(auth_client, "ann@example.org", authenticator)
    known = await begin_login(auth_client, "ann@example.org")
    first = await begin_login(auth_client, "ghost@example.org")
    again = await begin_login(auth_client, "ghost@example.org")
    other = await begin_login(auth_client, "phantom@example.org")
    assert set(first) == set(known)
    assert first["allowCredentials"] == again["allowCredentials"]
    assert first["allowCredentials"] != other["allowCredentials"]
    assert first["challenge"] != again["challenge"]
    for descriptor in first["allowCredentials"]:
        assert set(descriptor) == {"id", "type", "transports"}
        assert len(base64url_to_bytes(descriptor["id"])) == 32
    # Completing an unknown-email login with a real passkey fails exactly like a wrong one.
    response = await auth_client.post(
        "/auth/login/complete", json=authenticator.get(first | {"allowCredentials": []})
    )
    assert_error(response, 400, "authentication_failed", "unknown passkey for this account")


async def test_add_second_passkey_rename_and_delete(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    begin = await auth_client.post("/auth/credentials/begin", headers=ann.headers)
    assert begin.status_code == 200, begin.text
    options = begin.json()
    [excluded] = options["excludeCredentials"]
    assert base64url_to_bytes(excluded["id"]) in ann.authenticator.credentials
    assert options["user"]["name"] == "ann@example.org"
    second = SoftAuthenticator(origin=ann.authenticator.origin)
    added = await auth_client.post(
        "/auth/credentials/complete",
        json=second.create(options) | {"name": "  Work laptop "},
        headers=ann.headers,
    )
    assert added.status_code == 200, added.text
    assert added.json()["message"] == "Passkey added"
    assert added.json()["user_id"] == ann.user_id

    listed = (await auth_client.get("/auth/credentials", headers=ann.headers)).json()["credentials"]
    assert [c["name"] for c in listed] == ["Passkey 1", "Work laptop"]
    assert listed[0]["last_used_at"] is not None
    assert listed[1]["last_used_at"] is None
    assert (await login(auth_client, second, "ann@example.org"))["user"]["id"] == ann.user_id

    first_id = listed[0]["id"]
    renamed = await auth_client.patch(
        f"/auth/credentials/{first_id}", json={"name": "Phone"}, headers=ann.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Phone"
    blank = await auth_client.patch(
        f"/auth/credentials/{first_id}", json={"name": "   "}, headers=ann.headers
    )
    assert_error(blank, 400, "invalid_name")

    deleted = await auth_client.delete(f"/auth/credentials/{first_id}", headers=ann.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "Passkey deleted"}
    gone = await auth_client.post(
        "/auth/login/complete",
        json=ann.authenticator.get(await begin_login(auth_client)),
    )
    assert_error(gone, 400, "authentication_failed")
    last = await auth_client.delete(f"/auth/credentials/{listed[1]['id']}", headers=ann.headers)
    assert_error(last, 409, "last_credential", "only passkey")


async def test_register_begin_for_own_email_while_signed_in_adds_a_passkey(
    auth_client: Client,
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    options = await begin_registration(auth_client, "ann@example.org", headers=ann.headers)
    assert len(options["excludeCredentials"]) == 1
    second = SoftAuthenticator(origin=ann.authenticator.origin)
    done = await auth_client.post(
        "/auth/credentials/complete", json=second.create(options), headers=ann.headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["user_id"] == ann.user_id
    me = await auth_client.get("/auth/me", headers=ann.headers)
    assert me.json()["credential_count"] == 2


async def test_an_add_passkey_challenge_does_not_complete_on_the_public_endpoint(
    auth_client: Client,
) -> None:
    """A stolen short-lived access token must not become a permanent passkey."""
    ann = await signed_in_user(auth_client, "ann@example.org")
    for begin in (
        auth_client.post("/auth/credentials/begin", headers=ann.headers),
        auth_client.post(
            "/auth/register/begin", json={"email": "ann@example.org"}, headers=ann.headers
        ),
    ):
        options = (await begin).json()
        attacker = SoftAuthenticator(origin=ann.authenticator.origin)
        done = await auth_client.post("/auth/register/complete", json=attacker.create(options))
        assert_error(done, 400, "challenge_wrong_ceremony", "issued for add_credential")
    me = await auth_client.get("/auth/me", headers=ann.headers)
    assert me.json()["credential_count"] == 1


async def test_an_add_passkey_challenge_dies_with_the_login_that_began_it(
    auth_client: Client,
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    other_login = await login(auth_client, ann.authenticator, "ann@example.org")
    other_headers = {"Authorization": f"Bearer {other_login['access_token']}"}
    options = (await auth_client.post("/auth/credentials/begin", headers=ann.headers)).json()
    attacker = SoftAuthenticator(origin=ann.authenticator.origin)
    assert (await auth_client.post("/auth/logout", headers=ann.headers)).status_code == 200

    # Neither with the logged-out token, nor with the same user's other login.
    after_logout = await auth_client.post(
        "/auth/credentials/complete", json=attacker.create(options), headers=ann.headers
    )
    assert_error(after_logout, 401, "token_revoked")
    options = (await auth_client.post("/auth/credentials/begin", headers=other_headers)).json()
    assert (await auth_client.post("/auth/logout", headers=other_headers)).status_code == 200
    third = await login(auth_client, ann.authenticator, "ann@example.org")
    third_headers = {"Authorization": f"Bearer {third['access_token']}"}
    elsewhere = await auth_client.post(
        "/auth/credentials/complete", json=attacker.create(options), headers=third_headers
    )
    assert_error(elsewhere, 403, "challenge_not_yours")
    me = await auth_client.get("/auth/me", headers=third_headers)
    assert me.json()["credential_count"] == 1


async def test_a_registration_challenge_does_not_complete_as_an_added_passkey(
    auth_client: Client,
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    options = await begin_registration(auth_client, "new@example.org")
    done = await auth_client.post(
        "/auth/credentials/complete",
        json=SoftAuthenticator(origin=ann.authenticator.origin).create(options),
        headers=ann.headers,
    )
    assert_error(done, 400, "challenge_wrong_ceremony", "issued for registration")


async def test_register_begin_does_not_reveal_a_taken_email(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    bob = await signed_in_user(auth_client, "bob@example.org")
    fresh = await begin_registration(auth_client, "nobody@example.org")
    for headers in ({}, bob.headers, {"Authorization": "Bearer not-a-token"}):
        response = await auth_client.post(
            "/auth/register/begin", json={"email": "ANN@example.org"}, headers=headers
        )
        assert response.status_code == 200, response.text
        taken = response.json()
        # The same shape as for a new email: no passkeys excluded, a fresh random user id.
        assert set(taken) == set(fresh)
        assert taken["excludeCredentials"] == fresh["excludeCredentials"] == []
        assert taken["user"]["name"] == "ann@example.org"
        assert len(taken["user"]["id"]) == len(fresh["user"]["id"])
        # The ceremony then fails with the generic registration failure, creating nothing.
        done = await auth_client.post(
            "/auth/register/complete",
            json=SoftAuthenticator(origin=ann.authenticator.origin).create(taken),
        )
        assert_error(done, 400, "registration_failed", "cannot be registered")
    assert ann.user_id != bob.user_id
    me = await auth_client.get("/auth/me", headers=ann.headers)
    assert me.json()["credential_count"] == 1


async def test_other_users_passkeys_are_invisible(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    bob = await signed_in_user(auth_client, "bob@example.org")
    ann_cred = (await auth_client.get("/auth/credentials", headers=ann.headers)).json()
    cred_id = ann_cred["credentials"][0]["id"]
    rename = await auth_client.patch(
        f"/auth/credentials/{cred_id}", json={"name": "mine now"}, headers=bob.headers
    )
    assert_error(rename, 404, "credential_not_found")
    remove = await auth_client.delete(f"/auth/credentials/{cred_id}", headers=bob.headers)
    assert_error(remove, 404, "credential_not_found")
    # A challenge issued to Ann cannot be completed as Bob.
    options = (await auth_client.post("/auth/credentials/begin", headers=ann.headers)).json()
    stolen = await auth_client.post(
        "/auth/credentials/complete",
        json=SoftAuthenticator(origin=ann.authenticator.origin).create(options),
        headers=bob.headers,
    )
    assert_error(stolen, 403, "challenge_not_yours")


async def test_concurrent_completes_with_one_challenge_only_one_wins(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    options = await begin_registration(auth_client, "race@example.org")
    response = authenticator.create(options)
    results = await asyncio.gather(
        auth_client.post("/auth/register/complete", json=response),
        auth_client.post("/auth/register/complete", json=response),
    )
    assert sorted(r.status_code for r in results) == [200, 400]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["code"] == "challenge_invalid"

    login_options = await begin_login(auth_client, "race@example.org")
    assertion = authenticator.get(login_options)
    results = await asyncio.gather(
        auth_client.post("/auth/login/complete", json=assertion),
        auth_client.post("/auth/login/complete", json=assertion),
    )
    assert sorted(r.status_code for r in results) == [200, 400]


async def test_two_registrations_of_one_new_email_racing_one_wins_cleanly(
    auth_client: Client,
) -> None:
    """The loser gets the same answer as for a taken email (never a 500 or a vague 409),
    whether it loses at the pre-check or on the unique index."""
    first, second = (SoftAuthenticator(origin="http://localhost:8000") for _ in range(2))
    options = [await begin_registration(auth_client, "twin@example.org") for _ in range(2)]
    results = await asyncio.gather(
        auth_client.post("/auth/register/complete", json=first.create(options[0])),
        auth_client.post("/auth/register/complete", json=second.create(options[1])),
    )
    assert sorted(r.status_code for r in results) == [200, 400]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["code"] == "registration_failed"
    winner = first if results[0].status_code == 200 else second
    assert (await login(auth_client, winner, "twin@example.org"))["user"]["email"] == (
        "twin@example.org"
    )


async def test_sign_count_regression_is_refused_and_logged(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    await register(auth_client, "ann@example.org", authenticator)
    await login(auth_client, authenticator, "ann@example.org")  # stored counter is now 1
    options = await begin_login(auth_client, "ann@example.org")
    with capture_logs() as logs:
        response = await auth_client.post(
            "/auth/login/complete", json=authenticator.get(options, sign_count=1)
        )
    assert_error(response, 400, "sign_count_regression", "cloned authenticator")
    [event] = [e for e in logs if e["event"] == "security.webauthn_sign_count_regression"]
    assert event["log_level"] == "warning"
    assert event["stored_count"] == 1
    assert event["received_count"] == 1
    assert "signature" not in event
    assert "public_key" not in event
    # The genuine authenticator moves on (counter 2) and still works.
    assert (await login(auth_client, authenticator, "ann@example.org"))["user"]


async def test_decoys_are_stable_across_instances_and_secret_bound(tmp_path: Path) -> None:
    """Every worker (same secret) answers an unknown email the same; another secret differs."""
    rate = RateLimitSettings(ceremony_per_minute=10_000, account_per_minute=10_000)
    settings = make_settings(tmp_path, rate_limit=rate)
    other_secret = make_settings(
        tmp_path, rate_limit=rate, auth=AuthSettings(jwt_secret="another-secret-" + "z" * 40)
    )
    answers = []
    for instance in (settings, settings, other_secret):
        async with AsyncTestClient(create_app(instance)) as client:
            answers.append((await begin_login(client, "ghost@example.org"))["allowCredentials"])
    assert answers[0] == answers[1]
    assert answers[0] != answers[2]
