"""Access JWTs, rotating refresh-token families, and revocation kept in the database.

Access tokens are short-lived JWTs (``typ=access``) carrying ``sid``, the id of the login
family they belong to; logging out revokes the token's ``jti`` and the whole family, so every
access token of that login stops working on every worker (revocations live in the DB).
Refresh tokens are opaque strings stored only as SHA-256 hashes; each use rotates to a new
token of the same family, and presenting a used one is treated as theft: the family is
revoked.

Except within ``auth.refresh_grace_s`` of its use: a client whose refresh answer was lost (a
timeout, two tabs refreshing at once) presents the same token again and gets the *same* new
pair back, not a logout. Nothing secret is stored for that: the successor refresh token and
the new access token's ``jti`` are HMACs of the presented token under a key derived from the
signing key, so only a holder of the old token can recompute them, and the access token's
``iat`` is the time of first use. After the window, or once the successor itself was used,
a replay revokes the family as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import msgspec
from litestar.security.jwt import Token
from litestar.security.jwt.token import JWTDecodeOptions
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.errors import InvalidRefreshToken, RefreshTokenExpired, RefreshTokenReused
from app.auth.models import RefreshToken, RevokedToken
from app.settings import AuthSettings

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "AccessToken",
    "IssuedTokens",
    "TokenService",
    "family_key",
]

ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid")
_REVOCATION_CACHE_MAX = 10_000
_PURGE_INTERVAL_S = 60.0


def family_key(family_id: str) -> str:
    """The ``revoked_tokens`` key that revokes every access token of a login family."""
    return f"family:{family_id}"


@dataclass
class AccessToken(Token):
    """Litestar's token with our top-level claims: ``typ`` (must be ``access``) and ``sid``."""

    typ: str = ACCESS_TOKEN_TYPE
    sid: str = ""

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: JWTDecodeOptions | None = None,
    ) -> Any:
        """Verify as Litestar does (pinned ``alg``, iss, aud, exp, nbf), then the token type.

        A refresh token or any other JWT signed with the same key must not pass as an access
        token, so ``typ`` is checked here, before Litestar builds the token object.
        """
        payload = super().decode_payload(
            encoded_token, secret, algorithms, issuer, audience, options
        )
        if payload.get("typ") != ACCESS_TOKEN_TYPE:
            msg = "not an access token"
            raise jwt.InvalidTokenError(msg)
        if not isinstance(payload.get("jti"), str) or not isinstance(payload.get("sid"), str):
            msg = "jti and sid must be strings"
            raise jwt.InvalidTokenError(msg)
        return payload

    def encode(self, secret: str, algorithm: str) -> str:
        """Flat claims only: Litestar would also emit an empty nested ``extras`` object."""
        payload = {k: v for k, v in asdict(self).items() if v is not None and k != "extras"}
        return jwt.encode(payload, secret, algorithm=algorithm)


class IssuedTokens(msgspec.Struct, frozen=True):
    """A fresh access/refresh pair (the values a client needs)."""

    access_token: str
    refresh_token: str
    expires_in: int
    user_id: str
    family_id: str


def bound_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory is bound to (for cheap single-query reads)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        msg = "the session factory must be bound to an AsyncEngine"
        raise TypeError(msg)
    return engine


