"""Auth failures: one :class:`AuthError` subclass per failure a client may handle.

Each class carries its status, stable ``code``, usual ``detail`` and when it happens
(:class:`app.errors.AppError`), so the passkey ceremonies, tokens and account routes raise
classes rather than spelling codes, and ``except AuthError`` still catches every one of them
(the token CLI does). 401s carry ``WWW-Authenticate: Bearer`` (RFC 6750) and 429s
``Retry-After``; the app's error layer renders them as ``{"detail", "code"}`` JSON like every
other error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.errors import AppError

__all__ = [
    "BEARER_CHALLENGE",
    "AuthError",
    "AuthenticationFailed",
    "ChallengeExpired",
    "ChallengeInvalid",
    "ChallengeNotYours",
    "ChallengeWrongCeremony",
    "CredentialExists",
    "CredentialNotFound",
    "InvalidAuthRequest",
    "InvalidExpiry",
    "InvalidName",
    "InvalidRefreshToken",
    "LastCredential",
    "MalformedCredential",
    "PersonalTokenNotAllowed",
    "RateLimited",
    "RefreshTokenExpired",
    "RefreshTokenReused",
    "RegistrationFailed",
    "SignCountRegression",
    "TokenNotFound",
    "TooManyTokens",
    "UnknownUser",
]

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class AuthError(AppError):
    """A client-caused auth failure (never a 500); a 401 carries the Bearer challenge."""

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        if headers is None and type(self).status == 401:
            headers = dict(BEARER_CHALLENGE)
        super().__init__(detail, headers=headers, **extra)


# -- 400: a ceremony or request that cannot succeed as sent ---------------------------------


class InvalidAuthRequest(AuthError):
    """A sign-in request body that is JSON but not the expected object or email."""

    status = 400
    code = "validation_error"
    detail = "Invalid request."
    when: ClassVar[str] = "An invalid sign-in request body"


class MalformedCredential(AuthError):
    """The passkey response (or its clientDataJSON) cannot be parsed."""

    status = 400
    code = "malformed_credential"
    detail = "The passkey response is malformed."
    when: ClassVar[str] = "A malformed passkey response"


class ChallengeInvalid(AuthError):
    """The challenge is unknown, already used, or carries no account to create."""

    status = 400
    code = "challenge_invalid"
    detail = "Unknown or already used challenge: start the ceremony again"
    when: ClassVar[str] = "An unknown or already used challenge"


class ChallengeExpired(AuthError):
    status = 400
    code = "challenge_expired"
    detail = "Challenge expired: start the ceremony again"
    when: ClassVar[str] = "An expired challenge"


class ChallengeWrongCeremony(AuthError):
    """A challenge issued for another ceremony (``detail`` names both)."""

    status = 400
    code = "challenge_wrong_ceremony"
    detail = "Challenge was issued for another ceremony."
    when: ClassVar[str] = "A challenge of another ceremony"


class RegistrationFailed(AuthError):
    """The attestation failed verification, or the email cannot be registered (the same
    answer, so an email's account is not disclosed)."""

    status = 400
    code = "registration_failed"
    detail = "Registration failed."
    when: ClassVar[str] = "A failed passkey registration or a refused email"


class AuthenticationFailed(AuthError):
    """The assertion failed verification, or names no passkey of an account."""

    status = 400
    code = "authentication_failed"
    detail = "Authentication failed."
    when: ClassVar[str] = "A failed passkey sign-in"


class SignCountRegression(AuthError):
    """The passkey's signature counter did not increase (possibly a cloned authenticator)."""

    status = 400
    code = "sign_count_regression"
    detail = (
        "Authentication refused: the passkey's signature counter (sign count) did not "
        "increase (possibly a cloned authenticator)"
    )
    when: ClassVar[str] = "The passkey's signature counter did not increase"


class InvalidName(AuthError):
    """A blank or too long passkey or token name."""

    status = 400
    code = "invalid_name"
    detail = "Invalid name."
    when: ClassVar[str] = "A blank or too long name"


class InvalidExpiry(AuthError):
    """A personal token lifetime outside the allowed days."""

    status = 400
    code = "invalid_expiry"
    detail = "Invalid token lifetime."
    when: ClassVar[str] = "A token lifetime outside the allowed days"


# -- 401: the credential presented is not (or no longer) good -------------------------------


class InvalidRefreshToken(AuthError):
    status = 401
    code = "invalid_refresh_token"
    detail = "Invalid refresh token"
    when: ClassVar[str] = "A missing or invalid refresh token"


class RefreshTokenExpired(AuthError):
    status = 401
    code = "refresh_token_expired"
    detail = "Refresh token expired"
    when: ClassVar[str] = "An expired refresh token"


class RefreshTokenReused(AuthError):
    """A rotated or revoked refresh token came back: its whole login is signed out."""

    status = 401
    code = "refresh_token_reused"
    detail = "Refresh token was already used or revoked; this login was signed out"
    when: ClassVar[str] = "A reused refresh token"


class UnknownUser(AuthError):
    """The signed-in account was deleted meanwhile (also when a run was being created)."""

    status = 401
    code = "unknown_user"
    detail = "Account no longer exists"
    when: ClassVar[str] = "The account no longer exists"


# -- 403: the caller may not do this --------------------------------------------------------


class ChallengeNotYours(AuthError):
    status = 403
    code = "challenge_not_yours"
    detail = "This challenge was not issued to this sign-in."
    when: ClassVar[str] = "A challenge issued to another sign-in"


class PersonalTokenNotAllowed(AuthError):
    """Account management called with a personal access token instead of a passkey login."""

    status = 403
    code = "personal_token_not_allowed"
    detail = (
        "A personal access token cannot manage tokens, passkeys or sign-outs: "
        "sign in with a passkey (the /client page) to do this"
    )
    when: ClassVar[str] = (
        "Called with a personal access token: sign in with a passkey to manage the account"
    )


# -- 404 / 409: the account's passkeys and tokens -------------------------------------------


class CredentialNotFound(AuthError):
    status = 404
    code = "credential_not_found"
    detail = "No such passkey on your account"
    when: ClassVar[str] = "No such passkey on your account"


class TokenNotFound(AuthError):
    status = 404
    code = "token_not_found"
    detail = "No such token on your account"
    when: ClassVar[str] = "No such token on your account"


class CredentialExists(AuthError):
    status = 409
    code = "credential_exists"
    detail = "This passkey is already registered"
    when: ClassVar[str] = "This passkey is already registered"


class LastCredential(AuthError):
    status = 409
    code = "last_credential"
    detail = "Cannot delete your only passkey: add another one first"
    when: ClassVar[str] = "Cannot delete your only passkey: add another one first"


class TooManyTokens(AuthError):
    status = 409
    code = "too_many_tokens"
    detail = "Too many active tokens: revoke one first"
    when: ClassVar[str] = "The account has its maximum of active tokens"


# -- 429 -------------------------------------------------------------------------------------


class RateLimited(AuthError):
    """Too many sign-in requests or pending challenges; ``Retry-After`` says how long."""

    status = 429
    code = "rate_limited"
    detail = "Too many sign-in requests."
    when: ClassVar[str] = "Too many sign-in requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})
