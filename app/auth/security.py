"""Bearer auth: every route needs an access token or a personal access token unless public.

Public routes opt out with ``opt={"exclude_from_auth": True}`` (the ``PUBLIC`` constant).
The JWT's user and its revocation are both read from the database on every request, so a
logout, or an account deleted, on one worker takes effect on all of them at once.

The same middleware accepts a personal access token (``sca_pat_…``, see
:mod:`app.auth.personal_tokens`) wherever it accepts an access JWT: ``request.user`` is the
token's owner and ``request.auth`` a :class:`PersonalTokenAuth`. Account management (tokens,
passkeys, sign-out) is guarded by :func:`interactive_login_only`, so a leaked script token
cannot mint more tokens or add a passkey of its own.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.errors import BEARER_CHALLENGE, PersonalTokenNotAllowed
from app.auth.models import User
from app.auth.personal_tokens import (
    PersonalTokenAuth,
    PersonalTokenRejected,
    PersonalTokenService,
    looks_like_personal_token,
)
from app.auth.tokens import REQUIRED_CLAIMS, AccessToken, TokenService, bound_engine
from app.errors import error_response
from app.settings import AuthSettings

__all__ = [
    "EXCLUDE_OPT_KEY",
    "NO_AUTH",
    "OPTIONAL_AUTH",
    "PUBLIC",
    "AuthUser",
    "UserDirectory",
    "build_jwt_auth",
    "interactive_login_only",
    "not_authorized_handler",
]

EXCLUDE_OPT_KEY = "exclude_from_auth"
PUBLIC: dict[str, Any] = {EXCLUDE_OPT_KEY: True}
# The OpenAPI ``security`` of a public operation: one empty requirement overrides the
# document's global bearer requirement, so Swagger UI and generated clients send no token.
NO_AUTH: list[SecurityRequirement] = [{}]
# A public operation that also accepts an access token (``register/begin`` adds a passkey
# for the signed-in user; a run's events take a bearer token or a ``?ticket=``).
OPTIONAL_AUTH: list[SecurityRequirement] = [{"BearerToken": []}, {}]


class AuthUser(msgspec.Struct, frozen=True):
    """``request.user`` on every authenticated route."""

    id: str
    email: str


class TokenRevoked(NotAuthorizedException):
    """401 for a token that decoded fine but was logged out (or its login family revoked)."""


class AccountGone(NotAuthorizedException):
    """401 for a valid token whose account was deleted since it was issued."""


class UserDirectory:
    """Id -> user, read from the database on every call.

    Deliberately uncached: a process-local cache kept serving a deleted account's token on
    every worker that had seen it, and invalidating it on every worker would need a
    broadcast. One primary-key lookup per request is cheap next to the revocation query the
    middleware already makes (see BENCHMARKS.md, "auth").
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = bound_engine(sessions)

    async def get(self, user_id: str) -> AuthUser | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(User.id, User.email).where(User.id == user_id))
            ).one_or_none()
        return None if row is None else AuthUser(id=row[0], email=row[1])


class _BearerJWTAuth(JWTAuth[AuthUser, AccessToken]):
    """Litestar's ``JWTAuth`` with a valid OpenAPI 3.1 security scheme.

    Litestar 2.25 puts ``name: Authorization`` on its ``type: http`` scheme, which OpenAPI
    allows only for ``apiKey`` schemes (litestar-org/litestar#3642); the header of an
    ``http`` bearer scheme is implied.
    """

    @property
    def openapi_components(self) -> Components:
        scheme = SecurityScheme(
            type="http", scheme="Bearer", bearer_format="JWT", description=self.description
        )
        return Components(security_schemes={self.openapi_security_scheme_name: scheme})


def interactive_login_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of account management: a passkey sign-in's access token, not a script's PAT.

    Reads the scope, not ``connection.auth``: an ``OPTIONS`` request is not authenticated
    (the middleware skips it), and must get its ``Allow`` answer, not a 500."""
    if isinstance(connection.scope.get("auth"), PersonalTokenAuth):
        raise PersonalTokenNotAllowed


def build_jwt_auth(
    settings: AuthSettings,
    tokens: TokenService,
    users: UserDirectory,
    personal_tokens: PersonalTokenService,
) -> JWTAuth[AuthUser, AccessToken]:
    """The app-wide bearer middleware config: access JWTs (alg pinned, iss/aud/typ checked,
    revocation) and personal access tokens (looked up in the database)."""

    class BearerMiddleware(JWTAuthenticationMiddleware):
        async def authenticate_token(
            self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
        ) -> AuthenticationResult:
            if not looks_like_personal_token(encoded_token):
                return await super().authenticate_token(encoded_token, connection)
            auth, email = await personal_tokens.authenticate(encoded_token)
            return AuthenticationResult(user=AuthUser(id=auth.user_id, email=email), auth=auth)

    async def retrieve_user(token: AccessToken, _: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
        user = await users.get(token.sub)
        if user is None:
            raise AccountGone("Account no longer exists")
        return user

    async def is_revoked(token: AccessToken, _: ASGIConnection[Any, Any, Any, Any]) -> bool:
        if await tokens.is_revoked(token):
            raise TokenRevoked("Token has been revoked (signed out)")
        return False

    return _BearerJWTAuth(
        token_secret=tokens.verify_key,
        algorithm=tokens.algorithm,
        token_cls=AccessToken,
        retrieve_user_handler=retrieve_user,
        revoked_token_handler=is_revoked,
        accepted_issuers=[settings.jwt_issuer],
        accepted_audiences=[settings.jwt_audience],
        strict_audience=True,
        require_claims=list(REQUIRED_CLAIMS),
        exclude_opt_key=EXCLUDE_OPT_KEY,
        # Only CORS preflights skip auth (Litestar's default also skips HEAD).
        exclude_http_methods=["OPTIONS"],
        description="Access token from POST /auth/login/complete, or a personal access token "
        "(sca_pat_…) from POST /auth/tokens or `python -m app token create` "
        "(Authorization: Bearer …)",
        authentication_middleware_class=BearerMiddleware,
    )


def not_authorized_handler(
    _: Request[Any, Any, Any], exc: NotAuthorizedException
) -> Response[dict[str, Any]]:
    """Every 401 says ``WWW-Authenticate: Bearer`` (RFC 6750) and has a stable code."""
    code = "not_authenticated"
    if isinstance(exc, TokenRevoked):
        code = "token_revoked"
    elif isinstance(exc, AccountGone):
        code = "unknown_user"
    elif isinstance(exc, PersonalTokenRejected):
        code = exc.code
    detail = exc.detail
    if detail in ("", "Unauthorized"):
        detail = "Authentication required: send Authorization: Bearer <access token>"
    return error_response(401, code, detail, headers={**(exc.headers or {}), **BEARER_CHALLENGE})
