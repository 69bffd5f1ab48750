"""Run tickets: HMAC-signed, scoped to one run, short-lived, tamper-evident."""

from __future__ import annotations

import pytest

from app.runs.tickets import TicketError, TicketSigner

SECRET = "test-secret-0123456789abcdef0123456789"


def test_a_ticket_names_its_user_session_and_run() -> None:
    signer = TicketSigner(SECRET, ttl_s=60)
    ticket, expires = signer.issue("run-1", "user-1", "family:f1", now=1000.0)
    assert expires == 1060
    claims = signer.verify(ticket, "run-1", now=1059.0)
    assert (claims.run_id, claims.user_id, claims.session, claims.exp) == (
        "run-1",
        "user-1",
        "family:f1",
        1060,
    )
    # Every ticket has its own id (what makes it single-use), even for the same run and time.
    again = signer.verify(
        signer.issue("run-1", "user-1", "family:f1", now=1000.0)[0], "run-1", now=1001.0
    )
    assert len(claims.jti) == 32
    assert again.jti != claims.jti


@pytest.mark.parametrize(
    ("mutate", "run_id", "now", "message"),
    [
        (lambda t: t, "run-2", 1001.0, "another run"),
        (lambda t: t, "run-1", 1061.0, "expired"),
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "run-1", 1001.0, "signature"),
        (lambda t: "x" + t, "run-1", 1001.0, "signature"),
        (lambda t: "!!!.???", "run-1", 1001.0, "malformed"),
        (lambda t: "", "run-1", 1001.0, "signature"),
    ],
)
def test_bad_tickets_are_refused(mutate: object, run_id: str, now: float, message: str) -> None:
    signer = TicketSigner(SECRET, ttl_s=60)
    ticket, _ = signer.issue("run-1", "user-1", "family:f1", now=1000.0)
    assert callable(mutate)
    with pytest.raises(TicketError, match=message):
        signer.verify(mutate(ticket), run_id, now=now)


def test_a_ticket_from_another_secret_is_refused() -> None:
    other = TicketSigner("other-secret-0123456789abcdef0123", ttl_s=60)
    ticket, _ = other.issue("r", "u", "family:f")
    with pytest.raises(TicketError, match="signature"):
        TicketSigner(SECRET, ttl_s=60).verify(ticket, "r")
