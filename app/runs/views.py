"""Turn run rows into the API's response structs."""

from __future__ import annotations

from typing import cast

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.models import Message
from app.errors import DomainError
from app.runs.models import Run
from app.runs.schemas import AskResponse, AssistantReply, RunError, RunStatus, RunView
from orchestrator import DataSourceRef, PlanStepRef, RunUsage

__all__ = ["ask_response", "owned_run", "run_view"]


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


async def owned_run(session: AsyncSession, run_id: str, user_id: str) -> Run:
    """The run if ``user_id`` owns it; 404 otherwise (no existence leak)."""
    run = await session.scalar(select(Run).where(Run.id == run_id, Run.user_id == user_id))
    if run is None:
        raise DomainError(404, "run_not_found", "Run not found.")
    return run


async def ask_response(session: AsyncSession, run: Run) -> AskResponse:
    """The ``POST /ask`` body of a finished run (its stored assistant message as content)."""
    content = await session.scalar(
        select(Message.content).where(Message.run_id == run.id, Message.role == "assistant")
    )
    view = run_view(run)
    return AskResponse(
        status="Success" if run.status == "completed" else "Error",
        message=AssistantReply(content=content or run.report or ""),
        run_id=run.id,
        conversation_id=run.conversation_id,
        plan=view.plan,
        usage=view.usage,
        sources=view.sources,
        error=view.error,
    )
