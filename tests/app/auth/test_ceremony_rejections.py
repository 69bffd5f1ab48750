"""Every way a ceremony must fail: status, stable code and a detail that says why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from webauthn.helpers import base64url_to_bytes

from app.auth.models import WebAuthnChallenge
from app.db.engine import create_engine
from app.main import create_app
from app.settings import AuthSettings, RateLimitSettings, Settings
from tests.conftest import make_settings
from tests.support.webauthn import SoftAuthenticator, b64u, login, register

Client = AsyncTestClient[Litestar]


def assert_error(response: Any, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert fragment.lower() in body["detail"].lower(), body


async def options_for(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


def _client_data(response: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64url_to_bytes(response["response"]["clientDataJSON"]))
    return decoded


def _with_client_data(response: dict[str, Any], client_data: dict[str, Any]) -> dict[str, Any]:
    encoded = b64u(json.dumps(client_data).encode())
    return response | {"response": response["response"] | {"clientDataJSON": encoded}}


async def test_wrong_origin(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    response = authenticator.create(options, origin="https://evil.example")
    done = await auth_client.post("/auth/register/complete", json=response)
    assert_error(done, 400, "registration_failed", 'unexpected client data origin "https://evil')

    await register(auth_client, "b@example.org", authenticator)
    options = await options_for(auth_client, "/auth/login/begin", {"email": "b@example.org"})
    assertion = authenticator.get(options, origin="http://localhost:9999")
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "authentication_failed", "origin")


async def test_wrong_rp_id(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    response = authenticator.create(options, rp_id="evil.example")
    done = await auth_client.post("/auth/register/complete", json=response)
    assert_error(done, 400, "registration_failed", "RP ID")


async def test_replayed_challenge(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    response = authenticator.create(options)
    first = await auth_client.post("/auth/register/complete", json=response)
    assert first.status_code == 200
    replay = await auth_client.post("/auth/register/complete", json=response)
    assert_error(replay, 400, "challenge_invalid", "already used")

    options = await options_for(auth_client, "/auth/login/begin", {"email": "a@example.org"})
    assertion = authenticator.get(options)
    assert (await auth_client.post("/auth/login/complete", json=assertion)).status_code == 200
    replay = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(replay, 400, "challenge_invalid", "already used")


async def test_expired_challenge(
    auth_client: Client, auth_settings: Settings, authenticator: SoftAuthenticator
) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    past = datetime.now(UTC) - timedelta(seconds=1)
    # Our own engine: the app's pool belongs to the test client's event loop.
    engine = create_engine(auth_settings.database)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(WebAuthnChallenge).values(expires_at=past))
    finally:
        await engine.dispose()
    done = await auth_client.post("/auth/register/complete", json=authenticator.create(options))
    assert_error(done, 400, "challenge_expired", "expired")


async def test_challenge_from_the_other_ceremony(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    await register(auth_client, "a@example.org", authenticator)
    login_options = await options_for(auth_client, "/auth/login/begin", {})
    reg_options = await options_for(auth_client, "/auth/register/begin", {"email": "b@example.org"})
    # A registration response signed over a login challenge…
    crossed = authenticator.create(reg_options | {"challenge": login_options["challenge"]})
    done = await auth_client.post("/auth/register/complete", json=crossed)
    assert_error(done, 400, "challenge_wrong_ceremony", "issued for authentication")
    # …and an assertion over a registration challenge.
    fresh = await options_for(auth_client, "/auth/register/begin", {"email": "c@example.org"})
    assertion = authenticator.get(login_options | {"challenge": fresh["challenge"]})
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "challenge_wrong_ceremony", "issued for registration")


async def test_tampered_client_data(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    response = authenticator.create(options)
    tampered = _with_client_data(response, _client_data(response) | {"type": "webauthn.get"})
    done = await auth_client.post("/auth/register/complete", json=tampered)
    assert_error(done, 400, "registration_failed", "unexpected client data type")

    await register(auth_client, "b@example.org", authenticator)
    options = await options_for(auth_client, "/auth/login/begin", {"email": "b@example.org"})
    assertion = authenticator.get(options)
    tampered = _with_client_data(assertion, _client_data(assertion) | {"crossOrigin": True})
    done = await auth_client.post("/auth/login/complete", json=tampered)
    assert_error(done, 400, "authentication_failed", "could not verify authentication signature")


async def test_bad_signature(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    await register(auth_client, "a@example.org", authenticator)
    options = await options_for(auth_client, "/auth/login/begin", {"email": "a@example.org"})
    assertion = authenticator.get(options)
    signature = bytearray(base64url_to_bytes(assertion["response"]["signature"]))
    signature[-1] ^= 0x01
    assertion["response"]["signature"] = b64u(bytes(signature))
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "authentication_failed", "signature")


async def test_unknown_credential(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    await register(auth_client, "a@example.org", authenticator)
    stranger = SoftAuthenticator(origin=authenticator.origin)
    stranger.create(await options_for(auth_client, "/auth/register/begin", {"email": "x@x.org"}))
    options = await options_for(auth_client, "/auth/login/begin", {})
    done = await auth_client.post("/auth/login/complete", json=stranger.get(options))
    assert_error(done, 400, "authentication_failed", "unknown passkey")


async def test_credential_of_another_user(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    await register(auth_client, "ann@example.org", authenticator)
    bob = SoftAuthenticator(origin=authenticator.origin)
    await register(auth_client, "bob@example.org", bob)
    options = await options_for(auth_client, "/auth/login/begin", {"email": "ann@example.org"})
    assertion = bob.get(options | {"allowCredentials": []})
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "authentication_failed", "unknown passkey for this account")


async def test_user_handle_must_match(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    await register(auth_client, "ann@example.org", authenticator)
    options = await options_for(auth_client, "/auth/login/begin", {})
    assertion = authenticator.get(options)
    assertion["response"]["userHandle"] = b64u(b"\x00" * 64)
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "authentication_failed", "unknown passkey")


async def test_zero_counters_are_accepted(
    auth_client: Client, authenticator: SoftAuthenticator
) -> None:
    """Synced passkeys always report 0: that is not a regression."""
    await register(auth_client, "ann@example.org", authenticator)
    for _ in range(2):
        options = await options_for(auth_client, "/auth/login/begin", {})
        done = await auth_client.post(
            "/auth/login/complete", json=authenticator.get(options, sign_count=0)
        )
        assert done.status_code == 200, done.text


async def test_malformed_payloads(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    options = await options_for(auth_client, "/auth/register/begin", {"email": "a@example.org"})
    good = authenticator.create(options)

    bad_b64 = good | {"response": good["response"] | {"clientDataJSON": "!!not*base64!!"}}
    done = await auth_client.post("/auth/register/complete", json=bad_b64)
    assert_error(done, 400, "malformed_credential")

    not_json = good | {"response": good["response"] | {"clientDataJSON": b64u(b"{nope")}}
    done = await auth_client.post("/auth/register/complete", json=not_json)
    assert_error(done, 400, "malformed_credential", "clientDataJSON")

    options = await options_for(auth_client, "/auth/register/begin", {"email": "b@example.org"})
    good = authenticator.create(options)
    bad_cbor = good | {"response": good["response"] | {"attestationObject": b64u(b"\xff\x00")}}
    done = await auth_client.post("/auth/register/complete", json=bad_cbor)
    assert_error(done, 400, "registration_failed", "attestationObject was malformed")

    options = await options_for(auth_client, "/auth/register/begin", {"email": "c@example.org"})
    good = authenticator.create(options)
    attestation = cbor2.loads(base64url_to_bytes(good["response"]["attestationObject"]))
    attestation["authData"] = attestation["authData"][:40]
    truncated = good | {
        "response": good["response"] | {"attestationObject": b64u(cbor2.dumps(attestation))}
    }
    done = await auth_client.post("/auth/register/complete", json=truncated)
    assert_error(done, 400, "registration_failed")

    raw = await auth_client.post(
        "/auth/register/complete",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert raw.status_code == 400, raw.text
    assert raw.json()["detail"]

    array = await auth_client.post("/auth/login/complete", json=[1, 2])
    assert array.status_code == 400, array.text


async def test_missing_fields(auth_client: Client, authenticator: SoftAuthenticator) -> None:
    done = await auth_client.post("/auth/register/complete", json={})
    assert_error(done, 400, "malformed_credential", "missing required id")

    await register(auth_client, "a@example.org", authenticator)
    options = await options_for(auth_client, "/auth/login/begin", {})
    assertion = authenticator.get(options)
    del assertion["response"]["signature"]
    done = await auth_client.post("/auth/login/complete", json=assertion)
    assert_error(done, 400, "malformed_credential", "missing required signature")

    no_email = await auth_client.post("/auth/register/begin", json={})
    assert_error(no_email, 400, "validation_error", "email")
    bad_email = await auth_client.post("/auth/register/begin", json={"email": "not an email"})
    assert_error(bad_email, 400, "validation_error", "email")
    bad_login = await auth_client.post("/auth/login/begin", json={"email": 42})
    assert_error(bad_login, 400, "validation_error")


async def test_oversized_body(auth_client: Client) -> None:
    huge = {"id": "x", "padding": "a" * 70_000}
    done = await auth_client.post("/auth/login/complete", json=huge)
    assert done.status_code == 413, done.text
    assert done.json()["code"] == "payload_too_large"


async def test_user_verification_required(tmp_path: Path) -> None:
    settings: Settings = make_settings(
        tmp_path,
        auth=AuthSettings(
            jwt_secret="uv-test-secret-0123456789abcdef0123456789",
            user_verification="required",
        ),
        rate_limit=RateLimitSettings(ceremony_per_minute=10_000, account_per_minute=10_000),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        origin = settings.allowed_origins()[0]
        no_uv = SoftAuthenticator(origin=origin, user_verified=False)
        options = await options_for(client, "/auth/register/begin", {"email": "a@example.org"})
        assert options["authenticatorSelection"]["userVerification"] == "required"
        done = await client.post("/auth/register/complete", json=no_uv.create(options))
        assert_error(done, 400, "registration_failed", "user verification is required")

        device = SoftAuthenticator(origin=origin)
        await register(client, "b@example.org", device)
        assert (await login(client, device, "b@example.org"))["user"]
        device.user_verified = False
        options = await options_for(client, "/auth/login/begin", {"email": "b@example.org"})
        done = await client.post("/auth/login/complete", json=device.get(options))
        assert_error(done, 400, "authentication_failed", "user verification is required")
        assert msgspec.json.decode(done.content)["detail"]
