"""Auth failures: a ``DomainError`` with constructors that add the right headers.

401s carry ``WWW-Authenticate: Bearer`` (RFC 6750) and 429s ``Retry-After``; the app's error
layer renders them as ``{"detail", "code"}`` JSON like every other error.
"""

from __future__ import annotations

from app.errors import DomainError

__all__ = ["BEARER_CHALLENGE", "AuthError"]

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class AuthError(DomainError):
    """A client-caused auth failure (never a 500)."""

    @classmethod
    def bad_request(cls, code: str, detail: str) -> AuthError:
        return cls(400, code, detail)

    @classmethod
    def unauthorized(cls, code: str, detail: str) -> AuthError:
        return cls(401, code, detail, headers=dict(BEARER_CHALLENGE))

    @classmethod
    def too_many(cls, detail: str, retry_after_s: int) -> AuthError:
        return cls(429, "rate_limited", detail, headers={"Retry-After": str(max(1, retry_after_s))})
