"""``python -m app``: validate config, migrate, then serve with granian (ASGI, app factory).

    python -m app [--config FILE] [--host H] [--port P] [--workers N]
    python -m app migrate [upgrade [REV] | downgrade REV | current]
    python -m app migrate revision MESSAGE --rev-id ID [--autogenerate]
    python -m app token create EMAIL [--name N] [--expires-days D]
    python -m app token list EMAIL
    python -m app token revoke EMAIL TOKEN_ID

Bad configuration prints one line per problem on stderr and exits with status 2. Flags are
passed to the workers as ``APP__SERVER__*`` variables, so every worker (and the WebAuthn origin
derived from the port) sees the same values. SIGTERM/SIGINT shut down gracefully (granian).

Serving refuses a port another process listens on (one line on stderr, status 2) unless
``server.reuse_port`` is set (see :mod:`app.port_guard`). In development mode without
``JWT_SECRET`` the generated secret is kept in ``auth.dev_secret_file``, so tokens survive
restarts (see :mod:`app.auth.dev_secret`). With ``metrics.enabled`` the workers share a
fresh metrics directory for this start (``PROMETHEUS_MULTIPROC_DIR``, see
:mod:`app.metrics.multiproc`), so ``/metrics`` on any worker shows the sum over all of them;
with ``metrics.port`` this process serves them on that port instead.

``token`` is the operator's way to a credential on a machine without a browser: database
access is the trust boundary, as for ``migrate``. ``token create`` makes the account if it
does not exist and prints only the token on stdout (everything else goes to stderr), so
``TOKEN=$(python -m app token create you@example.org)`` works in a script.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from app.settings import ConfigError, Settings, load_settings

EXIT_CONFIG = 2
EXIT_FAILURE = 1

# Advanced Alchemy still decorates a mixin with a helper SQLAlchemy 2.1 deprecated; harmless.
warnings.filterwarnings("ignore", message="The declarative_mixin decorator", category=Warning)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Sustainable City AI")
    parser.add_argument("--config", help="config file (default: $APP_CONFIG or ./config.toml)")
    parser.add_argument("--host", help="bind address (server.host)")
    parser.add_argument("--port", type=int, help="TCP port (server.port)")
    parser.add_argument("--workers", type=int, help="worker processes (server.workers)")
    sub = parser.add_subparsers(dest="command")
    mig = sub.add_parser("migrate", help="database migrations (Alembic)")
    mig_sub = mig.add_subparsers(dest="action")
    up = mig_sub.add_parser("upgrade", help="upgrade to REV (default head)")
    up.add_argument("revision", nargs="?", default="head")
    down = mig_sub.add_parser("downgrade", help="downgrade to REV ('base' drops everything)")
    down.add_argument("revision")
    mig_sub.add_parser("current", help="show the database's revision and the code's head")
    rev = mig_sub.add_parser("revision", help="write a new revision file")
    rev.add_argument("message")
    rev.add_argument("--rev-id", required=True, help="revision id, e.g. 0003_datasets")
    rev.add_argument("--autogenerate", action="store_true", help="diff models vs database")
    _add_token_parser(sub)
    return parser


def _add_token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from app.auth.personal_tokens import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS

    tok = sub.add_parser("token", help="personal access tokens (operator, no browser needed)")
    tok_sub = tok.add_subparsers(dest="action", required=True)
    create = tok_sub.add_parser(
        "create", help="create a token for EMAIL (the account too, if needed); prints the token"
    )
    create.add_argument("email")
    create.add_argument("--name", default="cli", help="a name to recognise it by (default: cli)")
    create.add_argument(
        "--expires-days",
        type=int,
        default=DEFAULT_EXPIRY_DAYS,
        help=f"lifetime in days, 1..{MAX_EXPIRY_DAYS} (default: {DEFAULT_EXPIRY_DAYS})",
    )
    listing = tok_sub.add_parser("list", help="list EMAIL's active tokens (never the secrets)")
    listing.add_argument("email")
    revoke = tok_sub.add_parser("revoke", help="revoke one of EMAIL's tokens now")
    revoke.add_argument("email")
    revoke.add_argument("token_id")


def _export_overrides(args: argparse.Namespace) -> None:
    """Make flags visible to granian's worker processes, which load settings themselves."""
    if args.config:
        os.environ["APP_CONFIG"] = args.config
    for flag, key in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"APP__SERVER__{key}"] = str(value)


