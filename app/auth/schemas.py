"""Request and response bodies of the ``/auth`` endpoints (shapes from the API contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from app.auth.personal_tokens import (
    DEFAULT_EXPIRY_DAYS,
    MAX_EXPIRY_DAYS,
    NAME_MAX_LENGTH,
    PersonalTokenInfo,
)

__all__ = [
    "EMAIL_MAX_LENGTH",
    "EMAIL_MIN_LENGTH",
    "EMAIL_PATTERN",
    "CreateTokenRequest",
    "CredentialList",
    "CredentialOut",
    "EmailRequest",
    "LoginResult",
    "MeOut",
    "MessageOut",
    "RefreshRequest",
    "RegistrationResult",
    "RenameCredentialRequest",
    "TokenList",
    "TokenResult",
    "UserOut",
]

EMAIL_MIN_LENGTH = 3
EMAIL_MAX_LENGTH = 254
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
Email = Annotated[
    str,
    msgspec.Meta(min_length=EMAIL_MIN_LENGTH, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN),
]


# The ceremony and refresh bodies come from the predecessor's clients (pydantic models that
# ignored extra keys), so extra fields are tolerated there; newer endpoints are strict.
class EmailRequest(msgspec.Struct, frozen=True):
    email: Email


class RefreshRequest(msgspec.Struct, frozen=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class RenameCredentialRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class MessageOut(msgspec.Struct, frozen=True):
    message: str


class RegistrationResult(msgspec.Struct, frozen=True):
    message: str
    user_id: str
    credential_id: str


class UserOut(msgspec.Struct, frozen=True):
    id: str
    email: str


class LoginResult(msgspec.Struct, frozen=True):
    message: str
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    user: UserOut


class TokenResult(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class MeOut(msgspec.Struct, frozen=True):
    id: str
    email: str
    created_at: datetime
    credential_count: int


class CredentialOut(msgspec.Struct, frozen=True):
    """A passkey as its owner sees it (``id`` is the API id used in URLs)."""

    id: str
    name: str
    credential_id: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]
    aaguid: str
    device_type: str
    backed_up: bool


class CredentialList(msgspec.Struct, frozen=True):
    credentials: list[CredentialOut]


class CreateTokenRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /auth/tokens``: a name to recognise the token by, and its lifetime in days."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX_LENGTH)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_EXPIRY_DAYS)] = DEFAULT_EXPIRY_DAYS


class TokenList(msgspec.Struct, frozen=True):
    tokens: list[PersonalTokenInfo]
