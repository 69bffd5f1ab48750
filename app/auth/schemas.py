"""Request and response bodies of the ``/auth`` endpoints (shapes from the API contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Body

from app.auth.personal_tokens import (
    DEFAULT_EXPIRY_DAYS,
    MAX_EXPIRY_DAYS,
    NAME_MAX_LENGTH,
    PersonalTokenInfo,
)
from app.patterns import NON_BLANK, fullmatch

__all__ = [
    "AUTHENTICATION_CREDENTIAL_SCHEMA",
    "EMAIL_MAX_LENGTH",
    "EMAIL_MIN_LENGTH",
    "EMAIL_PATTERN",
    "REGISTRATION_CREDENTIAL_SCHEMA",
    "AuthenticationCredentialBody",
    "CreateTokenRequest",
    "CredentialList",
    "CredentialOut",
    "EmailRequest",
    "LoginResult",
    "MeOut",
    "MessageOut",
    "RefreshRequest",
    "RegistrationCredentialBody",
    "RegistrationResult",
    "RenameCredentialRequest",
    "TokenList",
    "TokenResult",
    "UserOut",
]

EMAIL_MIN_LENGTH = 3
EMAIL_MAX_LENGTH = 254
# One "@" between two runs of anything but "@", whitespace and control characters, spelled
# out so that Python and the document's ECMAScript readers agree (see app.patterns).
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = f"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+$"
Email = Annotated[
    str,
    msgspec.Meta(min_length=EMAIL_MIN_LENGTH, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN),
]


# The ceremony and refresh bodies come from the predecessor's clients (pydantic models that
# ignored extra keys), so extra fields are tolerated there; newer endpoints are strict.
class EmailRequest(msgspec.Struct, frozen=True):
    email: Email

    def __post_init__(self) -> None:
        # msgspec checks ``pattern`` with ``re.search``, whose ``$`` also matches before a
        # final newline; the documented (ECMAScript) pattern does not.
        if not fullmatch(EMAIL_PATTERN, self.email):
            msg = "Expected an email address: one @, no spaces or control characters"
            raise ValueError(msg)


class RefreshRequest(msgspec.Struct, frozen=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


# A name must not be blank; the service says so with its own code (``invalid_name``), so
# that is documented here, not enforced by the decoder.
_NOT_BLANK = {"extra": {"pattern": NON_BLANK}}


class RenameCredentialRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, extra_json_schema=_NOT_BLANK)]


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

    name: Annotated[
        str, msgspec.Meta(min_length=1, max_length=NAME_MAX_LENGTH, extra_json_schema=_NOT_BLANK)
    ]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_EXPIRY_DAYS)] = DEFAULT_EXPIRY_DAYS


class TokenList(msgspec.Struct, frozen=True):
    tokens: list[PersonalTokenInfo]


def _strings(*names: str) -> dict[str, Schema]:
    return {name: Schema(type=OpenAPIType.STRING, min_length=1) for name in names}


def _credential_body(response_fields: tuple[str, ...], optional: dict[str, Schema]) -> Schema:
    """The WebAuthn ``PublicKeyCredential`` JSON a browser sends (``toJSON()``): binary fields
    base64url-encoded. Extra keys are tolerated, as the predecessor's clients send them."""
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["id", "rawId", "response", "type"],
        properties={
            **_strings("id", "rawId"),
            "type": Schema(type=OpenAPIType.STRING, const="public-key"),
            "response": Schema(
                type=OpenAPIType.OBJECT,
                required=list(response_fields),
                properties={**_strings(*response_fields), **optional},
            ),
            "authenticatorAttachment": Schema(
                one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]
            ),
            "clientExtensionResults": Schema(type=OpenAPIType.OBJECT),
        },
    )


# The request bodies of the ceremonies' ``complete`` endpoints, for the OpenAPI document
# (py_webauthn parses them; the handlers take the raw object).
REGISTRATION_CREDENTIAL_SCHEMA: Final = _credential_body(
    ("clientDataJSON", "attestationObject"),
    {"transports": Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))},
)
AUTHENTICATION_CREDENTIAL_SCHEMA: Final = _credential_body(
    ("clientDataJSON", "authenticatorData", "signature"),
    {"userHandle": Schema(one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)])},
)
RegistrationCredentialBody = Annotated[
    dict[str, Any],
    Body(
        media_type=RequestEncodingType.JSON,
        schema_extra={
            "required": REGISTRATION_CREDENTIAL_SCHEMA.required,
            "properties": REGISTRATION_CREDENTIAL_SCHEMA.properties,
        },
    ),
]
AuthenticationCredentialBody = Annotated[
    dict[str, Any],
    Body(
        media_type=RequestEncodingType.JSON,
        schema_extra={
            "required": AUTHENTICATION_CREDENTIAL_SCHEMA.required,
            "properties": AUTHENTICATION_CREDENTIAL_SCHEMA.properties,
        },
    ),
]
