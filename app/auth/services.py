"""The auth objects one app instance shares between requests, built from settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException

from app.auth.ceremonies import CeremonyService, RelyingParty
from app.auth.challenges import ChallengeStore
from app.auth.credentials import CredentialService
from app.auth.personal_tokens import (
    PersonalTokenRejected,
    PersonalTokenService,
    looks_like_personal_token,
)
from app.auth.ratelimit import (
    CeremonyRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    account_key,
)
from app.auth.security import UserDirectory
from app.auth.tokens import AccessToken, TokenService
from app.db.engine import Database
from app.redis import redis_key
from app.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["AUTH_STATE_KEY", "AuthServices", "get_auth_services"]

AUTH_STATE_KEY = "app_auth"


def _keys(settings: Settings) -> tuple[str, str, bytes]:
    """(signing key, verification key, server secret for decoys) from the auth settings."""
    auth = settings.auth
    if auth.jwt_algorithm == "ES256":
        if auth.jwt_private_key_file is None or auth.jwt_public_key_file is None:
            msg = "auth.jwt_private_key_file and auth.jwt_public_key_file are required for ES256"
            raise ValueError(msg)
        private_pem = Path(auth.jwt_private_key_file).read_text()
        public_pem = Path(auth.jwt_public_key_file).read_text()
        return private_pem, public_pem, hashlib.sha256(private_pem.encode()).digest()
    if auth.jwt_secret is None:
        msg = "auth.jwt_secret is required for HS256 (set JWT_SECRET)"
        raise ValueError(msg)
    return auth.jwt_secret, auth.jwt_secret, hashlib.sha256(auth.jwt_secret.encode()).digest()


@dataclass(frozen=True, slots=True)
class AuthServices:
    tokens: TokenService
    ceremonies: CeremonyService
    credentials: CredentialService
    users: UserDirectory
    limiter: RateLimiter
    personal_tokens: PersonalTokenService
    account_limiter: RateLimiter

    @classmethod
    def create(
        cls, settings: Settings, database: Database, redis: Redis | None = None
    ) -> AuthServices:
        """``redis`` (the app's client when ``redis.url`` is set) backs the rate limit."""
        signing, verify, server_secret = _keys(settings)
        sessions = database.session_maker
        rp = RelyingParty(
            rp_id=settings.rp_id(),
            rp_name=settings.auth.rp_name,
            origins=settings.allowed_origins(),
            user_verification=settings.auth.user_verification,
            timeout_ms=settings.auth.challenge_ttl_s * 1000,
        )
        challenges = ChallengeStore(
            sessions,
            ttl_s=settings.auth.challenge_ttl_s,
            max_pending=settings.auth.max_pending_challenges,
            max_pending_per_client=settings.auth.max_pending_challenges_per_client,
        )
        decoy_secret = hashlib.sha256(b"webauthn-decoys\x00" + server_secret).digest()
        return cls(
            tokens=TokenService(sessions, settings.auth, signing_key=signing, verify_key=verify),
            ceremonies=CeremonyService(sessions, challenges, rp, decoy_secret=decoy_secret),
            credentials=CredentialService(sessions),
            users=UserDirectory(sessions),
            limiter=_limiter(settings, redis, "ceremony", settings.rate_limit.ceremony_per_minute),
            personal_tokens=PersonalTokenService(sessions),
            account_limiter=_limiter(
                settings, redis, "account", settings.rate_limit.account_per_minute
            ),
        )

    async def bearer_access(self, authorization: str | None) -> AccessToken | None:
        """The valid, unrevoked access token (of an existing account) in an optional
        ``Authorization`` header; None for no header, a personal access token or a bad one."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value or looks_like_personal_token(value):
            return None
        try:
            token = self.tokens.decode_access(value)
        except NotAuthorizedException:
            return None
        if await self.tokens.is_revoked(token) or await self.users.get(token.sub) is None:
            return None
        return token

    async def bearer_user_id(
        self, authorization: str | None, *, accept_personal_tokens: bool = False
    ) -> str | None:
        """The user id of a valid access token in an optional ``Authorization`` header.

        Used on public routes that behave differently for a signed-in caller; a missing or
        invalid or revoked token means "anonymous" there, never an error. A personal access
        token counts only with ``accept_personal_tokens`` (a run's event stream), never
        where it would manage the account (adding a passkey at ``register/begin``).
        """
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        if looks_like_personal_token(value.strip()):
            if not accept_personal_tokens:
                return None
            try:
                auth, _ = await self.personal_tokens.authenticate(value.strip())
            except PersonalTokenRejected:
                return None
            return auth.user_id
        token = await self.bearer_access(authorization)
        return None if token is None else token.sub

    async def check_account_limit(self, email: str) -> None:
        """Count a ``begin`` call naming ``email``; 429 over the per-account limit."""
        await self.account_limiter.check(account_key(email))

    async def redeem_run_ticket(
        self, *, session: str, user_id: str, ticket_id: str, expires_at: datetime
    ) -> str | None:
        """Use a run ticket once; None when accepted, else why it is refused.

        Refused when its sign-in ``session`` (``family:<id>`` or ``pat:<id>``) has ended,
        its user is gone, or it was used before.
        """
        kind, _, session_id = session.partition(":")
        if kind == "family":
            if await self.tokens.family_revoked(session_id):
                return "its sign-in has ended (signed out)"
        elif kind == "pat":
            if not await self.personal_tokens.is_active(session_id, user_id):
                return "its personal access token was revoked or has expired"
        else:
            return "it is not bound to a sign-in"
        if await self.users.get(user_id) is None:
            return "its account no longer exists"
        if not await self.tokens.use_once(f"ticket:{ticket_id}", expires_at):
            return "it was already used (ask for a new ticket)"
        return None


def _limiter(settings: Settings, redis: Redis | None, name: str, per_minute: int) -> RateLimiter:
    enabled = settings.rate_limit.enabled
    if redis is None:
        return CeremonyRateLimiter(per_minute, enabled=enabled)
    return RedisRateLimiter(
        redis, redis_key(settings.redis, "ratelimit", name), per_minute, enabled=enabled
    )


def get_auth_services(state: State) -> AuthServices:
    value = state[AUTH_STATE_KEY]
    assert isinstance(value, AuthServices)
    return value
