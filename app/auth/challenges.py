"""Server-side WebAuthn challenges in the database: bound, short-lived, single use.

The client never sends a challenge id: the challenge it signed is read back from its
``clientDataJSON`` and consumed with ``DELETE … RETURNING`` in its own committed transaction,
so a replay, or the same response raced through two workers, finds nothing the second time.
Expired rows are purged on every issue and the table size is capped, so a flood of ``begin``
calls cannot grow storage without bound.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import msgspec
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.errors import AuthError
from app.auth.models import WebAuthnChallenge

__all__ = ["DEFAULT_MAX_PENDING", "ChallengeKind", "ChallengeStore", "PendingChallenge"]

DEFAULT_MAX_PENDING = 10_000


class ChallengeKind(StrEnum):
    REGISTRATION = "registration"
    AUTHENTICATION = "authentication"


class PendingChallenge(msgspec.Struct, frozen=True, kw_only=True):
    """What a consumed challenge was issued for."""

    kind: ChallengeKind
    user_id: str | None = None
    email: str | None = None
    user_handle: bytes | None = None


class ChallengeStore:
    """Issue and atomically consume challenges (SQLite ≥ 3.35 and PostgreSQL)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_s: int,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl_s)
        self._max_pending = max_pending

    async def issue(self, challenge: bytes, pending: PendingChallenge) -> None:
        """Store a new challenge; 429 when too many ceremonies are pending at once."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            await session.execute(
                delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= now)
            )
            count = await session.scalar(select(func.count()).select_from(WebAuthnChallenge))
            if (count or 0) >= self._max_pending:
                raise AuthError.too_many(
                    "Too many sign-in ceremonies in progress; try again shortly",
                    int(self._ttl.total_seconds()),
                )
            await session.execute(
                insert(WebAuthnChallenge).values(
                    challenge=challenge,
                    kind=pending.kind.value,
                    user_id=pending.user_id,
                    email=pending.email,
                    user_handle=pending.user_handle,
                    created_at=now,
                    expires_at=now + self._ttl,
                )
            )

    async def consume(self, challenge: bytes, kind: ChallengeKind) -> PendingChallenge:
        """Delete and return the challenge; 400 if unknown/used, expired or of another kind.

        The row is deleted whatever the outcome: a challenge is good for one attempt only.
        """
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    delete(WebAuthnChallenge)
                    .where(WebAuthnChallenge.challenge == challenge)
                    .returning(
                        WebAuthnChallenge.kind,
                        WebAuthnChallenge.user_id,
                        WebAuthnChallenge.email,
                        WebAuthnChallenge.user_handle,
                        WebAuthnChallenge.expires_at,
                    )
                )
            ).one_or_none()
        if row is None:
            raise AuthError.bad_request(
                "challenge_invalid",
                "Unknown or already used challenge: start the ceremony again",
            )
        row_kind, user_id, email, user_handle, expires_at = row
        if expires_at <= now:
            raise AuthError.bad_request(
                "challenge_expired", "Challenge expired: start the ceremony again"
            )
        if row_kind != kind.value:
            raise AuthError.bad_request(
                "challenge_wrong_ceremony",
                f"Challenge was issued for {row_kind}, not {kind.value}",
            )
        return PendingChallenge(kind=kind, user_id=user_id, email=email, user_handle=user_handle)
