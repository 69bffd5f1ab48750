"""Server-side WebAuthn challenges in the database: bound, short-lived, single use.

The client never sends a challenge id: the challenge it signed is read back from its
``clientDataJSON`` and consumed with ``DELETE … RETURNING`` in its own committed transaction,
so a replay, or the same response raced through two workers, finds nothing the second time.
Expired rows are purged on every issue.

Storage is bounded without a global lockout: each client (an IPv4 address or an IPv6 /64,
see ``app.auth.clients``) may hold ``max_pending_per_client`` pending challenges, and when
the whole table reaches ``max_pending`` a new challenge evicts the oldest one of the client
holding the most, unless the asking client holds as many itself. So a flood from many
addresses fills the table with the flooders' challenges and then only ever refuses or evicts
*them*: a user asking for their first challenge always gets one, and theirs is evicted only
once every other client holds as few. Both caps are
checked in the issuing transaction; two workers issuing at the same instant can overshoot a
cap by one each, which bounds storage just the same.

Each ceremony kind completes only on its own endpoint: a challenge consumed as another kind
is refused (and used up).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import msgspec
from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.errors import (
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeWrongCeremony,
    RateLimited,
)
from app.auth.models import WebAuthnChallenge

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_PENDING_PER_CLIENT",
    "ChallengeKind",
    "ChallengeStore",
    "PendingChallenge",
]

DEFAULT_MAX_PENDING = 10_000
DEFAULT_MAX_PENDING_PER_CLIENT = 100


class ChallengeKind(StrEnum):
    """``registration`` creates an account (``/auth/register/*``), ``add_credential`` adds a
    passkey to the signed-in account (``/auth/credentials/*``), ``authentication`` signs in."""

    REGISTRATION = "registration"
    ADD_CREDENTIAL = "add_credential"
    AUTHENTICATION = "authentication"


class PendingChallenge(msgspec.Struct, frozen=True, kw_only=True):
    """What a consumed challenge was issued for, and to whom (``client``, ``session``)."""

    kind: ChallengeKind
    user_id: str | None = None
    email: str | None = None
    user_handle: bytes | None = None
    session: str | None = None
    client: str | None = None


class ChallengeStore:
    """Issue and atomically consume challenges (SQLite ≥ 3.35 and PostgreSQL)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_s: int,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_pending_per_client: int = DEFAULT_MAX_PENDING_PER_CLIENT,
    ) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl_s)
        self._max_pending = max_pending
        self._max_per_client = max_pending_per_client

    async def issue(self, challenge: bytes, pending: PendingChallenge) -> None:
        """Store a new challenge; 429 when ``pending.client`` holds too many already."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            await session.execute(
                delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= now)
            )
            mine = await self._pending_of(session, pending.client)
            if mine >= self._max_per_client:
                raise self._too_many(
                    f"Too many sign-in ceremonies in progress from your network (at most "
                    f"{self._max_per_client}): finish or let one expire first",
                    await self._oldest_expiry(session, pending.client),
                    now,
                )
            total = await session.scalar(select(func.count()).select_from(WebAuthnChallenge))
            if (total or 0) >= self._max_pending:
                await self._evict_from_heaviest(session, pending.client, mine, now)
            await session.execute(
                insert(WebAuthnChallenge).values(
                    challenge=challenge,
                    kind=pending.kind.value,
                    user_id=pending.user_id,
                    email=pending.email,
                    user_handle=pending.user_handle,
                    session=pending.session,
                    client=pending.client,
                    created_at=now,
                    expires_at=now + self._ttl,
                )
            )

    @staticmethod
    def _of_client(client: str | None) -> ColumnElement[bool]:
        column = WebAuthnChallenge.client
        return column.is_(None) if client is None else column == client

    async def _pending_of(self, session: AsyncSession, client: str | None) -> int:
        count = await session.scalar(
            select(func.count()).select_from(WebAuthnChallenge).where(self._of_client(client))
        )
        return int(count or 0)

    async def _oldest_expiry(self, session: AsyncSession, client: str | None) -> datetime | None:
        oldest: datetime | None = await session.scalar(
            select(func.min(WebAuthnChallenge.expires_at)).where(self._of_client(client))
        )
        return oldest

    async def _evict_from_heaviest(
        self, session: AsyncSession, client: str | None, mine: int, now: datetime
    ) -> None:
        """The table is full: drop the heaviest client's oldest challenge, or refuse the
        asking client when nobody holds more than it does. A client holding none is thus
        never refused here."""
        heaviest = (
            await session.execute(
                select(WebAuthnChallenge.client, func.count().label("n"))
                .group_by(WebAuthnChallenge.client)
                .order_by(func.count().desc(), func.min(WebAuthnChallenge.expires_at))
                .limit(1)
            )
        ).one()
        if heaviest.n <= mine:
            raise self._too_many(
                "Too many sign-in ceremonies in progress; try again shortly",
                await self._oldest_expiry(session, heaviest.client),
                now,
            )
        oldest = (
            select(WebAuthnChallenge.challenge)
            .where(self._of_client(heaviest.client))
            .order_by(WebAuthnChallenge.expires_at)
            .limit(1)
            .scalar_subquery()
        )
        await session.execute(
            delete(WebAuthnChallenge).where(WebAuthnChallenge.challenge == oldest)
        )

    def _too_many(self, detail: str, frees_at: datetime | None, now: datetime) -> RateLimited:
        wait = (frees_at - now).total_seconds() if frees_at is not None else None
        retry = math.ceil(wait) if wait is not None else int(self._ttl.total_seconds())
        return RateLimited(detail, max(1, retry))

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
                        WebAuthnChallenge.session,
                        WebAuthnChallenge.expires_at,
                    )
                )
            ).one_or_none()
        if row is None:
            raise ChallengeInvalid(
                "Unknown or already used challenge: start the ceremony again",
            )
        row_kind, user_id, email, user_handle, bound_session, expires_at = row
        if expires_at <= now:
            raise ChallengeExpired()
        if row_kind != kind.value:
            raise ChallengeWrongCeremony(
                f"Challenge was issued for {row_kind}, not {kind.value}",
            )
        return PendingChallenge(
            kind=kind,
            user_id=user_id,
            email=email,
            user_handle=user_handle,
            session=bound_session,
        )