def _load() -> Settings:
    try:
        return load_settings(generate_dev_secret=False)
    except ConfigError as exc:
        print("configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _share_dev_secret(settings: Settings) -> Settings:
    """Development mode without ``JWT_SECRET``: the secret kept in ``auth.dev_secret_file``,
    handed to every worker (else tokens fail across workers and restarts).

    Production mode never gets here without a secret: settings validation refuses it.
    """
    if settings.auth.jwt_secret is not None or settings.auth.jwt_algorithm != "HS256":
        return settings
    from app.auth.dev_secret import DevSecretError, load_or_create_dev_secret
    from app.logging import get_logger
    from app.secret_strength import MIN_JWT_SECRET_BYTES

    path = Path(settings.auth.dev_secret_file)
    try:
        secret, created = load_or_create_dev_secret(path, min_bytes=MIN_JWT_SECRET_BYTES)
    except DevSecretError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    get_logger("app").warning(
        "JWT_SECRET is not set: using the development secret kept in the file "
        "(development mode only; set JWT_SECRET for real use)",
        secret_file=str(path),
        created=created,
    )
    os.environ["JWT_SECRET"] = secret
    return load_settings()


def _migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    from app.db import migrate

    db = settings.database
    action = args.action or "upgrade"
    if action == "upgrade":
        asyncio.run(migrate.migrate(db, getattr(args, "revision", "head")))
        print(f"upgraded to {getattr(args, 'revision', 'head')}")
    elif action == "downgrade":
        asyncio.run(migrate.downgrade(db, args.revision))
        print(f"downgraded to {args.revision}")
    elif action == "current":
        status = asyncio.run(migrate.migration_status(db))
        print(f"current: {', '.join(sorted(status.current)) or '(none)'}")
        print(f"head:    {', '.join(sorted(status.heads)) or '(none)'}")
        print("up to date" if status.up_to_date else "migrations pending")
    else:
        asyncio.run(
            migrate.make_revision(db, args.message, args.rev_id, autogenerate=args.autogenerate)
        )
    return 0


def _token_command(settings: Settings, args: argparse.Namespace) -> int:
    """``token create|list|revoke``; only ``create``'s token goes to stdout."""
    from app.auth.token_cli import TokenCommandError, run_token_command

    try:
        lines = asyncio.run(run_token_command(settings, args))
    except TokenCommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for line in lines:
        print(line)
    return 0


def _claim_port(settings: Settings) -> socket.socket | None:
    """Hold the port for this server's workers, or exit 2 if another process has it.

    Done first, before the secret, migrations or any log line, so a refusal is one line.
    """
    if settings.server.reuse_port:
        return None
    from app.port_guard import PortInUse, claim_port

    try:
        return claim_port(settings.server.host, settings.server.port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _serve(settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from app.db.migrate import migrate

    if settings.database.migrate_on_start:
        asyncio.run(migrate(settings.database))
        # Done once here; workers must not race each other on the same schema.
        os.environ["APP__DATABASE__MIGRATE_ON_START"] = "false"
    metrics_dir = None
    stop_exporter = None
    if settings.metrics.enabled:
        from app.metrics import multiproc

        # Before granian starts a worker (each inherits it) and before anything in this
        # process imports prometheus-client.
        metrics_dir = multiproc.prepare()
        from app.logging import get_logger

        get_logger("app").info(
            "metrics",
            directory=str(metrics_dir[0]),
            url=(
                f"http://{settings.metrics.host}:{settings.metrics.port}/metrics"
                if settings.metrics.port
                else f"{settings.public_origin()}/metrics"
            ),
        )
        if settings.metrics.port:
            from app.metrics.exporter import serve_separately

            stop_exporter = serve_separately(
                settings.metrics.host, settings.metrics.port, metrics_dir[0]
            )
    server = Granian(
        target="app.main:create_app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        backlog=settings.server.backlog,
        loop=Loops(settings.server.loop),
        # A crashed worker is replaced instead of taking the whole service down (granian's
        # default); its runs are closed by another worker once their lease expires.
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, round(settings.server.graceful_shutdown_s)),
        log_dictconfig={
            "loggers": {
                "_granian": {"handlers": [], "propagate": True},
                "granian.access": {"handlers": [], "propagate": True},
            }
        },
    )
    try:
        server.serve()
    finally:
        if stop_exporter is not None:
            stop_exporter()
        if metrics_dir is not None:
            multiproc.cleanup(*metrics_dir)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _export_overrides(args)
    settings = _load()
    guard = _claim_port(settings) if args.command is None else None
    from app.logging import configure_logging, get_logger

    configure_logging(settings.logging)
    log = get_logger("app")
    try:
        if args.command == "migrate":
            return _migrate_command(settings, args)
        if args.command == "token":
            return _token_command(settings, args)
        settings = _share_dev_secret(settings)
        log.info(
            "starting",
            bind=f"{settings.server.host}:{settings.server.port}",
            url=settings.public_origin(),
            workers=settings.server.workers,
            database=(settings.database.is_sqlite and "sqlite") or "postgresql",
            provider=settings.llm.provider,
        )
        return _serve(settings)
    except (OSError, RuntimeError) as exc:
        log.error("start-up failed", error=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE
    finally:
        if guard is not None:
            guard.close()


if __name__ == "__main__":
    sys.exit(main())
