"""Access tokens, refresh rotation with reuse detection, logout, and forged tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from app.auth.models import RefreshToken
from app.db.engine import create_engine
from app.main import create_app
from app.settings import AuthSettings, RateLimitSettings, Settings
from tests.conftest import make_settings
from tests.live_server import TEST_JWT_SECRET
from tests.support.webauthn import AuthedUser, login, signed_in_user

Client = AsyncTestClient[Litestar]


def assert_401(response: Any, code: str, fragment: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == code, body
    assert fragment.lower() in body["detail"].lower(), body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_access_token_claims(auth_client: Client, auth_settings: Settings) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    header = jwt.get_unverified_header(ann.access_token)
    assert header["alg"] == "HS256"
    assert auth_settings.auth.jwt_secret is not None
    claims = jwt.decode(
        ann.access_token,
        auth_settings.auth.jwt_secret,
        algorithms=["HS256"],
        audience=auth_settings.auth.jwt_audience,
        issuer=auth_settings.auth.jwt_issuer,
    )
    assert claims["sub"] == ann.user_id
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == auth_settings.auth.access_token_ttl_s
    assert len(claims["jti"]) == 32
    assert claims["sid"]
    assert "extras" not in claims


async def test_refresh_rotation_and_reuse_detection(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    other_login = await login(auth_client, ann.authenticator, "ann@example.org")

    rotated = await auth_client.get("/auth/refresh-token", headers=bearer(ann.refresh_token))
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] > 300
    assert pair["refresh_token"] != ann.refresh_token
    assert (
        await auth_client.get("/auth/me", headers=bearer(pair["access_token"]))
    ).status_code == 200

    again = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": pair["refresh_token"]}
    )
    assert again.status_code == 200, again.text
    latest = again.json()

    # Presenting an already-used refresh token signs the whole login out…
    reuse = await auth_client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
    assert_401(reuse, "refresh_token_reused", "already used")
    stolen_use = await auth_client.get(
        "/auth/refresh-token", headers=bearer(latest["refresh_token"])
    )
    assert_401(stolen_use, "refresh_token_reused")
    for token in (ann.access_token, pair["access_token"], latest["access_token"]):
        assert_401(await auth_client.get("/auth/me", headers=bearer(token)), "token_revoked")
    # …but not the user's other, independent login.
    assert (
        await auth_client.get("/auth/me", headers=bearer(other_login["access_token"]))
    ).status_code == 200
    refreshed = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": other_login["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_concurrent_refreshes_with_one_token_all_get_the_same_pair(
    auth_client: Client,
) -> None:
    """A client retrying a timed-out refresh (or two tabs) is not logged out."""
    ann = await signed_in_user(auth_client, "ann@example.org")
    results = await asyncio.gather(
        *(
            auth_client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
            for _ in range(8)
        )
    )
    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in results}
    assert len(pairs) == 1
    [(access, refresh)] = pairs
    assert (await auth_client.get("/auth/me", headers=bearer(access))).status_code == 200
    # The retried pair is a live one: its refresh token rotates normally.
    onward = await auth_client.post("/auth/refresh-token", json={"refresh_token": refresh})
    assert onward.status_code == 200, onward.text


async def _age_refresh_uses(settings: Settings, seconds: float) -> None:
    """Record every used refresh token as used ``seconds`` ago."""
    engine = create_engine(settings.database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(RefreshToken)
                .where(RefreshToken.used_at.is_not(None))
                .values(used_at=datetime.now(UTC) - timedelta(seconds=seconds))
            )
    finally:
        await engine.dispose()


async def test_a_replay_after_the_grace_window_still_revokes_the_login(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    first = await auth_client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
    assert first.status_code == 200, first.text
    await _age_refresh_uses(auth_settings, auth_settings.auth.refresh_grace_s + 1)

    replay = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": ann.refresh_token}
    )
    assert_401(replay, "refresh_token_reused")
    assert_401(
        await auth_client.get("/auth/me", headers=bearer(first.json()["access_token"])),
        "token_revoked",
    )
    assert_401(
        await auth_client.post(
            "/auth/refresh-token", json={"refresh_token": first.json()["refresh_token"]}
        ),
        "refresh_token_reused",
    )


async def test_a_replay_within_the_window_after_the_next_rotation_revokes(
    auth_client: Client,
) -> None:
    """The grace covers a lost answer, not a token whose successor is already in use."""
    ann = await signed_in_user(auth_client, "ann@example.org")
    first = await auth_client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token})
    second = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": first.json()["refresh_token"]}
    )
    assert second.status_code == 200, second.text
    replay = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": ann.refresh_token}
    )
    assert_401(replay, "refresh_token_reused")
    assert_401(
        await auth_client.get("/auth/me", headers=bearer(second.json()["access_token"])),
        "token_revoked",
    )


async def test_no_grace_when_the_window_is_zero(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        auth=AuthSettings(jwt_secret=TEST_JWT_SECRET, refresh_grace_s=0),
        rate_limit=RateLimitSettings(ceremony_per_minute=10_000, account_per_minute=10_000),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        ann = await signed_in_user(client, "ann@example.org")
        results = await asyncio.gather(
            client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token}),
            client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token}),
        )
        assert sorted(r.status_code for r in results) == [200, 401]


async def test_bad_refresh_tokens(auth_client: Client, auth_settings: Settings) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    assert_401(await auth_client.get("/auth/refresh-token"), "invalid_refresh_token")
    assert_401(
        await auth_client.get("/auth/refresh-token", headers={"Authorization": "Basic abc"}),
        "invalid_refresh_token",
    )
    assert_401(
        await auth_client.get("/auth/refresh-token", headers=bearer("made-up")),
        "invalid_refresh_token",
    )
    # An access token is not a refresh token.
    assert_401(
        await auth_client.get("/auth/refresh-token", headers=bearer(ann.access_token)),
        "invalid_refresh_token",
    )
    missing = await auth_client.post("/auth/refresh-token", json={})
    assert missing.status_code == 400
    assert missing.json()["code"] == "validation_error"

    engine = create_engine(auth_settings.database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()
    expired = await auth_client.post(
        "/auth/refresh-token", json={"refresh_token": ann.refresh_token}
    )
    assert_401(expired, "refresh_token_expired")


async def test_logout_revokes_token_and_login_everywhere(auth_client: Client) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    second = await login(auth_client, ann.authenticator, "ann@example.org")
    assert_401(await auth_client.post("/auth/logout"), "not_authenticated")

    out = await auth_client.post("/auth/logout", headers=ann.headers)
    assert out.status_code == 200, out.text
    assert out.json() == {"message": "Logged out successfully"}
    assert_401(await auth_client.get("/auth/me", headers=ann.headers), "token_revoked", "revoked")
    assert_401(await auth_client.post("/auth/logout", headers=ann.headers), "token_revoked")
    assert_401(
        await auth_client.post("/auth/refresh-token", json={"refresh_token": ann.refresh_token}),
        "refresh_token_reused",
    )
    assert (
        await auth_client.get("/auth/me", headers=bearer(second["access_token"]))
    ).status_code == 200


async def test_logout_is_seen_by_another_app_instance(auth_settings: Settings) -> None:
    """Two app instances on one database (two workers): a logout on A is refused on B."""
    app_a, app_b = create_app(auth_settings), create_app(auth_settings)
    async with AsyncTestClient(app_a) as a, AsyncTestClient(app_b) as b:
        ann = await signed_in_user(a, "ann@example.org")
        assert (await b.get("/auth/me", headers=ann.headers)).status_code == 200
        assert (await a.post("/auth/logout", headers=ann.headers)).status_code == 200
        assert_401(await b.get("/auth/me", headers=ann.headers), "token_revoked")


def _forge(settings: Settings, ann: AuthedUser, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": ann.user_id,
        "iat": int(now.timestamp()) - 10,
        "exp": int((now + timedelta(minutes=10)).timestamp()),
        "jti": "f" * 32,
        "iss": settings.auth.jwt_issuer,
        "aud": settings.auth.jwt_audience,
        "typ": "access",
        "sid": "00000000-0000-0000-0000-000000000000",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_forged_and_invalid_access_tokens(
    auth_client: Client, auth_settings: Settings
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org")
    secret = auth_settings.auth.jwt_secret
    assert secret is not None
    now = int(datetime.now(UTC).timestamp())
    valid = jwt.encode(_forge(auth_settings, ann), secret, algorithm="HS256")
    assert (await auth_client.get("/auth/me", headers=bearer(valid))).status_code == 200

    cases = {
        "alg none": _unsigned(_forge(auth_settings, ann)),
        "wrong key": jwt.encode(_forge(auth_settings, ann), "x" * 40, algorithm="HS256"),
        "other HMAC alg": _hmac_by_hand(_forge(auth_settings, ann), secret.encode(), "HS512"),
        "expired": jwt.encode(
            _forge(auth_settings, ann, iat=now - 3600, exp=now - 60), secret, algorithm="HS256"
        ),
        "not yet valid": jwt.encode(
            _forge(auth_settings, ann, nbf=now + 600), secret, algorithm="HS256"
        ),
        "issued in the future": jwt.encode(
            _forge(auth_settings, ann, iat=now + 600), secret, algorithm="HS256"
        ),
        "refresh type": jwt.encode(
            _forge(auth_settings, ann, typ="refresh"), secret, algorithm="HS256"
        ),
        "no type": jwt.encode(_forge(auth_settings, ann, typ=None), secret, algorithm="HS256"),
        "no jti": jwt.encode(_forge(auth_settings, ann, jti=None), secret, algorithm="HS256"),
        "wrong issuer": jwt.encode(
            _forge(auth_settings, ann, iss="someone-else"), secret, algorithm="HS256"
        ),
        "wrong audience": jwt.encode(
            _forge(auth_settings, ann, aud="someone-else"), secret, algorithm="HS256"
        ),
        "audience list": jwt.encode(
            _forge(auth_settings, ann, aud=[auth_settings.auth.jwt_audience, "x"]),
            secret,
            algorithm="HS256",
        ),
        "unknown user": jwt.encode(
            _forge(auth_settings, ann, sub="no-such-user"), secret, algorithm="HS256"
        ),
        "garbage": "not.a.jwt",
    }
    for name, token in cases.items():
        response = await auth_client.get("/auth/me", headers=bearer(token))
        assert response.status_code == 401, f"{name}: {response.text}"
        assert response.headers["www-authenticate"] == "Bearer", name
        expected = "unknown_user" if name == "unknown user" else "not_authenticated"
        assert response.json()["code"] == expected, name
    no_scheme = await auth_client.get("/auth/me", headers={"Authorization": ann.access_token})
    assert no_scheme.status_code == 401


def _write_es256_keys(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "jwt-private.pem"
    public = tmp_path / "jwt-public.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


async def test_es256_tokens(tmp_path: Path) -> None:
    private, public = _write_es256_keys(tmp_path)
    settings = make_settings(
        tmp_path,
        auth=AuthSettings(
            jwt_algorithm="ES256",
            jwt_private_key_file=str(private),
            jwt_public_key_file=str(public),
        ),
        rate_limit=RateLimitSettings(ceremony_per_minute=10_000, account_per_minute=10_000),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        ann = await signed_in_user(client, "ann@example.org")
        assert jwt.get_unverified_header(ann.access_token)["alg"] == "ES256"
        claims = jwt.decode(
            ann.access_token,
            public.read_text(),
            algorithms=["ES256"],
            audience=settings.auth.jwt_audience,
        )
        assert claims["sub"] == ann.user_id
        assert (await client.get("/auth/me", headers=ann.headers)).status_code == 200
        # Algorithm confusion: an HS256 token keyed with the public PEM is refused.
        confused = _hmac_by_hand(_forge(settings, ann), public.read_bytes(), "HS256")
        assert_401(await client.get("/auth/me", headers=bearer(confused)), "not_authenticated")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    """``alg: none`` with an empty signature (RFC 7519 §6.1 "unsecured JWT")."""
    header = _b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64u(json.dumps(claims).encode())}."


def _hmac_by_hand(claims: dict[str, Any], key: bytes, alg: str) -> str:
    """Built without PyJWT, which refuses PEM keys as HMAC secrets and warns on short ones."""
    part = _b64u
    header = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(key, f"{header}.{body}".encode(), digest).digest()
    return f"{header}.{body}.{part(signature)}"
