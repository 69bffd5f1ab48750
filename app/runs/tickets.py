"""Short-lived, run-scoped tickets for ``EventSource`` clients.

A browser ``EventSource`` cannot send an ``Authorization`` header, so the page first calls
``POST /runs/{id}/ticket`` with its bearer token and then opens
``GET /runs/{id}/events?ticket=…``. A ticket is an HMAC-SHA256 signature over
``run_id``, ``user_id``, the sign-in ``session`` it was issued under, a random ``jti`` and
an expiry, keyed by a key derived from the JWT secret (domain separated, so a ticket can
never be replayed as an access token or vice versa).

The signature only proves the ticket was issued. Redeeming it (``RunsRuntime.redeem_ticket``,
backed by the auth services) also requires that its session is still signed in (an access token's
login family not logged out, a personal access token not revoked) and records its ``jti`` as
used in the database, so a ticket opens one stream, once, on any worker: a leaked URL is
worth nothing after the page used it or its owner signed out. An ``EventSource`` that
reconnects must therefore ask for a new ticket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import msgspec

__all__ = ["TicketClaims", "TicketError", "TicketSigner"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class TicketError(Exception):
    """The ticket is malformed, forged, expired or for another run."""


class TicketClaims(msgspec.Struct, frozen=True, array_like=True):
    """What a ticket says. ``session`` is ``family:<login family id>`` for an access token,
    ``pat:<token id>`` for a personal access token."""

    run_id: str
    user_id: str
    session: str
    jti: str
    exp: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TicketSigner:
    """Issues and verifies tickets; one instance per process, built from the JWT secret."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hmac.new(secret.encode(), b"sca-run-ticket-v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(
        self, run_id: str, user_id: str, session: str, *, now: float | None = None
    ) -> tuple[str, int]:
        """A ticket for ``run_id`` owned by ``user_id`` signed in as ``session``, and its
        expiry (Unix seconds)."""
        exp = int((time.time() if now is None else now) + self.ttl_s)
        claims = TicketClaims(run_id, user_id, session, secrets.token_hex(16), exp)
        body = msgspec.json.encode(claims)
        return f"{_b64(body)}.{_b64(self._sign(body))}", exp

    def verify(self, ticket: str, run_id: str, *, now: float | None = None) -> TicketClaims:
        """The ticket's claims if it is authentic, unexpired and for ``run_id``; raises
        :class:`TicketError` otherwise. Whether it is still redeemable is the redeemer's."""
        body_part, _, sig_part = ticket.partition(".")
        try:
            body = _unb64(body_part)
            signature = _unb64(sig_part)
        except ValueError as exc:
            raise TicketError("malformed ticket") from exc
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TicketError("invalid ticket signature")
        try:
            claims = msgspec.json.decode(body, type=TicketClaims)
        except msgspec.DecodeError as exc:
            raise TicketError("malformed ticket") from exc
        if claims.run_id != run_id:
            raise TicketError("ticket is for another run")
        if claims.exp < (time.time() if now is None else now):
            raise TicketError("ticket expired")
        return claims

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()
