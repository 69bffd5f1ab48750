"""Decode JSON that comes from outside (request bodies, uploaded files) so its shape cannot hurt.

msgspec decodes in linear time, but on its own it lets three kinds of input through to the
caller as the wrong kind of failure, or as no failure at all:

- nesting deeper than the interpreter's recursion limit raises ``RecursionError``;
- invalid UTF-8 inside a string raises ``UnicodeDecodeError`` (not ``msgspec.DecodeError``);
- a NUL character (``"\\u0000"``) decodes fine, and PostgreSQL text columns then refuse it.

Integers longer than 4,300 digits (Python's int/str conversion limit, which ``json.loads``
hit with a ``ValueError``) and floats beyond a double are refused by msgspec itself; this
reports them as :class:`RejectedJSON` too. Smaller integers beyond 64 bits decode: each
typed field bounds its own (a conversation id that large is a well-formed id no conversation
has, a 404 by contract).

:func:`decode_untrusted_json` turns all of them into one :class:`RejectedJSON` whose
``malformed`` flag separates "this is not JSON text" (syntax, encoding) from "this is JSON the
service refuses" (too deep, NUL, number out of range), so callers map them to distinct,
stable error codes. The depth limit is the caller's: a request body and an uploaded table
need different ones. Walking the decoded value costs one pass over it, as decoding does.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["RejectedJSON", "decode_untrusted_json"]

_decoder = msgspec.json.Decoder()


class RejectedJSON(ValueError):
    """The input cannot be used. ``malformed``: it is not JSON text at all (else: it is JSON,
    but nested too deeply, holding a NUL, or a number out of range)."""

    def __init__(self, reason: str, *, malformed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


def _malformed_reason(message: str) -> str:
    reason = message.removeprefix("JSON is malformed: ").strip().rstrip(".")
    if reason == "Input data was truncated":
        return "the text ends before the JSON value is complete, or holds an invalid \\u escape"
    return reason or "not JSON"


def decode_untrusted_json(data: bytes | str, *, max_depth: int) -> Any:
    """The decoded value of ``data``; :class:`RejectedJSON` for anything unusable.

    ``max_depth`` counts nested arrays and objects: ``[]`` is 1, ``{"a": [1]}`` is 2.
    """
    try:
        value = _decoder.decode(data)
    except RecursionError:
        raise RejectedJSON(_too_deep(max_depth), malformed=False) from None
    except UnicodeDecodeError as exc:
        raise RejectedJSON(f"a string is not valid UTF-8 ({exc.reason})", malformed=True) from None
    except msgspec.ValidationError:
        # The only validation a typeless decode does: a number beyond what msgspec represents.
        raise RejectedJSON(_out_of_range(), malformed=False) from None
    except msgspec.DecodeError as exc:
        raise RejectedJSON(_malformed_reason(str(exc)), malformed=True) from None
    _check(value, max_depth)
    return value


def _too_deep(max_depth: int) -> str:
    return f"arrays and objects are nested more than {max_depth} levels deep"


def _out_of_range() -> str:
    return "a number is out of range (integers have at most 4,300 digits, floats fit a double)"


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise RejectedJSON(
            "a string contains a NUL character (\\u0000), which text cannot hold",
            malformed=False,
        )


def _check(value: Any, max_depth: int) -> None:
    """One iterative pass (no recursion, whatever the depth): depth and NUL."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            if depth >= max_depth:
                raise RejectedJSON(_too_deep(max_depth), malformed=False)
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth >= max_depth:
                raise RejectedJSON(_too_deep(max_depth), malformed=False)
            stack.extend((child, depth + 1) for child in item)
