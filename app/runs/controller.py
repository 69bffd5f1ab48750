"""Question and run endpoints: ``/ask``, ``/ask-stream`` and ``/runs/…``.

Every input check happens before a stream starts, so errors are JSON responses with a 4xx,
never a broken ``text/event-stream``. The run itself executes in the run service, so a
client that disconnects does not stop it (unless ``runs.cancel_on_disconnect``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from app.auth.errors import UnknownUser
from app.auth.security import OPTIONAL_AUTH
from app.conversations.errors import ConversationNotFound, InvalidConversationId
from app.conversations.ids import parse_conversation_id
from app.datasets.errors import DatasetNotFound
from app.errors import MalformedJson, NotAuthenticated
from app.openapi_errors import BAD_PARAMETER, SSE_ERRORS, error_responses
from app.patterns import WHITESPACE, fullmatch
from app.runs.errors import (
    ConversationBusy,
    InvalidLastEventId,
    InvalidQuestion,
    InvalidTicket,
    QuestionTooLong,
    RunFinished,
    RunNotFound,
    TooManyRuns,
)
from app.runs.http import SSE_MEDIA_TYPE, current_user_id, require_json, sse_response
from app.runs.runtime import RunsRuntime
from app.runs.schemas import AskRequest, AskResponse, RunList, RunTicket, RunView
from app.runs.stream import run_event_stream
from app.runs.ticket_auth import ticket_session
from app.runs.tickets import TicketError
from app.telemetry import linked_replay
from orchestrator import tracing_enabled

__all__ = ["START_RUN_ERRORS", "RunsController", "start_stream"]

# Largest ?offset= of GET /runs and ?after= of the event stream: far inside a 64-bit SQL
# integer, so the database never sees an overflow, and exactly representable as a JSON number
# (2**53 - 1), so every client and the OpenAPI document read the same bound.
MAX_OFFSET = 2**53 - 1
# ``Last-Event-ID``: an event id (digits), blank for "from the start"; surrounding whitespace
# is ignored. The same pattern is documented for the header.
_EVENT_ID_DIGITS = 15
# The largest seq a run event can have (a 32-bit column): a replay start past it means
# "nothing stored", and is clamped so the database never sees an out-of-range parameter.
_MAX_SEQ = 2**31 - 1
LAST_EVENT_ID_PATTERN: Final = f"^[{WHITESPACE}]*(?:[0-9]{{1,{_EVENT_ID_DIGITS}}})?[{WHITESPACE}]*$"

# Documented error responses (OpenAPI): what starting a run with a JSON body can refuse
# (see ``RunService.start``); each route adds its 401 and 404. The classes after the 400's
# text are listed there already; naming them keeps the text honest (a renamed code is added).
START_RUN_ERRORS: Final = (
    (
        400,
        "Malformed JSON, invalid fields, an empty or too long question, or a conversation id "
        "that is not an integer (`malformed_json`, `validation_error`, `invalid_question`, "
        "`question_too_long`, `invalid_conversation_id`)",
    ),
    UnknownUser,  # the signed-in account was deleted while the run was being created
    MalformedJson,
    InvalidQuestion,
    QuestionTooLong,
    InvalidConversationId,
    ConversationBusy,
    413,
    415,
    TooManyRuns,
    503,
)


def _after(last_event_id: str | None, after: int | None) -> int:
    """Where a replay starts: ``?after=`` wins over ``Last-Event-ID``; 0 = from the start.

    A malformed ``Last-Event-ID`` is a 400 even next to ``?after=``, as documented."""
    text = ""
    if last_event_id is not None:
        if not fullmatch(LAST_EVENT_ID_PATTERN, last_event_id):
            raise InvalidLastEventId()
        text = last_event_id.strip()
    start = after if after is not None else int(text) if text else 0
    return min(start, _MAX_SEQ)


def _conversation_of(data: AskRequest) -> int | None:
    """The conversation an ask continues (None: a new one); 400/404 for a bad id."""
    if data.conversation_id is None:
        return None
    return parse_conversation_id(data.conversation_id)


async def start_stream(
    runtime: RunsRuntime,
    *,
    user_id: str,
    question: str,
    conversation_id: int | None,
    dataset_id: str | None,
) -> Stream:
    """Start a run and stream its events from the first; shared with conversations."""
    started = await runtime.service.start(
        user_id=user_id,
        question=question,
        conversation_id=conversation_id,
        dataset_id=dataset_id,
    )

    def on_close(finished: bool) -> None:
        if not finished and runtime.settings.cancel_on_disconnect:
            runtime.service.cancel_local(started.run_id)

    frames = run_event_stream(
        started.run_id,
        after=0,
        channels=runtime.service.channels,
        session_maker=runtime.service.session_maker,
        keepalive_s=runtime.settings.keepalive_s,
        on_close=on_close,
    )
    return sse_response(
        frames,
        headers={"X-Run-Id": started.run_id, "X-Conversation-Id": str(started.conversation_id)},
    )


class RunsController(Controller):
    tags = ["questions"]

    @post(
        "/ask",
        status_code=200,
        guards=[require_json],
        responses=error_responses(401, ConversationNotFound, DatasetNotFound, *START_RUN_ERRORS),
    )
    async def ask(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AskRequest],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> AskResponse:
        """Ask a question and wait for the report (the run is stored like a streamed one)."""
        service = runs_runtime.service
        started = await service.start(
            user_id=current_user_id(request),
            question=data.question,
            conversation_id=_conversation_of(data),
            dataset_id=data.dataset_id,
        )
        await service.wait(started.run_id)
        return await runs_runtime.reads.answer(started.run_id, current_user_id(request))

    @post(
        "/ask-stream",
        status_code=200,
        media_type=SSE_MEDIA_TYPE,
        guards=[require_json],
        description="Ask a question; the response is the run's event stream (SSE) until it "
        f"ends. {SSE_ERRORS}",
        responses=error_responses(401, ConversationNotFound, DatasetNotFound, *START_RUN_ERRORS),
    )
    async def ask_stream(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AskRequest],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> Stream:
        """Ask a question; the response is the run's event stream (SSE) until it ends."""
        return await start_stream(
            runs_runtime,
            user_id=current_user_id(request),
            question=data.question,
            conversation_id=_conversation_of(data),
            dataset_id=data.dataset_id,
        )

    @get(
        "/runs",
        tags=["runs"],
        responses=error_responses(
            (400, "Invalid `limit` or `offset` (`validation_error`, listed in `errors`)"),
            401,
            503,
        ),
    )
    async def list_runs(
        self,
        request: Request[Any, Any, Any],
        runs_runtime: NamedDependency[RunsRuntime],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> RunList:
        """The caller's runs, newest first."""
        return await runs_runtime.reads.page(current_user_id(request), limit=limit, offset=offset)

    @get(
        "/runs/{run_id:str}",
        tags=["runs"],
        responses=error_responses(BAD_PARAMETER, 401, RunNotFound, 503),
    )
    async def get_run(
        self,
        request: Request[Any, Any, Any],
        run_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> RunView:
        """Status, plan, report, usage, timestamps and error of one run."""
        return await runs_runtime.reads.view(run_id, current_user_id(request))

    @post(
        "/runs/{run_id:str}/cancel",
        status_code=200,
        tags=["runs"],
        responses=error_responses(
            BAD_PARAMETER,
            401,
            RunNotFound,
            RunFinished,
            503,
        ),
    )
    async def cancel_run(
        self,
        request: Request[Any, Any, Any],
        run_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> RunView:
        """Cancel a running run; it ends with an ``error`` event, code ``cancelled``.

        409 if it already ended. A run executing in another worker is flagged and stops at
        that worker's next heartbeat; the response then still shows ``running``.
        """
        service = runs_runtime.service
        user_id = current_user_id(request)
        run = await runs_runtime.reads.owned(run_id, user_id)
        if run.status != "running" or not await service.cancel(run_id):
            raise RunFinished(f"The run already ended ({run.status}).")
        return await runs_runtime.reads.view(run_id, user_id)

    @post(
        "/runs/{run_id:str}/ticket",
        status_code=200,
        tags=["runs"],
        responses=error_responses(BAD_PARAMETER, 401, RunNotFound, 503),
    )
    async def ticket(
        self,
        request: Request[Any, Any, Any],
        run_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
    ) -> RunTicket:
        """A short-lived, single-use ticket for ``GET /runs/{id}/events?ticket=…`` (browser
        EventSource), good only while this sign-in lasts: a reconnect needs a new one."""
        user_id = current_user_id(request)
        signed_in_as = ticket_session(request.auth)
        if signed_in_as is None:
            raise NotAuthenticated()
        await runs_runtime.reads.owned(run_id, user_id)
        ticket, expires = runs_runtime.tickets.issue(run_id, user_id, signed_in_as)
        return RunTicket(
            ticket=ticket,
            expires_at=datetime.fromtimestamp(expires, UTC),
            events_url=f"/runs/{run_id}/events?ticket={ticket}",
        )

    @get(
        "/runs/{run_id:str}/events",
        media_type=SSE_MEDIA_TYPE,
        tags=["runs"],
        opt={"exclude_from_auth": True},
        security=OPTIONAL_AUTH,
        description="Replay the run's events after `Last-Event-ID` / `?after=`, then follow it "
        "live. Auth: `Authorization: Bearer` or `?ticket=` from `POST /runs/{id}/ticket`. "
        f"{SSE_ERRORS}",
        responses=error_responses(
            (
                400,
                "Invalid `after` or `Last-Event-ID` (`validation_error`, `invalid_last_event_id`)",
            ),
            InvalidLastEventId,
            (
                401,
                "Neither a valid access token nor a valid `?ticket=` for this run "
                "(`not_authenticated`, `invalid_ticket`)",
            ),
            NotAuthenticated,
            InvalidTicket,
            RunNotFound,
            503,
        ),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        run_id: FromPath[str],
        runs_runtime: NamedDependency[RunsRuntime],
        ticket: Annotated[str | None, QueryParameter()] = None,
        # Litestar documents neither bound of an optional integer: they are spelled out.
        after: Annotated[
            int | None,
            QueryParameter(ge=0, le=MAX_OFFSET, schema_extra={"minimum": 0, "maximum": MAX_OFFSET}),
        ] = None,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="last-event-id",
                # A header is text or absent, never JSON null.
                schema_extra={
                    "one_of": None,
                    "type": OpenAPIType.STRING,
                    "pattern": LAST_EVENT_ID_PATTERN,
                },
            ),
        ] = None,
    ) -> Stream:
        """Replay the run's events after ``Last-Event-ID`` / ``?after=``, then follow it live.

        Auth: ``Authorization: Bearer`` or ``?ticket=`` from ``POST /runs/{id}/ticket``.
        """
        user_id = await self._events_user(request, runs_runtime, run_id, ticket)
        start = _after(last_event_id, after)
        run = await runs_runtime.reads.owned(run_id, user_id)
        service = runs_runtime.service
        frames = run_event_stream(
            run_id,
            after=start,
            channels=service.channels,
            session_maker=service.session_maker,
            keepalive_s=runs_runtime.settings.keepalive_s,
        )
        if tracing_enabled():  # the replay's span links to the run's (app.telemetry)
            frames = linked_replay(frames, run_id=run_id, traceparent=run.trace_parent, after=start)
        return sse_response(frames)

    @staticmethod
    async def _events_user(
        request: Request[Any, Any, Any], runtime: RunsRuntime, run_id: str, ticket: str | None
    ) -> str:
        if ticket is not None:
            try:
                claims = runtime.tickets.verify(ticket, run_id)
                await runtime.redeem_ticket(request, claims)
            except TicketError as exc:
                raise InvalidTicket(f"Invalid run ticket: {exc}.") from exc
            return claims.user_id
        user_id = await runtime.authenticate_bearer(request)
        if user_id is None:
            raise NotAuthenticated(
                "Send a bearer token, or a ?ticket= from POST /runs/{id}/ticket.",
            )
        return user_id
