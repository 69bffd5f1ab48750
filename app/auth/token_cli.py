"""``python -m app token …``: personal access tokens for operators, without a browser.

Whoever can reach the database can already do anything to any account, so the operator
command needs no other proof: it is the headless path to a credential
(``TOKEN=$(python -m app token create you@example.org)``) and the way to list or revoke the
tokens of an account that has no passkey to sign in with. The database is migrated first
when ``database.migrate_on_start`` is set, as the server would, so the command works on a
fresh machine before the first ``make run``.

:func:`run_token_command` returns the lines for stdout; for ``create`` that is the token
alone, and what it did (account created, token id, expiry) is written to stderr.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from app.auth.errors import AuthError
from app.auth.personal_tokens import PersonalTokenService
from app.auth.schemas import EmailRequest
from app.db.engine import Database
from app.db.migrate import migrate
from app.settings import Settings

__all__ = ["TokenCommandError", "run_token_command"]

EXIT_USAGE = 2
EXIT_FAILURE = 1


class TokenCommandError(Exception):
    """A refusal to report on stderr as ``error: …``, with the exit status to use."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _email(raw: str) -> str:
    try:
        return msgspec.convert({"email": raw.strip().lower()}, EmailRequest).email
    except msgspec.ValidationError:
        msg = f"not an email address: {raw!r}"
        raise TokenCommandError(msg, EXIT_USAGE) from None


async def run_token_command(settings: Settings, args: argparse.Namespace) -> list[str]:
    """Run ``token create|list|revoke`` against the configured database."""
    email = _email(args.email)
    database = Database(settings.database)
    try:
        if settings.database.migrate_on_start:
            await migrate(database.engine)
        service = PersonalTokenService(database.session_maker)
        if args.action == "create":
            return await _create(service, email, args.name, args.expires_days)
        user_id = await service.user_id_for_email(email)
        if user_id is None:
            msg = f"no account for {email}"
            raise TokenCommandError(msg, EXIT_FAILURE)
        if args.action == "list":
            return [
                f"{t.id}\t{t.name}\t…{t.hint}\texpires {t.expires_at.isoformat()}\t"
                f"last used {t.last_used_at.isoformat() if t.last_used_at else 'never'}"
                for t in await service.list(user_id)
            ]
        await service.revoke(user_id, args.token_id)
        return [f"revoked {args.token_id}"]
    except AuthError as exc:
        code = EXIT_USAGE if exc.status == 400 else EXIT_FAILURE
        raise TokenCommandError(exc.detail, code) from None
    finally:
        await database.dispose()


async def _create(service: PersonalTokenService, email: str, name: str, days: int) -> list[str]:
    token, created_user = await service.create_for_email(email, name, days)
    if created_user:
        print(f"created account {email}", file=sys.stderr)
    print(
        f"created token {token.id} ({token.name!r}) for {email}, "
        f"expires {token.expires_at.isoformat()}",
        file=sys.stderr,
    )
    return [token.token]