def _hash_refresh(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def _now() -> datetime:
    return datetime.now(UTC)


class TokenService:
    """Creates, rotates and revokes tokens. One instance per process, shared by requests.

    ``signing_key``/``verify_key`` are the HS256 secret (both the same) or the ES256 PEM pair.
    Revocations are cached in-process only positively (a revoked ``jti`` never comes back), so
    a logout on another worker is always seen on the next request.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: AuthSettings,
        *,
        signing_key: str,
        verify_key: str,
    ) -> None:
        self._sessions = sessions
        self._engine = bound_engine(sessions)
        self._settings = settings
        self._signing_key = signing_key
        self.verify_key = verify_key
        self.algorithm = settings.jwt_algorithm
        self._revoked_cache: dict[str, datetime] = {}
        self._last_purge = 0.0
        self._successor_key = hmac.new(
            signing_key.encode(), b"sca-refresh-successor-v1", hashlib.sha256
        ).digest()
        self._grace = timedelta(seconds=settings.refresh_grace_s)

    def encode_access(
        self,
        user_id: str,
        family_id: str,
        *,
        issued_at: datetime | None = None,
        jti: str | None = None,
    ) -> tuple[str, AccessToken]:
        """Sign a new access token for ``user_id`` in login family ``family_id``."""
        now = (issued_at or _now()).replace(microsecond=0)
        token = AccessToken(
            sub=user_id,
            exp=now + timedelta(seconds=self._settings.access_token_ttl_s),
            iat=now,
            iss=self._settings.jwt_issuer,
            aud=self._settings.jwt_audience,
            jti=jti or uuid.uuid4().hex,
            sid=family_id,
        )
        return token.encode(self._signing_key, self.algorithm), token

    def decode_access(self, encoded: str) -> AccessToken:
        """Decode and verify an access token exactly as the auth middleware does (401 if bad)."""
        return AccessToken.decode(
            encoded_token=encoded,
            secret=self.verify_key,
            algorithm=self.algorithm,
            audience=self._settings.jwt_audience,
            issuer=self._settings.jwt_issuer,
            require_claims=REQUIRED_CLAIMS,
            strict_audience=True,
        )

    async def issue(self, user_id: str) -> IssuedTokens:
        """Start a new login family: an access token plus the family's first refresh token."""
        family_id = str(uuid.uuid4())
        now = _now()
        async with self._sessions.begin() as session:
            refresh = await self._insert_refresh(session, user_id, family_id, now)
            await self._maybe_purge(session, now)
        return self._issued(user_id, family_id, refresh)

    async def _insert_refresh(
        self,
        session: AsyncSession,
        user_id: str,
        family_id: str,
        now: datetime,
        refresh: str | None = None,
    ) -> str:
        """Store a new refresh token of the family (only its hash); return the raw token."""
        refresh = refresh or secrets.token_urlsafe(32)
        await session.execute(
            insert(RefreshToken).values(
                id=str(uuid.uuid4()),
                token_hash=_hash_refresh(refresh),
                family_id=family_id,
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=self._settings.refresh_token_ttl_s),
            )
        )
        return refresh

    def _successor(self, raw_refresh: str) -> tuple[str, str]:
        """(next refresh token, next access ``jti``) of a rotation, recomputable from the
        presented token alone so a retry within the grace window gets the same pair."""
        mac = hmac.new(self._successor_key, raw_refresh.encode(), hashlib.sha256).digest()
        jti = hmac.new(self._successor_key, b"jti\x00" + mac, hashlib.sha256).hexdigest()[:32]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), jti

    def _issued(
        self,
        user_id: str,
        family_id: str,
        refresh: str,
        *,
        issued_at: datetime | None = None,
        jti: str | None = None,
    ) -> IssuedTokens:
        access, _ = self.encode_access(user_id, family_id, issued_at=issued_at, jti=jti)
        return IssuedTokens(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._settings.access_token_ttl_s,
            user_id=user_id,
            family_id=family_id,
        )

    async def rotate(self, raw_refresh: str) -> IssuedTokens:
        """Exchange a refresh token for a new pair; a reused token revokes its family.

        The old row is claimed with a conditional ``UPDATE … RETURNING`` so two concurrent
        uses of one token cannot both rotate; the loser gets the winner's pair if it comes
        within the grace window, else it is treated as reuse.
        """
        if not raw_refresh or len(raw_refresh) > 512:
            raise InvalidRefreshToken()
        token_hash = _hash_refresh(raw_refresh)
        successor, jti = self._successor(raw_refresh)
        now = _now().replace(microsecond=0)
        async with self._sessions.begin() as session:
            claimed = (
                await session.execute(
                    update(RefreshToken)
                    .where(
                        RefreshToken.token_hash == token_hash,
                        RefreshToken.used_at.is_(None),
                        RefreshToken.revoked_at.is_(None),
                        RefreshToken.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(RefreshToken.user_id, RefreshToken.family_id)
                )
            ).one_or_none()
            if claimed is not None:
                user_id, family_id = claimed
                await self._insert_refresh(session, user_id, family_id, now, successor)
        if claimed is not None:
            return self._issued(user_id, family_id, successor, issued_at=now, jti=jti)
        return await self._refuse_refresh(token_hash, successor, jti, now)

    async def _retry_within_grace(
        self, session: AsyncSession, row: Any, successor: str, now: datetime
    ) -> bool:
        """True when ``row`` (a used token) was used less than the grace ago and its
        successor is still unused and unrevoked: the caller is retrying, not replaying."""
        if row.revoked_at is not None or row.used_at is None or now - row.used_at >= self._grace:
            return False
        successor_state = (
            await session.execute(
                select(RefreshToken.used_at, RefreshToken.revoked_at).where(
                    RefreshToken.token_hash == _hash_refresh(successor),
                    RefreshToken.family_id == row.family_id,
                )
            )
        ).one_or_none()
        return successor_state is not None and successor_state == (None, None)

    async def _refuse_refresh(
        self, token_hash: bytes, successor: str, jti: str, now: datetime
    ) -> IssuedTokens:
        """Explain why a refresh token was not accepted; revoke its family if it was reused.

        A retry within the grace window gets the pair its first use got instead. The family
        revocation is committed before the error is raised.
        """
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(
                        RefreshToken.user_id,
                        RefreshToken.family_id,
                        RefreshToken.used_at,
                        RefreshToken.revoked_at,
                        RefreshToken.expires_at,
                    ).where(RefreshToken.token_hash == token_hash)
                )
            ).one_or_none()
            if row is not None and await self._retry_within_grace(session, row, successor, now):
                return self._issued(
                    row.user_id, row.family_id, successor, issued_at=row.used_at, jti=jti
                )
            reused = row is not None and (row.used_at is not None or row.revoked_at is not None)
            if row is not None and reused:
                await self._revoke_family(session, row.family_id, now)
        if row is None:
            raise InvalidRefreshToken()
        if reused:
            self._remember_revoked(
                family_key(row.family_id),
                now + timedelta(seconds=self._settings.access_token_ttl_s),
            )
            raise RefreshTokenReused(
                "Refresh token was already used or revoked; this login was signed out",
            )
        if row.expires_at <= now:
            raise RefreshTokenExpired()
        raise InvalidRefreshToken()

    async def _revoke_family(self, session: AsyncSession, family_id: str, now: datetime) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        # Any access token of the family was issued at most one access lifetime ago.
        await self._insert_revocation(
            session,
            family_key(family_id),
            now + timedelta(seconds=self._settings.access_token_ttl_s),
        )

    async def _insert_revocation(
        self, session: AsyncSession, key: str, expires_at: datetime
    ) -> None:
        """Upsert, so concurrent logouts of one token on two workers both succeed."""
        dialect = session.get_bind().dialect.name
        values = {"jti": key, "expires_at": expires_at}
        if dialect == "postgresql":
            pg = pg_insert(RevokedToken).values(values)
            stmt: Any = pg.on_conflict_do_update(
                index_elements=[RevokedToken.jti], set_={"expires_at": pg.excluded.expires_at}
            )
        else:
            lite = sqlite_insert(RevokedToken).values(values)
            stmt = lite.on_conflict_do_update(
                index_elements=[RevokedToken.jti], set_={"expires_at": lite.excluded.expires_at}
            )
        await session.execute(stmt)

    async def logout(self, token: AccessToken) -> None:
        """Revoke this access token and its whole login family (refresh tokens included)."""
        jti = str(token.jti)
        now = _now()
        async with self._sessions.begin() as session:
            await self._insert_revocation(session, jti, token.exp)
            await self._revoke_family(session, token.sid, now)
        self._remember_revoked(jti, token.exp)
        self._remember_revoked(
            family_key(token.sid), now + timedelta(seconds=self._settings.access_token_ttl_s)
        )

    async def family_revoked(self, family_id: str) -> bool:
        """True when the login family was signed out (or revoked as stolen)."""
        key = family_key(family_id)
        cached = self._revoked_cache.get(key)
        if cached is not None and cached > _now():
            return True
        async with self._engine.connect() as conn:
            expires_at = await conn.scalar(
                select(RevokedToken.expires_at).where(RevokedToken.jti == key)
            )
        if expires_at is None:
            return False
        self._remember_revoked(key, expires_at)
        return True

    async def use_once(self, key: str, expires_at: datetime) -> bool:
        """Record ``key`` as used until ``expires_at``; False if it already was (any worker).

        Single-use credentials other than refresh tokens (run tickets) share the revocation
        table: one atomic ``INSERT … ON CONFLICT DO NOTHING RETURNING`` decides the winner.
        """
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            values = {"jti": key, "expires_at": expires_at}
            insert_stmt = (
                pg_insert(RevokedToken) if dialect == "postgresql" else sqlite_insert(RevokedToken)
            )
            inserted = (
                await session.execute(
                    insert_stmt.values(values)
                    .on_conflict_do_nothing(index_elements=[RevokedToken.jti])
                    .returning(RevokedToken.jti)
                )
            ).one_or_none()
        return inserted is not None

    async def is_revoked(self, token: AccessToken) -> bool:
        """True when the token's ``jti`` or its login family was revoked (one indexed query)."""
        jti = str(token.jti)
        keys = (jti, family_key(token.sid))
        now = _now()
        for key in keys:
            cached = self._revoked_cache.get(key)
            if cached is not None and cached > now:
                return True
        # A bare connection, not an ORM session: this runs on every authenticated request.
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    select(RevokedToken.jti, RevokedToken.expires_at).where(
                        or_(RevokedToken.jti == keys[0], RevokedToken.jti == keys[1])
                    )
                )
            ).all()
        for key, expires_at in found:
            self._remember_revoked(key, expires_at)
        return bool(found)

    def _remember_revoked(self, key: str, expires_at: datetime) -> None:
        if len(self._revoked_cache) >= _REVOCATION_CACHE_MAX:
            now = _now()
            self._revoked_cache = {k: v for k, v in self._revoked_cache.items() if v > now}
            if len(self._revoked_cache) >= _REVOCATION_CACHE_MAX:
                self._revoked_cache.clear()
        self._revoked_cache[key] = expires_at

    async def _maybe_purge(self, session: AsyncSession, now: datetime) -> None:
        """Drop expired revocations and refresh tokens, at most once a minute per process."""
        if time.monotonic() - self._last_purge < _PURGE_INTERVAL_S:
            return
        self._last_purge = time.monotonic()
        await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
        await session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
