"""The ``/auth`` HTTP endpoints (shapes from the API contract; ceremonies answer 200)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Router, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import FromHeader, FromPath, JSONBody

from app.auth.ceremonies import SignedIn
from app.auth.clients import client_key
from app.auth.errors import (
    AuthenticationFailed,
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeNotYours,
    ChallengeWrongCeremony,
    CredentialExists,
    CredentialNotFound,
    InvalidAuthRequest,
    InvalidName,
    InvalidRefreshToken,
    LastCredential,
    MalformedCredential,
    PersonalTokenNotAllowed,
    RefreshTokenExpired,
    RefreshTokenReused,
    RegistrationFailed,
    SignCountRegression,
    UnknownUser,
)
from app.auth.personal_token_routes import PersonalTokensController
from app.auth.ratelimit import RATE_LIMIT_OPT
from app.auth.schemas import (
    EMAIL_MAX_LENGTH,
    EMAIL_MIN_LENGTH,
    EMAIL_PATTERN,
    AuthenticationCredentialBody,
    CredentialList,
    CredentialOut,
    EmailRequest,
    LoginResult,
    MeOut,
    MessageOut,
    RefreshRequest,
    RegistrationCredentialBody,
    RegistrationResult,
    RenameCredentialRequest,
    TokenResult,
    UserOut,
)
from app.auth.security import (
    NO_AUTH,
    OPTIONAL_AUTH,
    PUBLIC,
    AuthUser,
    interactive_login_only,
)
from app.auth.services import AuthServices, get_auth_services
from app.auth.tokens import AccessToken, IssuedTokens, family_key
from app.errors import MalformedJson, NotAuthenticated
from app.openapi_errors import BAD_PARAMETER, ErrorHeadersOperation, error_responses
from app.request_body import decode_json_body, require_json, require_json_if_body
from app.state import get_settings

__all__ = ["CEREMONY_MAX_BODY_BYTES", "AuthController", "CredentialsController", "auth_router"]

# A WebAuthn response is a few KiB at most (RSA keys, attestation certificates included).
CEREMONY_MAX_BODY_BYTES = 65_536
_CEREMONY: dict[str, Any] = {**PUBLIC, RATE_LIMIT_OPT: True}
TOKEN_TYPE = "bearer"  # noqa: S105 - the OAuth token type name, not a secret

# Error responses the OpenAPI document declares for the ceremonies and refresh endpoints.
_CHALLENGE_CODES = (
    "`malformed_credential`, `challenge_invalid`, `challenge_expired`, `challenge_wrong_ceremony`"
)
# The classes after a hand-written text are named in it; listing them keeps it honest (a
# renamed code is appended by error_responses instead of drifting).
_CHALLENGE_ERRORS = (
    MalformedCredential,
    ChallengeInvalid,
    ChallengeExpired,
    ChallengeWrongCeremony,
)
_REGISTRATION_400 = (
    (
        400,
        "Malformed JSON or passkey response, an unknown, used or expired challenge, a "
        "challenge of another ceremony, or a failed verification or refused email "
        f"(`malformed_json`, `validation_error`, {_CHALLENGE_CODES}, `registration_failed`)",
    ),
    MalformedJson,
    InvalidAuthRequest,
    *_CHALLENGE_ERRORS,
    RegistrationFailed,
)
_REFRESH_401 = (
    (
        401,
        "Missing, invalid, expired or reused refresh token "
        "(`invalid_refresh_token`, `refresh_token_expired`, `refresh_token_reused`)",
    ),
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReused,
)

AuthedRequest = Request[AuthUser, AccessToken, Any]


def _token_result(issued: IssuedTokens) -> TokenResult:
    return TokenResult(
        access_token=issued.access_token,
        token_type=TOKEN_TYPE,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


def _client(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The per-client limit key: the peer's IPv4 address or IPv6 /64."""
    return client_key(connection.client.host if connection.client else None)


