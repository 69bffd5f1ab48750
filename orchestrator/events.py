"""The typed events of a run: the public contract between the orchestrator and every consumer.

Six event types (tagged on ``event_type``) kept from the original product, and one added:
``resumed``, emitted when a run continues from its last checkpoint after its worker died or
handed it over (:mod:`orchestrator.checkpoint`). Every event carries
``run_id``, a per-run strictly increasing ``seq``, a UTC ``timestamp`` with offset, the
``agent_name`` that produced it, a human ``message`` and a ``data`` payload whose ``progress``
(0-100) never decreases within a run.

Wire envelope (SSE ``data:`` line and JSON): ``{"event": {...}}`` — see :func:`encode_envelope`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from orchestrator.error_codes import ErrorCode

__all__ = [
    "TERMINAL_EVENT_TYPES",
    "AgentResponse",
    "AgentResponseData",
    "AgentThinking",
    "AgentThinkingData",
    "ChartRef",
    "CheckResult",
    "Completed",
    "CompletedData",
    "DataSourceRef",
    "EnergyBasis",
    "ErrorData",
    "ErrorEvent",
    "Event",
    "EventType",
    "GroundingChecks",
    "GroundingVerdict",
    "PlanStepRef",
    "Resumed",
    "ResumedData",
    "RunUsage",
    "Started",
    "StartedData",
    "StepUsage",
    "ToolExecution",
    "ToolExecutionData",
    "decode_envelope",
    "decode_event",
    "encode_envelope",
    "encode_event",
    "utc_timestamp",
]

EventType = Literal[
    "started",
    "agent_thinking",
    "agent_response",
    "tool_execution",
    "completed",
    "error",
    "resumed",
]
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset({"completed", "error"})


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 UTC timestamp with an explicit ``+00:00`` offset (never a naive time)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


# What a run's energy estimate rests on: "llm_tokens" (tokens x [accounting]
# wh_per_1k_tokens), "cpu_time" (the offline engine's measured CPU time x watts_per_core: no
# language model ran) or "none" (nothing was computed yet, e.g. a run that failed at once).
EnergyBasis = Literal["llm_tokens", "cpu_time", "none"]


class StepUsage(msgspec.Struct, kw_only=True):
    """What one step (or the planner call) consumed.

    Language-model calls count in ``llm_calls`` and the token fields; the offline engine runs
    no model, so its turns leave them (and ``cost_usd``) at 0 and add the CPU time they took
    to ``cpu_ms`` instead.
    """

    llm_calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    wall_ms: float = 0.0
    tool_ms: float = 0.0
    cost_usd: float = 0.0  # estimated from [accounting.prices]; 0 for an unpriced model
    cpu_ms: float = 0.0  # measured CPU time of the offline engine's turns (0 for an LLM)


class RunUsage(StepUsage, kw_only=True):
    """Totals for a run, plus the run's own estimated footprint (estimates, not measurements).

    ``energy_wh`` is the estimated energy of LLM use (0 when no language model ran);
    ``cpu_energy_wh`` the estimated energy of the offline engine's measured CPU time;
    ``emissions_g_co2e`` the emissions of both at the configured grid intensity;
    ``energy_basis`` says which estimate the run rests on.
    """

    energy_wh: float = 0.0
    emissions_g_co2e: float = 0.0
    messages: int = 0
    cpu_energy_wh: float = 0.0
    energy_basis: EnergyBasis = "llm_tokens"


class PlanStepRef(msgspec.Struct, kw_only=True):
    """A planned step as shown to clients. ``kind`` names the step's assistant: ``carbon``,
    ``analysis`` or ``report``, or an assistant the embedder added."""

    kind: str
    task: str


class DataSourceRef(msgspec.Struct, kw_only=True):
    """Provenance of data a run used; ``synthetic`` marks generated (not measured) data."""

    name: str
    kind: str
    synthetic: bool
    detail: str = ""
    url: str | None = None


class ChartRef(msgspec.Struct, kw_only=True):
    """A chart produced by a run, as an inline SVG document. ``url`` is where the host serves
    it as an image (the service: ``/images/<unguessable id>.png``); None when it does not."""

    id: str
    title: str
    svg: str
    url: str | None = None


class StartedData(msgspec.Struct, kw_only=True):
    progress: int = 0
    run_id: str
    # RunContext.conversation_id as given: the HTTP service's ids are integers (JSON numbers).
    conversation_id: int | str | None = None
    question: str
    # The caller's context (RunContext.user_id / .metadata), so consumers of the events can
    # attribute a run without a second lookup.
    user_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class AgentThinkingData(msgspec.Struct, kw_only=True):
    progress: int
    state: str
    step: str | None = None
    step_index: int | None = None
    partial_text: str | None = None
    plan: list[PlanStepRef] | None = None


class AgentResponseData(msgspec.Struct, kw_only=True):
    progress: int
    step: str
    step_index: int | None = None
    output: str
    usage: StepUsage
    duration_ms: float
    # The planner's reading of the question (intent, places, dates, quantities per ask), when
    # the planner states one; None for steps.
    interpretation: dict[str, Any] | None = None


class ToolExecutionData(msgspec.Struct, kw_only=True):
    progress: int
    step: str
    call_id: str
    tool: str
    status: Literal["started", "finished", "failed"]
    arguments: dict[str, Any]
    duration_ms: float | None = None
    result_summary: str | None = None
    error: str | None = None


CheckResult = Literal["ok", "failed", "skipped"]


class GroundingChecks(msgspec.Struct, kw_only=True):
    """Each grounding check of a run: ``ok``, ``failed`` (after its one retry) or ``skipped``
    (not applicable: no data question, no tools offered, no language model)."""

    data_question: bool = False
    """Whether the question needs data (read as the offline engine reads questions)."""
    data_step: CheckResult = "skipped"
    """A data question's plan has a step with data tools."""
    tools_called: CheckResult = "skipped"
    """Every step offered data tools for a data question called at least one."""
    numbers: CheckResult = "skipped"
    """Every figure of the report is in a tool result or the question (or a rounding of one)."""
    echo: CheckResult = "skipped"
    """No answer repeated its prompt (a failure ends the run: ``llm_echoed_prompt``)."""


