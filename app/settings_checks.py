"""What a setting's value may be: the words a start-up problem uses for it, and the checks no
type can express.

Every numeric limit is a ``msgspec.Meta`` on its field (``app.settings``, ``orchestrator.config``);
:func:`expected_words` turns a field's type and limits into the text after "expected", so the
messages and the generated configuration reference cannot drift from the limits. Origins, URLs,
proxy networks and the JWT secret's length in bytes are checked in code (:data:`CODE_CHECKS`).
"""

from __future__ import annotations

import ipaddress
import json
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import msgspec

from app.secret_strength import MIN_JWT_SECRET_BYTES

__all__ = [
    "CODE_CHECKS",
    "describe_type",
    "expected_words",
    "show_value",
    "strip_annotated",
    "unwrap_optional",
]


def strip_annotated(tp: Any) -> Any:
    """``Annotated[int, Meta(ge=0)]`` -> ``int`` (constraints are checked by msgspec)."""
    return typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp


def unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def describe_type(tp: Any) -> str:
    """A short human name of a type, for messages."""
    tp = strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        inner = " or ".join(describe_type(a) for a in args if a is not type(None))
        return f"{inner} (or unset)" if type(None) in args else inner
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"array of {describe_type(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"table of {describe_type(typing.get_args(tp)[1])}"
    names = {str: "string", int: "int", float: "number", bool: "boolean"}
    if tp in names:
        return names[tp]
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "table"
    return str(tp)


def expected_words(tp: Any) -> str:
    """What a value of ``tp`` must be, its ``msgspec.Meta`` limits included, for messages.

    ``Annotated[int, Meta(ge=1, le=65535)]`` -> ``int in 1..65535``, ``Meta(gt=0)`` on a float
    -> ``number > 0``, ``Annotated[int, Meta(ge=1)] | None`` -> ``int >= 1 (or unset)``; a
    pattern is worded by the ``description`` beside it (``non-empty string``).
    """
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = typing.get_args(tp)
        inner = " or ".join(expected_words(a) for a in args if a is not type(None))
        return f"{inner} (or unset)" if type(None) in args else inner
    kind = describe_type(tp)
    if typing.get_origin(tp) is not Annotated:
        return kind
    words = [_limits(kind, meta) for meta in tp.__metadata__ if isinstance(meta, msgspec.Meta)]
    return " and ".join(words) or kind


def _limits(kind: str, meta: msgspec.Meta) -> str:
    """One ``Meta``'s limits in words: ``int in 1..500``, ``number > 0``, ``int >= 301``."""
    if meta.pattern is not None:
        return meta.description or f"{kind} matching {meta.pattern}"

    def number(bound: float) -> str:
        return f"{bound:g}" if kind == "number" else str(bound)

    if meta.ge is not None and meta.le is not None:
        return f"{kind} in {number(meta.ge)}..{number(meta.le)}"
    bounds = [
        f"{sign} {number(bound)}"
        for sign, bound in ((">=", meta.ge), (">", meta.gt), ("<=", meta.le), ("<", meta.lt))
        if bound is not None
    ]
    return " ".join([kind, " and ".join(bounds)]) if bounds else kind


def show_value(value: object) -> str:
    try:
        text: str = json.dumps(value)
        return text
    except (TypeError, ValueError):
        return repr(value)


def _origin_ok(origin: str) -> bool:
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


def _exact_origin_ok(origin: str) -> bool:
    """``origin`` is exactly what a browser sends in ``Origin``: ``scheme://host[:port]``.

    CORS compares the header with each entry as a whole string (and Litestar would turn a ``*``
    into a regex ``.*``), so an entry that is not in that serialized form either never matches
    or matches too much: no wildcard, userinfo, path (not even "/"), query, fragment, upper
    case, default port or non-ASCII host.
    """
    if "*" in origin or not origin.isascii():
        return False
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # a port that is not a number in 0..65535
        return False
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return False
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        netloc = f"{netloc}:{port}"
    return origin == f"{parts.scheme}://{netloc}"


def _proxy_ok(entry: str) -> bool:
    if entry == "*":
        return True
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _url_ok(url: str | None, schemes: tuple[str, ...]) -> bool:
    if url is None:
        return True
    parts = urlsplit(url)
    return parts.scheme in schemes and (bool(parts.netloc) or bool(parts.path))


# Checks no type can express: key -> (check, expected). The expected text is also used for
# type errors on that key. Every other limit is a ``msgspec.Meta`` on its field.
CODE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "server.public_origin": (
        (lambda v: v is None or _origin_ok(v)),
        'origin like "https://example.org" (scheme://host[:port], no path)',
    ),
    "server.trusted_proxies": (
        (lambda v: all(_proxy_ok(p) for p in v)),
        'array of IP addresses or networks like "10.0.0.0/8" (or ["*"] to trust any peer)',
    ),
    "database.url": (
        (lambda v: _url_ok(v, ("sqlite+aiosqlite", "postgresql+asyncpg"))),
        'URL "sqlite+aiosqlite:///path.db" or "postgresql+asyncpg://user@host/db"',
    ),
    "redis.url": (
        (lambda v: _url_ok(v, ("redis", "rediss", "unix"))),
        'URL "redis://host:6379/0" (or rediss://, unix://)',
    ),
    "auth.allowed_origins": (
        # WebAuthn compares the browser's origin with each entry as a whole string too.
        (lambda v: all(_exact_origin_ok(o) for o in v)),
        'array of exact origins like "https://example.org" (scheme://host[:port] as browsers '
        "send it: no wildcard, path or trailing slash)",
    ),
    "auth.jwt_secret": (
        # A length in bytes, not characters: msgspec's min_length counts characters.
        (lambda v: v is None or len(v.encode()) >= MIN_JWT_SECRET_BYTES),
        f"string of at least {MIN_JWT_SECRET_BYTES} bytes",
    ),
    "cors.allow_origins": (
        (lambda v: all(_exact_origin_ok(o) for o in v)),
        'array of exact origins like "https://example.org" (scheme://host[:port] as browsers '
        "send it: no wildcard, path or trailing slash)",
    ),
    "llm.base_url": (
        (lambda v: _url_ok(v, ("http", "https"))),
        'URL like "http://127.0.0.1:11434/v1"',
    ),
}
