"""Conversation ids as the HTTP edge receives them: a JSON integer or a numeric string.

Conversation (and message) ids are database identity integers, and the predecessor's web
client treats them as numbers (``parseInt(id)``, ``conversation_id: number``). Legacy clients
send them either as a JSON integer or as a string of digits (``"42"``, and always as text in
a URL path), so both are accepted; anything else (``"NaN"``, a uuid, ``4.2``, ``true``) is a
400 ``invalid_conversation_id`` that says what an id looks like, never a 500.

A well-formed integer that no identity column can hold (zero, negative, beyond 64 bits) is
treated as what it is, an id no conversation has: the caller gets the same 404 as for any
missing conversation, and the database never sees a value that would overflow its column.
"""

from __future__ import annotations

import re
from typing import Final

from app.conversations.errors import ConversationNotFound, InvalidConversationId
from app.patterns import WHITESPACE

__all__ = [
    "CONVERSATION_ID_SCHEMAS",
    "ID_TEXT_PATTERN",
    "MAX_ID",
    "conversation_not_found",
    "parse_conversation_id",
]

# The largest value of a 64-bit signed identity column (PostgreSQL BIGINT, SQLite INTEGER).
MAX_ID: Final = 2**63 - 1
# Documented 400 of every route that takes a conversation id (OpenAPI ``responses``).
_DIGITS = re.compile(r"-?[0-9]+")
# Longer than any 64-bit value: refused before int() so a huge string costs nothing.
_MAX_DIGITS = 40
# The id as text, exactly as parse_conversation_id accepts it (surrounding whitespace is
# stripped), for the OpenAPI document.
ID_TEXT_PATTERN: Final = (
    f"^[{WHITESPACE}]*(?:-[0-9]{{1,{_MAX_DIGITS - 1}}}|[0-9]{{1,{_MAX_DIGITS}}})[{WHITESPACE}]*$"
)
# ``conversation_id`` in a JSON body: an integer, digits as text, or null.
CONVERSATION_ID_SCHEMAS: Final = (
    # Any integer: one that no id column can hold is simply no conversation (404).
    {"type": "integer"},
    {"type": "string", "pattern": ID_TEXT_PATTERN},
    {"type": "null"},
)


def conversation_not_found() -> ConversationNotFound:
    """The one 404 for a conversation the caller may not see: missing, deleted, another
    user's, or an id out of range all answer exactly this (no existence leak)."""
    return ConversationNotFound()


def parse_conversation_id(value: int | str) -> int:
    """The conversation id in ``value`` (an integer, or digits as text) as an ``int``.

    Raises :class:`InvalidConversationId` (400) when ``value`` is not an
    integer at all, :class:`ConversationNotFound` (404) when it is one no conversation can have.
    """
    if isinstance(value, bool):  # bool is an int subclass; JSON true is not an id
        raise _invalid(value)
    if isinstance(value, int):
        number = value
    else:
        text = value.strip()
        if len(text) > _MAX_DIGITS or not _DIGITS.fullmatch(text):
            raise _invalid(value)
        number = int(text)
    if not 1 <= number <= MAX_ID:
        raise conversation_not_found()
    return number


def _invalid(value: object) -> InvalidConversationId:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return InvalidConversationId(
        f"Invalid conversation id {shown}: a conversation id is a positive integer, "
        'sent as a JSON number (42) or as a string of digits ("42").',
    )