def _signed_in(request: AuthedRequest) -> SignedIn:
    """The caller of an account route as a ceremony owner: user and login family."""
    token = request.auth
    if not isinstance(token, AccessToken):  # interactive_login_only refuses the rest
        raise NotAuthenticated("Sign in with a passkey first")
    return SignedIn(user_id=request.user.id, session=family_key(token.sid))


async def rate_limit_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Count requests to handlers marked ``auth_rate_limited`` per client."""
    if handler.opt.get(RATE_LIMIT_OPT):
        await get_auth_services(connection.app.state).limiter.check(_client(connection))


def _login_email(body: bytes, max_json_depth: int) -> str | None:
    """``{"email": …}`` → that email; ``{}``, ``{"email": null}`` or no body → None (a body
    of whitespace only is not JSON: 400).

    Any other email value, the empty string included, must be a valid email (400 otherwise),
    as the OpenAPI document says. Other keys are ignored, as the predecessor's clients may
    send them."""
    if not body:
        return None
    data = decode_json_body(body, max_json_depth)
    if not isinstance(data, dict):
        raise InvalidAuthRequest("Invalid request: the body must be a JSON object")
    email = data.get("email")
    if email is None:
        return None
    try:
        return msgspec.convert({"email": email}, EmailRequest).email
    except msgspec.ValidationError as exc:
        raise InvalidAuthRequest(f"Invalid request: {exc}") from exc


# ``login/begin`` reads its own body (none, ``{}`` and ``{"email": null}`` all mean
# usernameless), so Litestar cannot derive the request schema from a ``data`` parameter.
_LOGIN_BEGIN_BODY = RequestBody(
    required=False,
    description='`{"email": …}` for that account\'s passkeys; `{}`, `{"email": null}` or no '
    "body for a usernameless (discoverable) sign-in. Other keys are ignored.",
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "email": Schema(
                        one_of=[
                            Schema(
                                type=OpenAPIType.STRING,
                                min_length=EMAIL_MIN_LENGTH,
                                max_length=EMAIL_MAX_LENGTH,
                                pattern=EMAIL_PATTERN,
                            ),
                            Schema(type=OpenAPIType.NULL),
                        ]
                    )
                },
            )
        )
    },
)


@dataclass
class _LoginBeginOperation(ErrorHeadersOperation):
    """The ``login/begin`` operation, with its optional request body documented."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = _LOGIN_BEGIN_BODY


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/register/begin",
        status_code=200,
        guards=[require_json],
        opt=_CEREMONY,
        security=OPTIONAL_AUTH,
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary="Start passkey registration: WebAuthn creation options",
        responses=error_responses(
            (400, "Malformed JSON or an invalid email (`malformed_json`, `validation_error`)"),
            MalformedJson,
            413,
            415,
            429,
        ),
    )
    async def register_begin(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EmailRequest],
        auth_services: NamedDependency[AuthServices],
        authorization: FromHeader[str | None] = None,
    ) -> dict[str, Any]:
        await auth_services.check_account_limit(data.email)
        token = await auth_services.bearer_access(authorization)
        signed_in = (
            None if token is None else SignedIn(user_id=token.sub, session=family_key(token.sid))
        )
        return await auth_services.ceremonies.registration_options(
            data.email, client=_client(request), signed_in=signed_in
        )

    @post(
        "/register/complete",
        status_code=200,
        guards=[require_json],
        opt=_CEREMONY,
        security=NO_AUTH,
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary="Finish passkey registration with the browser's RegistrationResponseJSON",
        responses=error_responses(
            *_REGISTRATION_400,
            (401, "The account the ceremony was started for no longer exists (`unknown_user`)"),
            UnknownUser,
            CredentialExists,
            413,
            415,
            429,
        ),
    )
    async def register_complete(
        self,
        data: RegistrationCredentialBody,
        auth_services: NamedDependency[AuthServices],
    ) -> RegistrationResult:
        result = await auth_services.ceremonies.complete_registration(data)
        return RegistrationResult(
            message="Registration successful",
            user_id=result.user_id,
            credential_id=result.credential_id,
        )

    @post(
        "/login/begin",
        status_code=200,
        guards=[require_json_if_body],
        opt=_CEREMONY,
        security=NO_AUTH,
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        operation_class=_LoginBeginOperation,
        summary="Start passkey sign-in: request options ({} for usernameless)",
        responses=error_responses(
            (
                400,
                "The body is not JSON, not an object, or the email is invalid "
                "(`malformed_json`, `validation_error`)",
            ),
            MalformedJson,
            InvalidAuthRequest,
            413,
            (
                415,
                "A body was sent that is not application/json (no body at all is fine) "
                "(`unsupported_media_type`)",
            ),
            429,
        ),
    )
    async def login_begin(
        self, request: Request[Any, Any, Any], auth_services: NamedDependency[AuthServices]
    ) -> dict[str, Any]:
        depth = get_settings(request.app.state).server.max_json_depth
        email = _login_email(await request.body(), depth)
        if email is not None:
            await auth_services.check_account_limit(email)
        return await auth_services.ceremonies.authentication_options(email, client=_client(request))

    @post(
        "/login/complete",
        status_code=200,
        guards=[require_json],
        opt=_CEREMONY,
        security=NO_AUTH,
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary="Finish sign-in with the browser's AuthenticationResponseJSON; issues tokens",
        responses=error_responses(
            (
                400,
                "Malformed JSON or passkey response, an unknown, used or expired challenge, "
                f"or sign-in refused (`malformed_json`, `validation_error`, {_CHALLENGE_CODES}, "
                "`authentication_failed`, `sign_count_regression`)",
            ),
            MalformedJson,
            *_CHALLENGE_ERRORS,
            AuthenticationFailed,
            SignCountRegression,
            413,
            415,
            429,
        ),
    )
    async def login_complete(
        self,
        data: AuthenticationCredentialBody,
        auth_services: NamedDependency[AuthServices],
    ) -> LoginResult:
        user = await auth_services.ceremonies.complete_authentication(data)
        issued = await auth_services.tokens.issue(user.id)
        return LoginResult(
            message="Authentication successful",
            access_token=issued.access_token,
            token_type=TOKEN_TYPE,
            expires_in=issued.expires_in,
            refresh_token=issued.refresh_token,
            user=UserOut(id=user.id, email=user.email),
        )

    @post(
        "/logout",
        status_code=200,
        guards=[interactive_login_only],
        summary="Revoke this access token and its login",
        responses=error_responses(401, PersonalTokenNotAllowed),
    )
    async def logout(
        self, request: AuthedRequest, auth_services: NamedDependency[AuthServices]
    ) -> MessageOut:
        await auth_services.tokens.logout(request.auth)
        return MessageOut(message="Logged out successfully")

    @get("/me", summary="The signed-in user", responses=error_responses(401))
    async def me(
        self, request: AuthedRequest, auth_services: NamedDependency[AuthServices]
    ) -> MeOut:
        return await auth_services.credentials.me(request.user.id)

    @get(
        "/refresh-token",
        opt=_CEREMONY,
        security=NO_AUTH,
        summary="Rotate a refresh token sent as Authorization: Bearer <refresh token>",
        responses=error_responses(BAD_PARAMETER, *_REFRESH_401, 429),
    )
    async def refresh_from_header(
        self,
        auth_services: NamedDependency[AuthServices],
        authorization: FromHeader[str | None] = None,
    ) -> TokenResult:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidRefreshToken("Send the refresh token as Authorization: Bearer <token>")
        return _token_result(await auth_services.tokens.rotate(value.strip()))

    @post(
        "/refresh-token",
        status_code=200,
        guards=[require_json],
        opt=_CEREMONY,
        security=NO_AUTH,
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary='Rotate a refresh token sent as {"refresh_token": …}',
        responses=error_responses(400, *_REFRESH_401, 413, 415, 429),
    )
    async def refresh_from_body(
        self, data: JSONBody[RefreshRequest], auth_services: NamedDependency[AuthServices]
    ) -> TokenResult:
        return _token_result(await auth_services.tokens.rotate(data.refresh_token))


