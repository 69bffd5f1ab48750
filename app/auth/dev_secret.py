"""The development JWT secret: generated once, kept in a 0600 file, reused by every start.

In development mode without ``JWT_SECRET``, ``python -m app`` used to make a random secret
per start, so every access token died at each restart. Now the secret lives in
``auth.dev_secret_file`` (``var/dev-jwt-secret`` by default, next to the SQLite file):
created on first start, readable by its owner only, and read back by later starts.
Production mode never gets here: it refuses to start without a strong ``JWT_SECRET``.

Creation is atomic: the secret is written to a private temporary file that is then
hard-linked into place, which fails if another process got there first; the loser reads
the winner's secret. A file other users can read, or one holding a short secret, is refused
rather than trusted, since anyone who reads it can mint tokens for every account.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["DevSecretError", "load_or_create_dev_secret"]


class DevSecretError(Exception):
    """The development secret file exists but cannot be used; the message says why."""


def load_or_create_dev_secret(path: Path, *, min_bytes: int) -> tuple[str, bool]:
    """The secret kept in ``path`` and whether it was created just now."""
    if not path.exists():
        created = _create(path)
        if created is not None:
            return created, True
    return _read(path, min_bytes), False


def _create(path: Path) -> str | None:
    """Write a new secret to ``path``; None when another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{secret}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return secret


def _read(path: Path, min_bytes: int) -> str:
    try:
        mode = path.stat().st_mode
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"cannot read the development secret {path}: {exc.strerror or exc}"
        raise DevSecretError(msg) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        msg = (
            f"the development secret {path} is accessible to other users "
            f"(mode {stat.S_IMODE(mode):04o}): run chmod 600 {path}, or delete it to make a new one"
        )
        raise DevSecretError(msg)
    if len(secret.encode()) < min_bytes:
        msg = (
            f"the development secret {path} holds fewer than {min_bytes} bytes: "
            "delete it to make a new one"
        )
        raise DevSecretError(msg)
    return secret
