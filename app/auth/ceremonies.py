"""WebAuthn registration and authentication ceremonies on py_webauthn 3.

Clients post the browser's JSON unchanged; the challenge is recovered from
``clientDataJSON`` and consumed before anything is verified (see ``challenges``).

Three ceremonies, three challenge kinds, each completed only by its own endpoint:
*registration* creates an account (public), *add_credential* adds a passkey to the signed-in
account (bearer; the challenge is bound to that user **and** that login, so it dies with a
logout), *authentication* signs in (public).

Neither ``begin`` tells whether an email has an account: login for an unknown email gets a
deterministic decoy allow list (HMAC of a server secret) and fails at ``complete`` like a
wrong passkey; registration for a taken email gets options like any new email and fails at
``complete`` with the generic ``registration_failed`` (see docs/auth.md for what this does
and does not hide). A signature counter that does not increase is refused and logged as a
security event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.auth.challenges import ChallengeKind, ChallengeStore, PendingChallenge
from app.auth.errors import (
    AuthenticationFailed,
    ChallengeInvalid,
    ChallengeNotYours,
    CredentialExists,
    MalformedCredential,
    RegistrationFailed,
    SignCountRegression,
    UnknownUser,
)
from app.auth.models import Credential, User
from app.db.base import new_id
from app.db.integrity import ViolationKind, classify_integrity_error
from app.logging import get_logger

_Credential = TypeVar("_Credential")

__all__ = [
    "ALGORITHMS",
    "AuthenticatedUser",
    "CeremonyService",
    "RegisteredCredential",
    "RelyingParty",
    "SignedIn",
]

# The same list is offered in the options and enforced at verification (py_webauthn 3).
ALGORITHMS = [
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
GENERIC_LOGIN_FAILURE = "Authentication failed: unknown passkey for this account"
GENERIC_REGISTRATION_REFUSAL = (
    "Registration failed: this email cannot be registered with this passkey. If you already "
    "have an account, sign in with its passkey (signed in, you can add another one)"
)
_DECOY_LABEL = b"webauthn-decoy-allow-list\x00"

_log = get_logger("app.auth")


class RelyingParty(msgspec.Struct, frozen=True, kw_only=True):
    """Who we are to the authenticator and which page origins may run the ceremonies."""

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    user_verification: str = "preferred"
    timeout_ms: int = 300_000

    @property
    def require_uv(self) -> bool:
        return self.user_verification == "required"


class RegisteredCredential(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    email: str
    credential_id: str
    created_account: bool


class AuthenticatedUser(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    """The caller of an add-a-passkey ceremony: the account and its login (``family:<id>``)."""

    user_id: str
    session: str


def _options_json(options: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(options_to_json(options))
    return decoded


def _transports(values: list[str]) -> list[AuthenticatorTransport]:
    known = {t.value: t for t in AuthenticatorTransport}
    return [known[v] for v in values if v in known]


_CAUSE_HINT = re.compile(r"\.?\s*See __cause__ for more info\.?", re.IGNORECASE)
_INTERNALS = re.compile(r"<[^>]*>|\b0x[0-9a-fA-F]{6,}|Traceback|File \"")
_MAX_DETAIL = 200


def _library_detail(exc: Exception) -> str:
    """py_webauthn's reason, fit for the ``detail`` users see: one line, bounded, without its
    pointers to internals ("See __cause__ …") or object reprs (they say nothing to a user)."""
    text = " ".join(_CAUSE_HINT.sub("", str(exc)).split())
    if _INTERNALS.search(text):
        text = text.split(":", 1)[0]
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1].rstrip() + "…"
    return text or "the passkey response could not be read"


def _parsed(parse: Callable[[dict[str, Any]], _Credential], payload: dict[str, Any]) -> _Credential:
    """py_webauthn's parse of a credential JSON, any failure a 400 ``malformed_credential``:
    besides its own exceptions it lets ``ValueError`` escape (a non-ASCII base64url field)."""
    try:
        return parse(payload)
    except WebAuthnException as exc:
        raise MalformedCredential(_library_detail(exc)) from exc
    except (ValueError, TypeError, LookupError, AttributeError) as exc:
        raise MalformedCredential(
            "The passkey response is malformed: its binary fields must be base64url text",
        ) from exc


def _signed_challenge(client_data_json: bytes) -> bytes:
    try:
        return parse_client_data_json(client_data_json).challenge
    except WebAuthnException as exc:
        raise MalformedCredential(f"clientDataJSON is malformed: {_library_detail(exc)}") from exc
    except (ValueError, TypeError, LookupError, AttributeError) as exc:
        raise MalformedCredential(
            "clientDataJSON is malformed: it must be base64url-encoded JSON with "
            "type, challenge and origin",
        ) from exc


class CeremonyService:
    """The four ceremony steps plus "add a passkey to my account"."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        challenges: ChallengeStore,
        rp: RelyingParty,
        *,
        decoy_secret: bytes,
    ) -> None:
        self._sessions = sessions
        self._challenges = challenges
        self.rp = rp
        self._decoy_secret = decoy_secret

    # ----------------------------------------------------------------- registration

    async def registration_options(
        self, email: str, *, client: str, signed_in: SignedIn | None = None
    ) -> dict[str, Any]:
        """Options to create an account for ``email``, the same whether or not it is taken.

        Only the signed-in owner of ``email`` gets something else: options to add a passkey
        to their account (completed at ``/auth/credentials/complete``).
        """
        email = email.strip().lower()
        if signed_in is not None:
            async with self._sessions() as session:
                owner = await session.scalar(select(User.id).where(User.email == email))
            if owner == signed_in.user_id:
                return await self.add_credential_options(signed_in, client=client)
        user_handle = secrets.token_bytes(64)
        return await self._creation_options(
            PendingChallenge(
                kind=ChallengeKind.REGISTRATION,
                email=email,
                user_handle=user_handle,
                client=client,
            ),
            user_name=email,
            user_handle=user_handle,
            exclude=[],
        )

    async def add_credential_options(self, signed_in: SignedIn, *, client: str) -> dict[str, Any]:
        """Options to add another passkey to the signed-in account, bound to its login."""
        async with self._sessions() as session:
            user = await session.get(User, signed_in.user_id)
            if user is None:
                raise UnknownUser()
            creds = (
                await session.scalars(select(Credential).where(Credential.user_id == user.id))
            ).all()
        exclude = [
            PublicKeyCredentialDescriptor(
                id=c.credential_id, transports=_transports(c.transports) or None
            )
            for c in creds
        ]
        return await self._creation_options(
            PendingChallenge(
                kind=ChallengeKind.ADD_CREDENTIAL,
                user_id=user.id,
                session=signed_in.session,
                client=client,
            ),
            user_name=user.email,
            user_handle=user.user_handle,
            exclude=exclude,
        )

    async def _creation_options(
        self,
        pending: PendingChallenge,
        *,
        user_name: str,
        user_handle: bytes,
        exclude: list[PublicKeyCredentialDescriptor],
    ) -> dict[str, Any]:
        options = generate_registration_options(
            rp_id=self.rp.rp_id,
            rp_name=self.rp.rp_name,
            user_name=user_name,
            user_id=user_handle,
            user_display_name=user_name,
            timeout=self.rp.timeout_ms,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement(self.rp.user_verification),
            ),
            exclude_credentials=exclude,
            supported_pub_key_algs=ALGORITHMS,
        )
        await self._challenges.issue(options.challenge, pending)
        return _options_json(options)

    async def complete_registration(self, payload: dict[str, Any]) -> RegisteredCredential:
        """Verify an attestation over a ``registration`` challenge; create the account."""
        credential, challenge = self._registration_credential(payload)
        pending = await self._challenges.consume(challenge, ChallengeKind.REGISTRATION)
        if pending.email is None or pending.user_handle is None:
            raise ChallengeInvalid("Challenge carries no account to create")
        verified = self._verify_registration(credential, challenge)
        new_account = (pending.email, pending.user_handle)
        return await self._store_passkey(payload, credential, verified, new_account=new_account)

    async def complete_add_credential(
        self, payload: dict[str, Any], signed_in: SignedIn
    ) -> RegisteredCredential:
        """Verify an attestation over an ``add_credential`` challenge issued to this very
        login of this user; add the passkey to the account."""
        credential, challenge = self._registration_credential(payload)
        pending = await self._challenges.consume(challenge, ChallengeKind.ADD_CREDENTIAL)
        if pending.user_id != signed_in.user_id or pending.session != signed_in.session:
            raise ChallengeNotYours(
                "This challenge was not issued to this sign-in: start again from "
                "/auth/credentials/begin",
            )
        verified = self._verify_registration(credential, challenge)
        return await self._store_passkey(payload, credential, verified, user_id=signed_in.user_id)

    @staticmethod
    def _registration_credential(payload: dict[str, Any]) -> tuple[Any, bytes]:
        credential = _parsed(parse_registration_credential_json, payload)
        return credential, _signed_challenge(credential.response.client_data_json)

    def _verify_registration(self, credential: Any, challenge: bytes) -> Any:
        try:
            return verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp.rp_id,
                expected_origin=list(self.rp.origins),
                require_user_verification=self.rp.require_uv,
                supported_pub_key_algs=ALGORITHMS,
            )
        except WebAuthnException as exc:
            raise RegistrationFailed(f"Registration failed: {_library_detail(exc)}") from exc

    async def _store_passkey(
        self,
        payload: dict[str, Any],
        credential: Any,
        verified: Any,
        *,
        new_account: tuple[str, bytes] | None = None,
        user_id: str | None = None,
    ) -> RegisteredCredential:
        """Store the verified passkey: on a new account (email, user handle) for a
        registration, else on account ``user_id``."""
        now = datetime.now(UTC)
        name = payload.get("name")
        created = new_account is not None
        try:
            async with self._sessions.begin() as session:
                if await session.scalar(
                    select(Credential.id).where(Credential.credential_id == verified.credential_id)
                ):
                    raise CredentialExists()
                if new_account is not None:
                    email, user_handle = new_account
                    if await session.scalar(select(User.id).where(User.email == email)):
                        self._refuse_taken_email()
                    user = User(id=new_id(), email=email, user_handle=user_handle, created_at=now)
                    session.add(user)
                    await session.flush()
                else:
                    found = await session.get(User, user_id)
                    if found is None:
                        raise UnknownUser()
                    user = found
                count = await session.scalar(
                    select(func.count())
                    .select_from(Credential)
                    .where(Credential.user_id == user.id)
                )
                cred = Credential(
                    id=new_id(),
                    user_id=user.id,
                    credential_id=verified.credential_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=[t.value for t in credential.response.transports or []],
                    aaguid=str(verified.aaguid),
                    device_type=verified.credential_device_type.value,
                    backed_up=verified.credential_backed_up,
                    name=name.strip()[:100]
                    if isinstance(name, str) and name.strip()
                    else f"Passkey {(count or 0) + 1}",
                    created_at=now,
                    last_used_at=None,
                )
                session.add(cred)
                await session.flush()
                result = RegisteredCredential(
                    user_id=user.id,
                    email=user.email,
                    credential_id=cred.id,
                    created_account=created,
                )
        except IntegrityError as exc:
            raise self._registration_conflict(exc) from exc
        _log.info(
            "auth.passkey_registered",
            user_id=result.user_id,
            passkey_id=result.credential_id,
            new_account=result.created_account,
        )
        return result

    @staticmethod
    def _refuse_taken_email() -> NoReturn:
        """The same answer as for a passkey that cannot be registered: begin did not tell
        whether the email has an account, complete does not say it outright either."""
        _log.info("auth.registration_refused", reason="email_taken")
        raise RegistrationFailed(GENERIC_REGISTRATION_REFUSAL)

    @classmethod
    def _registration_conflict(cls, exc: IntegrityError) -> CredentialExists:
        """A race lost to a concurrent registration: of this passkey, or of this email."""
        violation = classify_integrity_error(exc)
        if violation.kind is ViolationKind.UNIQUE:
            where = (violation.constraint or "") + " ".join(violation.columns)
            if "credential_id" in where:
                return CredentialExists()
            if "email" in where:
                cls._refuse_taken_email()
        raise exc

    # --------------------------------------------------------------- authentication

    async def authentication_options(self, email: str | None, *, client: str) -> dict[str, Any]:
        """Request options: the user's passkeys for an email, none for usernameless login.

        An unknown email gets a decoy allow list that is stable per email (so repeated calls
        do not reveal it) and the challenge is marked so that ``complete`` fails generically.
        """
        if email is None:
            allow: list[PublicKeyCredentialDescriptor] = []
            pending = PendingChallenge(kind=ChallengeKind.AUTHENTICATION, client=client)
        else:
            email = email.strip().lower()
            async with self._sessions() as session:
                rows = (
                    await session.execute(
                        select(User.id, Credential.credential_id, Credential.transports)
                        .join(Credential, Credential.user_id == User.id)
                        .where(User.email == email)
                        .order_by(Credential.created_at)
                    )
                ).all()
            if rows:
                allow = [
                    PublicKeyCredentialDescriptor(id=cid, transports=_transports(tr) or None)
                    for _, cid, tr in rows
                ]
                pending = PendingChallenge(
                    kind=ChallengeKind.AUTHENTICATION,
                    user_id=rows[0][0],
                    email=email,
                    client=client,
                )
            else:
                allow = self._decoy_allow_list(email)
                pending = PendingChallenge(
                    kind=ChallengeKind.AUTHENTICATION, email=email, client=client
                )
        options = generate_authentication_options(
            rp_id=self.rp.rp_id,
            timeout=self.rp.timeout_ms,
            allow_credentials=allow,
            user_verification=UserVerificationRequirement(self.rp.user_verification),
        )
        await self._challenges.issue(options.challenge, pending)
        return _options_json(options)

    def _decoy_allow_list(self, email: str) -> list[PublicKeyCredentialDescriptor]:
        seed = hmac.new(self._decoy_secret, _DECOY_LABEL + email.encode(), hashlib.sha256).digest()
        count = 1 + seed[0] % 2
        transports = (
            [AuthenticatorTransport.INTERNAL]
            if seed[1] % 2
            else [AuthenticatorTransport.HYBRID, AuthenticatorTransport.INTERNAL]
        )
        return [
            PublicKeyCredentialDescriptor(
                id=hmac.new(self._decoy_secret, seed + bytes([i]), hashlib.sha256).digest(),
                transports=transports,
            )
            for i in range(count)
        ]

    async def complete_authentication(self, payload: dict[str, Any]) -> AuthenticatedUser:
        """Verify an assertion against the stored key and counter; return the user."""
        credential = _parsed(parse_authentication_credential_json, payload)
        challenge = _signed_challenge(credential.response.client_data_json)
        pending = await self._challenges.consume(challenge, ChallengeKind.AUTHENTICATION)
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Credential, User)
                    .join(User, User.id == Credential.user_id)
                    .where(Credential.credential_id == credential.raw_id)
                )
            ).one_or_none()
        if row is None:
            self._reject("unknown_credential")
        stored, user = row
        if pending.user_id is None and pending.email is not None:
            self._reject("unknown_email")
        if pending.user_id is not None and stored.user_id != pending.user_id:
            self._reject("credential_of_another_user", user_id=pending.user_id)
        handle = credential.response.user_handle
        if handle is not None and handle != user.user_handle:
            self._reject("user_handle_mismatch", user_id=user.id)
        try:
            # The counter is checked below, after the signature, so that only a validly
            # signed regression is reported as a possible clone.
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp.rp_id,
                expected_origin=list(self.rp.origins),
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,
                require_user_verification=self.rp.require_uv,
            )
        except WebAuthnException as exc:
            raise AuthenticationFailed(f"Authentication failed: {_library_detail(exc)}") from exc
        new_count = verified.new_sign_count
        if (new_count > 0 or stored.sign_count > 0) and new_count <= stored.sign_count:
            self._counter_regression(stored, new_count)
        counter_ok = (
            Credential.sign_count < new_count if new_count > 0 else Credential.sign_count == 0
        )
        async with self._sessions.begin() as session:
            updated = (
                await session.execute(
                    update(Credential)
                    .where(Credential.id == stored.id, counter_ok)
                    .values(
                        sign_count=new_count,
                        last_used_at=datetime.now(UTC),
                        backed_up=verified.credential_backed_up,
                        device_type=verified.credential_device_type.value,
                    )
                    .returning(Credential.id)
                )
            ).one_or_none()
        if updated is None:
            # A concurrent login stored a higher counter first: same verdict.
            self._counter_regression(stored, new_count)
        _log.info("auth.login", user_id=user.id, passkey_id=stored.id)
        return AuthenticatedUser(id=user.id, email=user.email)

    @staticmethod
    def _reject(reason: str, **fields: str) -> NoReturn:
        _log.info("auth.login_rejected", reason=reason, **fields)
        raise AuthenticationFailed(GENERIC_LOGIN_FAILURE)

    @staticmethod
    def _counter_regression(stored: Credential, new_count: int) -> NoReturn:
        _log.warning(
            "security.webauthn_sign_count_regression",
            user_id=stored.user_id,
            passkey_id=stored.id,
            stored_count=stored.sign_count,
            received_count=new_count,
        )
        raise SignCountRegression(
            "Authentication refused: the passkey's signature counter (sign count) did not "
            "increase (possibly a cloned authenticator)",
        )
