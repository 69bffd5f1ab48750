"""What the run endpoints read: one run of the caller, a page of them, the answer to an ask.

The endpoints call these instead of opening sessions; the statements themselves are in
:mod:`app.runs.store` (shared with the run service) and, for the assistant message an ask
returns, in the conversations domain. Every lookup filters on the caller, so another user's
run is the same 404 as a missing one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.conversations.service import assistant_reply
from app.runs import store
from app.runs.models import Run
from app.runs.schemas import AskResponse, RunList, RunView
from app.runs.views import ask_response, run_view

__all__ = ["RunReads"]


class RunReads:
    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_maker

    async def owned(self, run_id: str, user_id: str) -> Run:
        """The caller's run (detached, as read now); 404 ``run_not_found`` otherwise."""
        async with self._sessions() as session:
            return await store.owned_run(session, run_id, user_id)

    async def view(self, run_id: str, user_id: str) -> RunView:
        return run_view(await self.owned(run_id, user_id))

    async def page(self, user_id: str, *, limit: int, offset: int) -> RunList:
        """The caller's runs, newest first, ``limit`` of them from ``offset``."""
        async with self._sessions() as session:
            total, runs = await store.page_of_runs(session, user_id, limit=limit, offset=offset)
            return RunList(
                runs=[run_view(run) for run in runs], total=total, limit=limit, offset=offset
            )

    async def answer(self, run_id: str, user_id: str) -> AskResponse:
        """The ``POST /ask`` body of the caller's finished run."""
        async with self._sessions() as session:
            run = await store.owned_run(session, run_id, user_id)
            return ask_response(run, await assistant_reply(session, run.id))

    async def running_in(self, conversation_id: int) -> list[str]:
        """The ids of a conversation's running runs (to cancel before deleting it)."""
        async with self._sessions() as session:
            return await store.running_in_conversation(session, conversation_id)
