"""Regular expressions that mean the same to the server (Python ``re``) and to the OpenAPI
document's readers (ECMAScript regexes: schemathesis, generated clients, Swagger UI).

A pattern in the document is a promise: a client that validates against it must be accepted,
and everything it refuses must be refused. ``\\s``, ``\\d`` and ``$`` differ between the two
dialects (Python's ``\\s`` also matches ``\\x1c``-``\\x1f`` and ``\\x85``, ECMAScript's also
``\\ufeff``; Python's ``$`` also matches before a final newline), so the patterns here spell
out every character class and are checked with :func:`fullmatch`, never with a bare ``$``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["NON_BLANK", "WHITESPACE", "fullmatch"]

# Exactly the characters ``str.strip()`` and ``str.isspace()`` treat as whitespace.
WHITESPACE: Final = (
    r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Some character that ``str.strip()`` keeps: a text that is not blank (unanchored, as JSON
# Schema's ``pattern`` is).
NON_BLANK: Final = f"[^{WHITESPACE}]"


def fullmatch(pattern: str, value: str) -> bool:
    """Whether ``value`` matches an anchored ``^…$`` pattern as ECMAScript reads it (``$`` at
    the very end only, never before a final newline)."""
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None
