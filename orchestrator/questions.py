"""What makes a question acceptable, shared by every way of asking one.

The HTTP API (``app``) and the command line (:mod:`orchestrator.cli`) refuse the same
questions with the same words: an empty or blank question, or one longer than
:data:`MAX_QUESTION_CHARS` (the API's default ``runs.max_question_chars``; the service may
configure another limit). The constant lives here, in the library, because ``app`` imports
the orchestrator and never the other way round.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["MAX_QUESTION_CHARS", "QuestionProblem", "question_problem"]

MAX_QUESTION_CHARS = 4000


class QuestionProblem(msgspec.Struct, frozen=True, kw_only=True):
    """Why a question is refused: a stable ``code`` and a message for people."""

    code: Literal["invalid_question", "question_too_long"]
    message: str


def question_problem(question: str, limit: int = MAX_QUESTION_CHARS) -> QuestionProblem | None:
    """The reason ``question`` cannot be asked, or None when it can."""
    if not question.strip():
        return QuestionProblem(code="invalid_question", message="The question must not be empty.")
    if len(question) > limit:
        return QuestionProblem(
            code="question_too_long",
            message=f"The question has {len(question)} characters; the limit is {limit}.",
        )
    return None
