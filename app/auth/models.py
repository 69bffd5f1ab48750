"""Auth tables: users, their passkeys, pending WebAuthn challenges, refresh tokens, revocations,
and personal access tokens.

Binary WebAuthn values (credential id, public key, user handle, challenge) are stored as raw
bytes and only base64url-encoded at the HTTP edge. Ids are UUID text (``id_column``) and
timestamps aware UTC (the base's ``UTCDateTime``), like every other table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, id_column

__all__ = [
    "Credential",
    "PersonalAccessToken",
    "RefreshToken",
    "RevokedToken",
    "User",
    "WebAuthnChallenge",
]


class User(Base):
    """An account. ``user_handle`` is the opaque WebAuthn user id (never the email)."""

    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime]


class Credential(Base):
    """A registered passkey: ``id`` is the API id, ``credential_id`` the authenticator's."""

    __tablename__ = "credentials"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    transports: Mapped[list[str]] = mapped_column(JSON)
    aaguid: Mapped[str] = mapped_column(String(36))
    device_type: Mapped[str] = mapped_column(String(32))
    backed_up: Mapped[bool]
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class WebAuthnChallenge(Base):
    """A pending ceremony, deleted with ``DELETE … RETURNING`` on first use (single use).

    ``kind`` is ``registration``, ``add_credential`` or ``authentication``, and each
    completes only on its own endpoint. Registration: ``email`` and ``user_handle`` describe
    the account to create. Add-credential: ``user_id`` is the signed-in account and
    ``session`` its login (``family:<id>``). Authentication: ``user_id`` binds an email
    login to that user; ``email`` without ``user_id`` marks a login for an unknown email
    (it can only fail). ``client`` is who asked (an IPv4 address or an IPv6 /64), for the
    per-client cap on pending challenges.
    """

    __tablename__ = "webauthn_challenges"

    challenge: Mapped[bytes] = mapped_column(LargeBinary(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE")
    )
    email: Mapped[str | None] = mapped_column(String(254))
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    client: Mapped[str | None] = mapped_column(String(64), index=True)
    session: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RefreshToken(Base):
    """One refresh token, stored as the SHA-256 of its opaque value.

    A login starts a family; every use marks the row used and adds the next row of the same
    family; presenting a used (or revoked) token revokes the whole family (reuse detection).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = id_column()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RevokedToken(Base):
    """A revoked access-token ``jti``, or ``family:<id>`` for every access token of a login
    family; kept until the last token it can match has expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PersonalAccessToken(Base):
    """A named, long-lived bearer credential for scripts, stored as the SHA-256 of its secret.

    ``hint`` is the secret's last four characters, so its owner can tell tokens apart in a
    list without the secret ever being stored. A revoked row keeps ``revoked_at`` (its use is
    answered "revoked", not "invalid"); ``last_used_at`` is refreshed at most once a minute.
    """

    __tablename__ = "personal_access_tokens"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
