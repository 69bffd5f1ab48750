"""Turn run rows into the API's response structs (no queries: see :mod:`app.runs.reads`)."""

from __future__ import annotations

from typing import cast

import msgspec

from app.runs.models import Run
from app.runs.schemas import AskResponse, AssistantReply, RunError, RunStatus, RunView
from orchestrator import DataSourceRef, PlanStepRef, RunUsage

__all__ = ["ask_response", "run_view"]


def run_view(run: Run) -> RunView:
    error = (
        RunError(code=run.error_code, detail=run.error_message or "")
        if run.error_code is not None
        else None
    )
    return RunView(
        id=run.id,
        conversation_id=run.conversation_id,
        question=run.question,
        status=cast(RunStatus, run.status),  # the column only ever holds RunStatus values
        progress=run.progress,
        last_seq=run.last_seq,
        plan=msgspec.convert(run.plan or [], list[PlanStepRef]),
        report=run.report,
        usage=None if run.usage is None else msgspec.convert(run.usage, RunUsage),
        sources=msgspec.convert(run.sources or [], list[DataSourceRef]),
        error=error,
        dataset_id=run.dataset_id,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def ask_response(run: Run, reply: str | None) -> AskResponse:
    """The ``POST /ask`` body of a finished run; ``reply`` is its stored assistant message."""
    view = run_view(run)
    return AskResponse(
        status="Success" if run.status == "completed" else "Error",
        message=AssistantReply(content=reply or run.report or ""),
        run_id=run.id,
        conversation_id=run.conversation_id,
        plan=view.plan,
        usage=view.usage,
        sources=view.sources,
        error=view.error,
    )
