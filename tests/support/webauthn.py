"""A software WebAuthn authenticator plus helpers to sign in through the real ceremonies.

It speaks the same JSON the browser does (``RegistrationResponseJSON`` /
``AuthenticationResponseJSON``), so tests drive the real ``/auth`` endpoints end to end:

    authed = await signed_in_user(client, "ann@example.org")
    await client.get("/auth/me", headers=authed.headers)

Only ``cryptography`` and ``cbor2`` are needed (py_webauthn already depends on both). Keys
are ES256 (P-256) or EdDSA (Ed25519); attestation ``none`` or ``packed`` self-attestation.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2
import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

__all__ = [
    "DEFAULT_ORIGIN",
    "EDDSA",
    "ES256",
    "AuthedUser",
    "SoftAuthenticator",
    "SoftCredential",
    "login",
    "register",
    "signed_in_user",
]

ES256 = -7
EDDSA = -8
DEFAULT_ORIGIN = "http://localhost:8000"
_FLAG_UP, _FLAG_UV, _FLAG_BE, _FLAG_BS, _FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40
_AAGUID = bytes.fromhex("5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e")


def _sha256(data: bytes | str) -> bytes:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).digest()


def b64u(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftCredential:
    """One key pair the authenticator holds (``sign_count`` is its signature counter)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            raw = self.private_key.public_key().public_bytes_raw()
            return cbor2.dumps({1: 1, 3: EDDSA, -1: 6, -2: raw})
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: ES256,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(data)
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class SoftAuthenticator:
    """A platform-like authenticator: resident keys, UV, a per-credential counter.

    ``user_verified=False`` simulates an authenticator that cannot verify the user;
    ``backup_eligible``/``backed_up`` simulate a synced passkey; ``algorithms`` is the
    authenticator's preference (the first one the server offers is used, like Chrome).
    """

    origin: str = DEFAULT_ORIGIN
    fmt: str = "none"
    user_verified: bool = True
    backup_eligible: bool = False
    backed_up: bool = False
    algorithms: tuple[int, ...] = (ES256, EDDSA)
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    def _client_data(self, typ: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": typ,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _flags(self, *, attested: bool) -> int:
        flags = _FLAG_UP | (_FLAG_UV if self.user_verified else 0)
        flags |= (_FLAG_BE if self.backup_eligible else 0) | (_FLAG_BS if self.backed_up else 0)
        return flags | (_FLAG_AT if attested else 0)

    def create(
        self,
        options: Mapping[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.create()``: options JSON in, RegistrationResponseJSON out.

        ``origin``/``rp_id`` override what the page would use (to test mismatches).
        """
        offered = [p["alg"] for p in options["pubKeyCredParams"]]
        alg = next((a for a in offered if a in self.algorithms), None)
        if alg is None:
            msg = f"no supported algorithm in {offered}"
            raise ValueError(msg)
        excluded = {base64url_to_bytes(c["id"]) for c in options.get("excludeCredentials") or []}
        if excluded & self.credentials.keys():
            msg = "InvalidStateError: a credential in excludeCredentials is on this authenticator"
            raise ValueError(msg)
        key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
            ed25519.Ed25519PrivateKey.generate()
            if alg == EDDSA
            else ec.generate_private_key(ec.SECP256R1())
        )
        cred = SoftCredential(
            credential_id=os.urandom(32),
            private_key=key,
            alg=alg,
            rp_id=rp_id or options["rp"]["id"],
            user_handle=base64url_to_bytes(options["user"]["id"]),
        )
        self.credentials[cred.credential_id] = cred
        auth_data = (
            _sha256(cred.rp_id)
            + bytes([self._flags(attested=True)])
            + cred.sign_count.to_bytes(4, "big")
            + _AAGUID
            + len(cred.credential_id).to_bytes(2, "big")
            + cred.credential_id
            + cred.cose_public_key()
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        statement: dict[str, Any] = {}
        if self.fmt == "packed":
            statement = {"alg": alg, "sig": cred.sign(auth_data + _sha256(client_data))}
        attestation = cbor2.dumps({"fmt": self.fmt, "attStmt": statement, "authData": auth_data})
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: Mapping[str, Any],
        *,
        origin: str | None = None,
        credential_id: bytes | None = None,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.get()``: request options in, AuthenticationResponseJSON out.

        An empty ``allowCredentials`` means a discoverable (usernameless) login. Pass
        ``credential_id`` to pick one, ``sign_count`` to force the counter (clone tests).
        """
        allowed = [base64url_to_bytes(c["id"]) for c in options.get("allowCredentials") or []]
        candidates = [
            c
            for c in self.credentials.values()
            if c.rp_id == options["rpId"] and (not allowed or c.credential_id in allowed)
        ]
        if credential_id is not None:
            candidates = [c for c in candidates if c.credential_id == credential_id]
        if not candidates:
            msg = "NotAllowedError: no matching credential on this authenticator"
            raise ValueError(msg)
        cred = candidates[0]
        cred.sign_count = cred.sign_count + 1 if sign_count is None else sign_count
        auth_data = (
            _sha256(cred.rp_id)
            + bytes([self._flags(attested=False)])
            + cred.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = cred.sign(auth_data + _sha256(client_data))
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(cred.user_handle),
            },
        }


@dataclass(frozen=True)
class AuthedUser:
    """A user signed in through the real ceremonies; ``headers`` carry the bearer token."""

    headers: dict[str, str]
    access_token: str
    refresh_token: str
    user_id: str
    email: str
    authenticator: SoftAuthenticator


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        request = response.request
        msg = f"{request.method} {request.url.path}: {response.status_code} {response.text}"
        raise AssertionError(msg)
    body: dict[str, Any] = response.json()
    return body


async def register(
    client: httpx.AsyncClient, email: str, authenticator: SoftAuthenticator
) -> dict[str, Any]:
    """Register ``email`` with a new passkey on ``authenticator``; returns the JSON result."""
    options = _ok(await client.post("/auth/register/begin", json={"email": email}))
    return _ok(await client.post("/auth/register/complete", json=authenticator.create(options)))


async def login(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, email: str | None = None
) -> dict[str, Any]:
    """Sign in (by email, or usernameless when ``email`` is None); returns the login JSON."""
    body = {} if email is None else {"email": email}
    options = _ok(await client.post("/auth/login/begin", json=body))
    return _ok(await client.post("/auth/login/complete", json=authenticator.get(options)))


async def signed_in_user(
    client: httpx.AsyncClient,
    email: str,
    *,
    origin: str | None = None,
    authenticator: SoftAuthenticator | None = None,
) -> AuthedUser:
    """Register ``email`` and sign in through the real endpoints; the bearer for other tests.

    ``origin`` must be one the app accepts (``settings.allowed_origins()``); by default the
    app's public origin when the client is a Litestar test client, else ``DEFAULT_ORIGIN``.
    """
    if authenticator is None:
        authenticator = SoftAuthenticator(origin=origin or _app_origin(client))
    await register(client, email, authenticator)
    result = await login(client, authenticator, email)
    return AuthedUser(
        headers={"Authorization": f"Bearer {result['access_token']}"},
        access_token=result["access_token"],
        refresh_token=result["refresh_token"],
        user_id=result["user"]["id"],
        email=email,
        authenticator=authenticator,
    )


def _app_origin(client: httpx.AsyncClient) -> str:
    """The origin the app expects: its first allowed origin behind a Litestar test client,
    else the client's base URL (a live server, ``127.0.0.1`` read as ``localhost``)."""
    app = getattr(client, "app", None)
    state = getattr(app, "state", None)
    if state is not None:
        from app.state import get_settings

        return get_settings(state).allowed_origins()[0]
    base = client.base_url
    if not base.host:
        return DEFAULT_ORIGIN
    # The service's default origin says "localhost" (browsers refuse IP addresses as RP IDs).
    host = "localhost" if base.host == "127.0.0.1" else base.host
    return f"{base.scheme}://{host}" + (f":{base.port}" if base.port else "")
