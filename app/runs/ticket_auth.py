"""Run tickets tied to the sign-in they were issued under.

A ticket names its session: ``family:<id>`` for an access token's login family,
``pat:<id>`` for a personal access token. Redemption asks the auth services whether that
session is still signed in and records the ticket as used, so a ticket works once and never
after its owner signed out (see ``app.runs.tickets``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request

from app.auth.personal_tokens import PersonalTokenAuth
from app.auth.services import get_auth_services
from app.auth.tokens import AccessToken
from app.runs.tickets import TicketClaims, TicketError

__all__ = ["redeem_ticket", "ticket_session"]


def ticket_session(auth: object) -> str | None:
    """The session a ticket is bound to, from ``request.auth``; None for anything else."""
    if isinstance(auth, AccessToken):
        return f"family:{auth.sid}"
    if isinstance(auth, PersonalTokenAuth):
        return f"pat:{auth.token_id}"
    return None


async def redeem_ticket(request: Request[Any, Any, Any], claims: TicketClaims) -> None:
    """Accept ``claims`` once, while its session is signed in; else :class:`TicketError`."""
    try:
        services = get_auth_services(request.app.state)
    except KeyError as exc:
        raise TicketError("sign-in is not configured") from exc
    refusal = await services.redeem_run_ticket(
        session=claims.session,
        user_id=claims.user_id,
        ticket_id=claims.jti,
        expires_at=datetime.fromtimestamp(claims.exp, UTC),
    )
    if refusal is not None:
        raise TicketError(refusal)
