"""Short-lived, run-scoped tickets for ``EventSource`` clients.

A browser ``EventSource`` cannot send an ``Authorization`` header, so the page first calls
``POST /runs/{id}/ticket`` with its bearer token and then opens
``GET /runs/{id}/events?ticket=…``. A ticket is an HMAC-SHA256 signature over
``run_id``, ``user_id`` and an expiry, keyed by a key derived from the JWT secret (domain
separated, so a ticket can never be replayed as an access token or vice versa).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import msgspec

__all__ = ["TicketError", "TicketSigner"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class TicketError(Exception):
    """The ticket is malformed, forged, expired or for another run."""


class _Claims(msgspec.Struct, frozen=True, array_like=True):
    run_id: str
    user_id: str
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

    def issue(self, run_id: str, user_id: str, *, now: float | None = None) -> tuple[str, int]:
        """A ticket for ``run_id`` owned by ``user_id`` and its expiry (Unix seconds)."""
        exp = int((time.time() if now is None else now) + self.ttl_s)
        body = msgspec.json.encode(_Claims(run_id, user_id, exp))
        return f"{_b64(body)}.{_b64(self._sign(body))}", exp

    def verify(self, ticket: str, run_id: str, *, now: float | None = None) -> str:
        """The user id the ticket was issued to; raises :class:`TicketError` otherwise."""
        body_part, _, sig_part = ticket.partition(".")
        try:
            body = _unb64(body_part)
            signature = _unb64(sig_part)
        except ValueError as exc:
            raise TicketError("malformed ticket") from exc
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TicketError("invalid ticket signature")
        try:
            claims = msgspec.json.decode(body, type=_Claims)
        except msgspec.DecodeError as exc:
            raise TicketError("malformed ticket") from exc
        if claims.run_id != run_id:
            raise TicketError("ticket is for another run")
        if claims.exp < (time.time() if now is None else now):
            raise TicketError("ticket expired")
        return claims.user_id

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()
