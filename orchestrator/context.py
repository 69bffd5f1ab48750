"""What a run knows besides the question: caller context in, structured hints out.

:class:`RunContext` is what the caller passes (history, an uploaded dataset, ids, a pinned
"now"). :class:`RequestHints` is the structured copy of the same facts attached to every
:class:`~orchestrator.providers.base.ModelRequest` (``hints``): network providers ignore it
(the facts are in the input text too); the offline engine reads it instead of parsing prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

import msgspec

from tools.catalog_types import Dataset

__all__ = [
    "DatasetHint",
    "EarlierOutputHint",
    "HistoryHint",
    "HistoryPair",
    "PlanStepHint",
    "RequestHints",
    "RunContext",
]


class HistoryPair(msgspec.Struct, frozen=True):
    """One earlier question and the answer the product gave (conversation history)."""

    question: str
    answer: str


class RunContext(msgspec.Struct, frozen=True, kw_only=True):
    """Optional caller context for one run; every field may be left at its default.

    ``run_id`` None -> a fresh id is generated. ``now`` None -> the orchestrator's clock.
    ``conversation_id`` is the caller's, carried as given (an ``int`` keeps its type in the
    ``started`` event's JSON, as the HTTP service's integer ids do; a ``str`` stays a string).
    ``user_id`` and ``metadata`` are bound to the run's log lines and carried by its
    ``started`` event (keep secrets out of them).
    """

    run_id: str | None = None
    conversation_id: int | str | None = None
    user_id: str | None = None
    history: Sequence[HistoryPair] = ()
    dataset: Dataset | None = None
    now: datetime | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class HistoryHint(TypedDict):
    question: str
    answer: str


class PlanStepHint(TypedDict):
    kind: str
    task: str


class DatasetHint(TypedDict):
    id: str
    name: str
    kind: str
    columns: list[str]
    rows: int


class EarlierOutputHint(TypedDict):
    kind: str
    output: str


class RequestHints(TypedDict):
    """The keys of ``ModelRequest.hints`` (always all present; ``None`` where not applicable).

    ``role`` is ``planner`` or the step kind (a built-in one, or an assistant the embedder
    added); ``task``/``step_index``/``plan`` are None for the planner; ``now`` is an ISO 8601
    UTC timestamp; ``history`` is the trimmed conversation history; ``earlier_outputs`` are the
    outputs of the steps already finished in this run.
    """

    role: str
    question: str
    task: str | None
    step_index: int | None
    plan: list[PlanStepHint] | None
    now: str
    history: list[HistoryHint]
    dataset: DatasetHint | None
    earlier_outputs: list[EarlierOutputHint]