class CredentialsController(Controller):
    """The signed-in user's passkeys (not with a personal access token)."""

    path = "/auth/credentials"
    tags = ["auth"]
    guards = [interactive_login_only]

    @get("/", summary="List my passkeys", responses=error_responses(401, PersonalTokenNotAllowed))
    async def list_credentials(
        self, request: AuthedRequest, auth_services: NamedDependency[AuthServices]
    ) -> CredentialList:
        return CredentialList(credentials=await auth_services.credentials.list(request.user.id))

    @post(
        "/begin",
        status_code=200,
        opt={RATE_LIMIT_OPT: True},
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary="Start adding a passkey to my account: creation options",
        responses=error_responses(401, PersonalTokenNotAllowed, 429),
    )
    async def add_begin(
        self, request: AuthedRequest, auth_services: NamedDependency[AuthServices]
    ) -> dict[str, Any]:
        return await auth_services.ceremonies.add_credential_options(
            _signed_in(request), client=_client(request)
        )

    @post(
        "/complete",
        status_code=200,
        guards=[require_json],
        opt={RATE_LIMIT_OPT: True},
        request_max_body_size=CEREMONY_MAX_BODY_BYTES,
        summary="Finish adding a passkey with the browser's RegistrationResponseJSON",
        responses=error_responses(
            *_REGISTRATION_400,
            401,
            (
                403,
                "The ceremony was started by another user or another sign-in "
                "(`challenge_not_yours`), or the "
                "call used a personal access token (`personal_token_not_allowed`)",
            ),
            ChallengeNotYours,
            PersonalTokenNotAllowed,
            CredentialExists,
            413,
            415,
            429,
        ),
    )
    async def add_complete(
        self,
        request: AuthedRequest,
        data: RegistrationCredentialBody,
        auth_services: NamedDependency[AuthServices],
    ) -> RegistrationResult:
        result = await auth_services.ceremonies.complete_add_credential(data, _signed_in(request))
        return RegistrationResult(
            message="Passkey added", user_id=result.user_id, credential_id=result.credential_id
        )

    @patch(
        "/{credential_id:str}",
        guards=[require_json],
        summary="Rename one of my passkeys",
        responses=error_responses(
            (
                400,
                "Malformed JSON, invalid fields or a blank name "
                "(`malformed_json`, `validation_error`, `invalid_name`)",
            ),
            InvalidName,
            401,
            PersonalTokenNotAllowed,
            CredentialNotFound,
            413,
            415,
        ),
    )
    async def rename(
        self,
        request: AuthedRequest,
        credential_id: FromPath[str],
        data: JSONBody[RenameCredentialRequest],
        auth_services: NamedDependency[AuthServices],
    ) -> CredentialOut:
        return await auth_services.credentials.rename(request.user.id, credential_id, data.name)

    @delete(
        "/{credential_id:str}",
        status_code=200,
        summary="Delete one of my passkeys",
        responses=error_responses(
            BAD_PARAMETER,
            401,
            PersonalTokenNotAllowed,
            CredentialNotFound,
            LastCredential,
        ),
    )
    async def remove(
        self,
        request: AuthedRequest,
        credential_id: FromPath[str],
        auth_services: NamedDependency[AuthServices],
    ) -> MessageOut:
        await auth_services.credentials.delete(request.user.id, credential_id)
        return MessageOut(message="Passkey deleted")


def auth_router(services: AuthServices) -> Router:
    """All auth routes, with the services dependency and the ceremony rate limit."""
    return Router(
        path="/",
        route_handlers=[AuthController, CredentialsController, PersonalTokensController],
        dependencies={"auth_services": Provide(lambda: services, sync_to_thread=False)},
        guards=[rate_limit_guard],
    )
