"""What the run endpoints need at request time, built once per app in the runs lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from app.runs.reads import RunReads
from app.runs.service import RunService
from app.runs.tickets import TicketClaims, TicketSigner
from app.settings import RunSettings

__all__ = ["BearerAuthenticator", "RunsRuntime", "TicketRedeemer"]

BearerAuthenticator = Callable[[Request[Any, Any, Any]], Awaitable[str | None]]
"""Returns the user id of a valid ``Authorization: Bearer`` access token, else None."""

TicketRedeemer = Callable[[Request[Any, Any, Any], TicketClaims], Awaitable[None]]
"""Accepts a signature-checked ticket once, while its session lasts; else raises
:class:`~app.runs.tickets.TicketError` saying why."""


@dataclass(frozen=True, eq=False)
class RunsRuntime:
    settings: RunSettings
    service: RunService
    # The run endpoints' reads (the caller's run, a page of runs, an ask's answer).
    reads: RunReads
    tickets: TicketSigner
    authenticate_bearer: BearerAuthenticator
    redeem_ticket: TicketRedeemer
    # The services the orchestrator's tools use (grid source, chart renderer), shared with
    # the HTTP handlers that draw charts themselves (``GET /images/co2plot_…``).
    tool_services: Mapping[str, Any] = field(default_factory=dict)
