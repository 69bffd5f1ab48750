"""Personal access tokens: named, expiring bearer credentials for scripts and headless use.

A passkey sign-in needs a browser and an authenticator; a script needs a string it can put
in ``Authorization: Bearer``. A personal access token (PAT) is that string:
``sca_pat_`` followed by 256 random bits (base64url). The prefix makes a leaked token easy
to recognise (secret scanners, logs) and lets the auth middleware tell a PAT from a JWT
without trying to decode it.

Only the SHA-256 of the secret is stored, so a copy of the database does not yield usable
tokens; a 256-bit random secret needs no slow hash. Every request looks the token up by its
hash (one indexed query, joined with its user): the database is the only source of truth,
so a revocation takes effect on every worker at the next request, with no cache to
invalidate. ``last_used_at`` is written only when it is older than a minute, so a busy
script costs at most one write per token per minute, not one per request.

Each token has an expiry between 1 and :data:`MAX_EXPIRY_DAYS` days, and a user holds at
most :data:`MAX_ACTIVE_TOKENS` unrevoked, unexpired tokens. Every query is scoped to the
owner: another user's token id is simply not found.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import msgspec
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.errors import InvalidExpiry, InvalidName, TokenNotFound, TooManyTokens
from app.auth.models import PersonalAccessToken, User
from app.auth.tokens import bound_engine
from app.db.base import new_id

__all__ = [
    "DEFAULT_EXPIRY_DAYS",
    "MAX_ACTIVE_TOKENS",
    "MAX_EXPIRY_DAYS",
    "NAME_MAX_LENGTH",
    "PAT_PREFIX",
    "CreatedPersonalToken",
    "PersonalTokenAuth",
    "PersonalTokenInfo",
    "PersonalTokenRejected",
    "PersonalTokenService",
    "looks_like_personal_token",
]

PAT_PREFIX = "sca_pat_"
_SECRET_BYTES = 32
# token_urlsafe(32) is 43 characters; anything else cannot be one of ours.
_PAT_LENGTH = len(PAT_PREFIX) + 43
DEFAULT_EXPIRY_DAYS = 30
MAX_EXPIRY_DAYS = 365
MAX_ACTIVE_TOKENS = 50
NAME_MAX_LENGTH = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)
_HINT_LENGTH = 4


def looks_like_personal_token(value: str) -> bool:
    """True for a string shaped like a PAT (prefix and length); says nothing of validity."""
    return value.startswith(PAT_PREFIX)


def _hash(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def _now() -> datetime:
    return datetime.now(UTC)


class PersonalTokenAuth(msgspec.Struct, frozen=True):
    """``request.auth`` when the caller authenticated with a personal access token."""

    token_id: str
    user_id: str
    expires_at: datetime


class PersonalTokenInfo(msgspec.Struct, frozen=True):
    """A token as its owner sees it in a list: never the secret, only its last characters."""

    id: str
    name: str
    hint: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


class CreatedPersonalToken(msgspec.Struct, frozen=True):
    """A new token: ``token`` is the secret, returned once and never again."""

    id: str
    name: str
    token: str
    hint: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None


class PersonalTokenRejected(NotAuthorizedException):
    """401 for a PAT that is unknown, revoked or expired; ``code`` is the stable error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def _info(row: PersonalAccessToken) -> PersonalTokenInfo:
    return PersonalTokenInfo(
        id=row.id,
        name=row.name,
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidName("A token name cannot be blank")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise InvalidName(f"A token name has at most {NAME_MAX_LENGTH} characters")
    return cleaned


def _check_days(expires_in_days: int) -> None:
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidExpiry(
            f"expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}, got {expires_in_days}",
        )


class PersonalTokenService:
    """Creates, lists, revokes and authenticates personal access tokens."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._engine = bound_engine(sessions)

    async def create(
        self, user_id: str, name: str, expires_in_days: int = DEFAULT_EXPIRY_DAYS
    ) -> CreatedPersonalToken:
        """A new token for ``user_id``; 400 for a blank name or an expiry out of bounds,
        409 when the user already holds :data:`MAX_ACTIVE_TOKENS` active tokens."""
        cleaned = _clean_name(name)
        _check_days(expires_in_days)
        async with self._sessions.begin() as session:
            return await self._insert(session, user_id, cleaned, expires_in_days)

    async def _insert(
        self, session: AsyncSession, user_id: str, name: str, expires_in_days: int
    ) -> CreatedPersonalToken:
        now = _now()
        if session.get_bind().dialect.name == "postgresql":
            # Serialise concurrent creations of one user, so the cap below is exact.
            await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        active = await session.scalar(
            select(func.count())
            .select_from(PersonalAccessToken)
            .where(
                PersonalAccessToken.user_id == user_id,
                PersonalAccessToken.revoked_at.is_(None),
                PersonalAccessToken.expires_at > now,
            )
        )
        if (active or 0) >= MAX_ACTIVE_TOKENS:
            raise TooManyTokens(
                f"You already have {MAX_ACTIVE_TOKENS} active tokens: revoke one first",
            )
        raw = PAT_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        created = CreatedPersonalToken(
            id=new_id(),
            name=name,
            token=raw,
            hint=raw[-_HINT_LENGTH:],
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days),
        )
        await session.execute(
            insert(PersonalAccessToken).values(
                id=created.id,
                user_id=user_id,
                name=name,
                token_hash=_hash(raw),
                hint=created.hint,
                created_at=now,
                expires_at=created.expires_at,
            )
        )
        return created

    async def create_for_email(
        self, email: str, name: str, expires_in_days: int = DEFAULT_EXPIRY_DAYS
    ) -> tuple[CreatedPersonalToken, bool]:
        """The operator's path (``python -m app token create``): find or create the account
        for ``email``, then create a token for it. Returns the token and whether the account
        was created. The account gets a fresh WebAuthn user handle, as a registration would.
        """
        email = email.strip().lower()
        cleaned = _clean_name(name)
        _check_days(expires_in_days)
        async with self._sessions.begin() as session:
            user_id = await session.scalar(select(User.id).where(User.email == email))
            created_user = user_id is None
            if user_id is None:
                user_id = new_id()
                await session.execute(
                    insert(User).values(
                        id=user_id,
                        email=email,
                        user_handle=secrets.token_bytes(64),
                        created_at=_now(),
                    )
                )
            token = await self._insert(session, user_id, cleaned, expires_in_days)
        return token, created_user

    async def user_id_for_email(self, email: str) -> str | None:
        """The id of the account with this email, if any (the operator command's lookup)."""
        async with self._sessions() as session:
            return await session.scalar(select(User.id).where(User.email == email.strip().lower()))

    async def list(self, user_id: str) -> list[PersonalTokenInfo]:
        """The user's tokens that are not revoked (expired ones too, until revoked), oldest
        first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(PersonalAccessToken)
                .where(
                    PersonalAccessToken.user_id == user_id,
                    PersonalAccessToken.revoked_at.is_(None),
                )
                .order_by(PersonalAccessToken.created_at, PersonalAccessToken.id)
            )
            return [_info(row) for row in rows]

    async def revoke(self, user_id: str, token_id: str) -> None:
        """Revoke one of the user's tokens now; 404 if it is not theirs or already revoked."""
        async with self._sessions.begin() as session:
            revoked = (
                await session.execute(
                    update(PersonalAccessToken)
                    .where(
                        PersonalAccessToken.id == token_id,
                        PersonalAccessToken.user_id == user_id,
                        PersonalAccessToken.revoked_at.is_(None),
                    )
                    .values(revoked_at=_now())
                    .returning(PersonalAccessToken.id)
                )
            ).one_or_none()
        if revoked is None:
            raise TokenNotFound()

    async def is_active(self, token_id: str, user_id: str) -> bool:
        """True while the token of ``user_id`` exists, is unrevoked and unexpired."""
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(PersonalAccessToken.id).where(
                    PersonalAccessToken.id == token_id,
                    PersonalAccessToken.user_id == user_id,
                    PersonalAccessToken.revoked_at.is_(None),
                    PersonalAccessToken.expires_at > _now(),
                )
            )
        return found is not None

    async def authenticate(self, raw: str) -> tuple[PersonalTokenAuth, str]:
        """The token's auth object and its owner's email; :class:`PersonalTokenRejected`
        (401) for an unknown, revoked or expired token."""
        if len(raw) != _PAT_LENGTH or not looks_like_personal_token(raw):
            raise PersonalTokenRejected("not_authenticated", "Invalid personal access token")
        now = _now()
        # A bare connection, not an ORM session: this runs on every request made with a PAT.
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        PersonalAccessToken.id,
                        PersonalAccessToken.user_id,
                        PersonalAccessToken.expires_at,
                        PersonalAccessToken.revoked_at,
                        PersonalAccessToken.last_used_at,
                        User.email,
                    )
                    .join(User, User.id == PersonalAccessToken.user_id)
                    .where(PersonalAccessToken.token_hash == _hash(raw))
                )
            ).one_or_none()
        if row is None:
            raise PersonalTokenRejected("not_authenticated", "Invalid personal access token")
        if row.revoked_at is not None:
            raise PersonalTokenRejected("token_revoked", "Personal access token was revoked")
        if row.expires_at <= now:
            raise PersonalTokenRejected("token_expired", "Personal access token expired")
        if row.last_used_at is None or row.last_used_at <= now - LAST_USED_RESOLUTION:
            await self._touch(row.id, now)
        auth = PersonalTokenAuth(token_id=row.id, user_id=row.user_id, expires_at=row.expires_at)
        return auth, row.email

    async def _touch(self, token_id: str, now: datetime) -> None:
        """Record a use; the condition makes concurrent workers write at most once a minute."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(PersonalAccessToken)
                .where(
                    PersonalAccessToken.id == token_id,
                    or_(
                        PersonalAccessToken.last_used_at.is_(None),
                        PersonalAccessToken.last_used_at <= now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
