"""The failures of the runs domain, one class per failure a client may handle.

Each class carries its status, stable ``code``, ``detail`` and when it happens
(:class:`app.errors.AppError`); the run routes (and the conversation route that starts a run)
document them through :func:`app.openapi_errors.error_responses`. A question naming a missing
conversation or dataset raises the classes of those domains.
"""

from __future__ import annotations

from typing import ClassVar, Final

from app.errors import AppError

__all__ = [
    "QUESTION_ERRORS",
    "ConversationBusy",
    "InvalidLastEventId",
    "InvalidQuestion",
    "InvalidTicket",
    "QuestionTooLong",
    "RunError",
    "RunFinished",
    "RunNotFound",
    "TooManyRuns",
]


class RunError(AppError):
    """Base of the run failures."""


class RunNotFound(RunError):
    """Missing or another user's run: the same 404 (no existence leak)."""

    status = 404
    code = "run_not_found"
    detail = "Run not found."
    when: ClassVar[str] = "No such run for this user"


class RunFinished(RunError):
    """Cancelling a run that already ended (``detail`` says how it ended)."""

    status = 409
    code = "run_finished"
    detail = "The run already ended."
    when: ClassVar[str] = "The run already ended"


class ConversationBusy(RunError):
    """A second question in a conversation whose question is still running."""

    status = 409
    code = "conversation_busy"
    detail = "This conversation already has a question in progress; wait for it to finish."
    when: ClassVar[str] = "The conversation already has a question in progress"


class TooManyRuns(RunError):
    """The user's or this server's limit of concurrent runs is reached (``detail`` says which
    and the limit)."""

    status = 429
    code = "too_many_runs"
    detail = "Too many runs in progress; retry shortly."
    when: ClassVar[str] = "Too many runs in progress, for this user or this server"


class InvalidLastEventId(RunError):
    """A ``Last-Event-ID`` header that is not an event id."""

    status = 400
    code = "invalid_last_event_id"
    detail = "Last-Event-ID must be an event id (an integer)."
    when: ClassVar[str] = "`Last-Event-ID` is not an event id"


class InvalidTicket(RunError):
    """A ``?ticket=`` for the event stream that is invalid, expired or already used."""

    status = 401
    code = "invalid_ticket"
    detail = "Invalid run ticket."
    when: ClassVar[str] = "The run ticket is invalid, expired or already used"


class InvalidQuestion(RunError):
    """An empty (or blank) question."""

    status = 400
    code = "invalid_question"
    detail = "The question must not be empty."
    when: ClassVar[str] = "The question is empty"


class QuestionTooLong(RunError):
    """A question longer than ``runs.max_question_chars`` (``detail`` says both lengths)."""

    status = 400
    code = "question_too_long"
    detail = "The question is too long."
    when: ClassVar[str] = "The question is longer than the limit"


# The class of each code of :func:`orchestrator.question_problem`.
QUESTION_ERRORS: Final[dict[str, type[RunError]]] = {
    cls.code: cls for cls in (InvalidQuestion, QuestionTooLong)
}
