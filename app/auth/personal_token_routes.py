"""``/auth/tokens``: the signed-in user creates, lists and revokes personal access tokens.

Only a passkey sign-in (an access JWT) may manage tokens: a personal access token is refused
with 403 ``personal_token_not_allowed``, so a leaked token cannot mint its own successors.
The secret is in the creation response only; lists show a four-character hint.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.auth.errors import (
    InvalidExpiry,
    InvalidName,
    PersonalTokenNotAllowed,
    TokenNotFound,
    TooManyTokens,
)
from app.auth.personal_tokens import MAX_ACTIVE_TOKENS, MAX_EXPIRY_DAYS, CreatedPersonalToken
from app.auth.ratelimit import RATE_LIMIT_OPT
from app.auth.schemas import CreateTokenRequest, MessageOut, TokenList
from app.auth.security import AuthUser, interactive_login_only
from app.auth.services import AuthServices
from app.errors import MalformedJson
from app.openapi_errors import BAD_PARAMETER, error_responses
from app.request_body import require_json

__all__ = ["PersonalTokensController"]

# Hand-written texts, each followed by the classes it names (error_responses appends a class
# whose code the text stops naming, so the two cannot drift apart).
_PAT_REFUSED = (
    (
        403,
        "Called with a personal access token: sign in with a passkey to manage tokens "
        "(`personal_token_not_allowed`)",
    ),
    PersonalTokenNotAllowed,
)
_NO_TOKEN = ((404, "No such active token on your account (`token_not_found`)"), TokenNotFound)


class PersonalTokensController(Controller):
    """Personal access tokens of the signed-in user."""

    path = "/auth/tokens"
    tags = ["auth"]
    guards = [interactive_login_only]

    @post(
        "/",
        status_code=201,
        guards=[require_json],
        opt={RATE_LIMIT_OPT: True},
        summary="Create a personal access token (the secret is shown once)",
        description="The `token` (`sca_pat_…`) works as `Authorization: Bearer` wherever an "
        "access token does, except for managing tokens, passkeys and sign-out. "
        f"`expires_in_days` is 1..{MAX_EXPIRY_DAYS} (default 30); at most "
        f"{MAX_ACTIVE_TOKENS} active tokens per user.",
        responses=error_responses(
            (
                400,
                "Malformed JSON, invalid fields, a blank name or an expiry out of bounds "
                "(`malformed_json`, `validation_error`, `invalid_name`, `invalid_expiry`)",
            ),
            MalformedJson,
            InvalidName,
            InvalidExpiry,
            401,
            *_PAT_REFUSED,
            (409, f"Already {MAX_ACTIVE_TOKENS} active tokens: revoke one (`too_many_tokens`)"),
            TooManyTokens,
            413,
            415,
            429,
        ),
    )
    async def create_token(
        self,
        request: Request[AuthUser, Any, Any],
        data: JSONBody[CreateTokenRequest],
        auth_services: NamedDependency[AuthServices],
    ) -> CreatedPersonalToken:
        return await auth_services.personal_tokens.create(
            request.user.id, data.name, data.expires_in_days
        )

    @get(
        "/",
        summary="List my personal access tokens (never their secrets)",
        responses=error_responses(401, *_PAT_REFUSED),
    )
    async def list_tokens(
        self, request: Request[AuthUser, Any, Any], auth_services: NamedDependency[AuthServices]
    ) -> TokenList:
        return TokenList(tokens=await auth_services.personal_tokens.list(request.user.id))

    @delete(
        "/{token_id:str}",
        status_code=200,
        summary="Revoke one of my personal access tokens, on every worker at once",
        responses=error_responses(BAD_PARAMETER, 401, *_PAT_REFUSED, *_NO_TOKEN),
    )
    async def revoke_token(
        self,
        request: Request[AuthUser, Any, Any],
        token_id: FromPath[str],
        auth_services: NamedDependency[AuthServices],
    ) -> MessageOut:
        await auth_services.personal_tokens.revoke(request.user.id, token_id)
        return MessageOut(message="Token revoked")
