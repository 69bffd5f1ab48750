"""The signed-in user's account view and passkey management (list, rename, delete)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webauthn.helpers import bytes_to_base64url

from app.auth.errors import CredentialNotFound, InvalidName, LastCredential, UnknownUser
from app.auth.models import Credential, User
from app.auth.schemas import CredentialOut, MeOut

__all__ = ["CredentialService"]


def _out(c: Credential) -> CredentialOut:
    return CredentialOut(
        id=c.id,
        name=c.name,
        credential_id=bytes_to_base64url(c.credential_id),
        created_at=c.created_at,
        last_used_at=c.last_used_at,
        transports=list(c.transports),
        aaguid=c.aaguid,
        device_type=c.device_type,
        backed_up=c.backed_up,
    )


def _not_found() -> CredentialNotFound:
    return CredentialNotFound()


class CredentialService:
    """Every query is scoped to the owner: another user's passkey id is simply not found."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def me(self, user_id: str) -> MeOut:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UnknownUser()
            count = await session.scalar(
                select(func.count()).select_from(Credential).where(Credential.user_id == user_id)
            )
        return MeOut(
            id=user.id, email=user.email, created_at=user.created_at, credential_count=count or 0
        )

    async def list(self, user_id: str) -> list[CredentialOut]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Credential)
                .where(Credential.user_id == user_id)
                .order_by(Credential.created_at, Credential.id)
            )
            return [_out(c) for c in rows]

    async def rename(self, user_id: str, credential_id: str, name: str) -> CredentialOut:
        name = name.strip()
        if not name:
            raise InvalidName("A passkey name cannot be blank")
        async with self._sessions.begin() as session:
            cred = await session.scalar(
                select(Credential).where(
                    Credential.id == credential_id, Credential.user_id == user_id
                )
            )
            if cred is None:
                raise _not_found()
            cred.name = name
            return _out(cred)

    async def delete(self, user_id: str, credential_id: str) -> None:
        """Remove a passkey; refusing the last one, which would lock the account out.

        The owner's credential rows are locked (PostgreSQL) so two concurrent deletes cannot
        each see "one other left" and remove both.
        """
        async with self._sessions.begin() as session:
            owned = (
                await session.scalars(
                    select(Credential).where(Credential.user_id == user_id).with_for_update()
                )
            ).all()
            target = next((c for c in owned if c.id == credential_id), None)
            if target is None:
                raise _not_found()
            if len(owned) <= 1:
                raise LastCredential(
                    "Cannot delete your only passkey: add another one first",
                )
            await session.delete(target)