class GroundingVerdict(msgspec.Struct, kw_only=True):
    """How well the run's answer is grounded: the ``completed`` event's ``data.grounding``.

    ``flagged``: a check failed after its retry; the report is delivered, marked. ``unchecked``:
    no language model answered (the offline engine grounds by construction) or the checks are
    off (``[budgets] grounding_checks``).
    """

    status: Literal["ok", "flagged", "unchecked"]
    ungrounded_numbers: list[str] = msgspec.field(default_factory=list)
    checks: GroundingChecks = msgspec.field(default_factory=GroundingChecks)
    retried: list[str] = msgspec.field(default_factory=list)
    """The checks that made a step answer again (each at most once per step)."""


class CompletedData(msgspec.Struct, kw_only=True):
    progress: int = 100
    full_content: str
    final_response: str
    plan: list[PlanStepRef]
    usage: RunUsage
    sources: list[DataSourceRef]
    charts: list[ChartRef] = msgspec.field(default_factory=list)
    duration_ms: float
    # Additive (issue 15): the grounding checks' verdict; None from emitters that run none.
    grounding: GroundingVerdict | None = None


class ErrorData(msgspec.Struct, kw_only=True):
    progress: int
    code: ErrorCode
    error: str
    step: str | None = None
    retryable: bool = False
    # What the run had done before it ended: a failed run still paid for its LLM calls.
    # None when the error did not come from the orchestrator (e.g. a server restart).
    plan: list[PlanStepRef] | None = None
    usage: RunUsage | None = None


class ResumedData(msgspec.Struct, kw_only=True):
    """A run continues from its last checkpoint (on this or another worker).

    ``from_step`` is where it goes on: ``planner`` (no plan was made yet), the kind of the
    step it continues or starts, or ``completed`` (every step was done: only the final event
    was missing); ``step_index`` is that step's index in the plan (None otherwise).
    ``attempt`` counts the resumes (1 for the first). ``reason`` says why, e.g.
    ``worker_lost`` (its process died) or ``handover`` (its worker shut down gracefully).
    Steps whose ``agent_response`` came before this event are never run again.
    """

    progress: int
    from_step: str
    step_index: int | None = None
    attempt: int
    reason: str


class _EventBase(
    msgspec.Struct, kw_only=True, tag_field="event_type", omit_defaults=False, frozen=True
):
    run_id: str
    seq: int
    timestamp: str
    agent_name: str
    message: str


class Started(_EventBase, tag="started", frozen=True, kw_only=True):
    data: StartedData


class AgentThinking(_EventBase, tag="agent_thinking", frozen=True, kw_only=True):
    data: AgentThinkingData


class AgentResponse(_EventBase, tag="agent_response", frozen=True, kw_only=True):
    data: AgentResponseData


class ToolExecution(_EventBase, tag="tool_execution", frozen=True, kw_only=True):
    data: ToolExecutionData


class Resumed(_EventBase, tag="resumed", frozen=True, kw_only=True):
    data: ResumedData


class Completed(_EventBase, tag="completed", frozen=True, kw_only=True):
    data: CompletedData


class ErrorEvent(_EventBase, tag="error", frozen=True, kw_only=True):
    data: ErrorData


Event = Started | AgentThinking | AgentResponse | ToolExecution | Completed | ErrorEvent | Resumed


class _Envelope(msgspec.Struct, frozen=True):
    event: Event


_encoder = msgspec.json.Encoder()
_event_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)
_envelope_decoder = msgspec.json.Decoder(_Envelope)


def encode_event(event: Event) -> bytes:
    """The event as one JSON object (no envelope)."""
    return _encoder.encode(event)


def encode_envelope(event: Event) -> bytes:
    """The wire form ``{"event": {...}}``: one line of JSON, safe for an SSE ``data:`` line."""
    return b'{"event":' + _encoder.encode(event) + b"}"


def decode_event(raw: bytes | str) -> Event:
    """Parse and validate one event (no envelope)."""
    return _event_decoder.decode(raw)


def decode_envelope(raw: bytes | str) -> Event:
    """Parse and validate the wire form ``{"event": {...}}``."""
    return _envelope_decoder.decode(raw).event
