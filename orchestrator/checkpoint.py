"""Durable runs: what a run must remember to continue elsewhere, and where it is kept.

The machine saves a :class:`Checkpoint` at every step boundary: with the ``started`` event,
after the plan, after each completed step, and when each tool call starts and ends (so a
round of calls cut off half-way keeps the calls that finished, and knows which one may have
run). A checkpoint is the run's resumable state — the plan, the outputs of the completed
steps, the usage so far, the sources and charts collected, and for a step in progress its
conversation with the model and its current tool round — plus ``seq``, the ``seq`` of the
boundary event it belongs to.

A :class:`Checkpointer` keeps the newest checkpoint of each run. The machine calls
:meth:`Checkpointer.save` just *before* it emits the boundary event, so a store that persists
events too can write both in one transaction (the service does: the checkpoint is committed
with the event whose ``seq`` it carries, or not at all). :class:`InMemoryCheckpointer` is the
library's own, for embedders and tests; :meth:`orchestrator.Orchestrator.resume` continues a
run from one, emitting a ``resumed`` event and never repeating a completed model step.

Checkpoints are versioned msgspec JSON. One that cannot be decoded (corrupt, or written by a
build whose plan or step schema differs) raises :class:`CheckpointInvalid`: a host must end
that run cleanly (code ``checkpoint_invalid``), not retry it.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

import msgspec

from orchestrator.events import ChartRef, DataSourceRef, RunUsage, StepUsage
from orchestrator.grounding import GroundingState
from orchestrator.plan import Plan
from orchestrator.providers.base import FunctionCallOutput, InputItem, ModelTurn

__all__ = [
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "CheckpointInvalid",
    "Checkpointer",
    "InMemoryCheckpointer",
    "StepCheckpoint",
    "StepOutput",
    "decode_checkpoint",
    "encode_checkpoint",
]

CHECKPOINT_VERSION: Final = 1


class StepOutput(msgspec.Struct, frozen=True):
    """A completed step: its kind and the answer its model gave (never asked again)."""

    kind: str
    output: str


class StepCheckpoint(msgspec.Struct, kw_only=True):
    """A step in progress: its conversation so far and its current tool round.

    ``items`` is the step's transcript (its first message, then each finished round: the
    model's turn and the calls' outputs); ``new_items`` and ``previous_response_id`` are what
    a chained (``previous_response_id``) request sends next. ``turn`` is the model turn whose
    tool calls are executing, ``outputs`` the outputs of those of its calls that finished, in
    order; both are empty between rounds. ``running`` is the id of the call that had
    started and not finished (it may have run).
    """

    index: int
    items: list[InputItem]
    new_items: list[InputItem] = msgspec.field(default_factory=list)
    previous_response_id: str | None = None
    rounds: int = 0
    usage: StepUsage = msgspec.field(default_factory=StepUsage)
    elapsed_ms: float = 0.0
    calls_done: int = 0
    failures: int = 0
    turn: ModelTurn | None = None
    outputs: list[FunctionCallOutput] = msgspec.field(default_factory=list)
    running: str | None = None
    succeeded: list[str] = msgspec.field(default_factory=list)  # tools with a successful call
    dashboards: list[str] = msgspec.field(default_factory=list)  # put into the step's answer


class Checkpoint(msgspec.Struct, kw_only=True):
    """The resumable state of one run at the boundary event numbered ``seq``.

    ``attempt`` counts the resumes before the attempt that wrote it (0: the first run).
    ``now`` is the run's pinned "now" (ISO 8601), so a resumed step sees the same day.
    ``plan`` None: the run died before its plan was made (it resumes by planning).
    """

    version: int = CHECKPOINT_VERSION
    run_id: str
    seq: int
    attempt: int = 0
    progress: int = 0
    now: str
    plan: Plan | None = None
    outputs: list[StepOutput] = msgspec.field(default_factory=list)
    usage: RunUsage = msgspec.field(default_factory=RunUsage)
    sources: list[DataSourceRef] = msgspec.field(default_factory=list)
    charts: list[ChartRef] = msgspec.field(default_factory=list)
    step: StepCheckpoint | None = None
    grounding: GroundingState | None = None  # None: no grounding checks ran before it


class CheckpointInvalid(Exception):
    """A stored checkpoint cannot be decoded (corrupt, or from an incompatible build)."""


class _Version(msgspec.Struct):
    version: int = 0


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Checkpoint)
_version_decoder: Final = msgspec.json.Decoder(_Version)


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as compact JSON (what stores keep)."""
    return _encoder.encode(checkpoint)


def decode_checkpoint(raw: bytes | str) -> Checkpoint:
    """Parse and validate a stored checkpoint; :class:`CheckpointInvalid` says why not."""
    try:
        version = _version_decoder.decode(raw).version
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointInvalid(f"the checkpoint is not valid JSON: {exc}") from None
    if version != CHECKPOINT_VERSION:
        raise CheckpointInvalid(
            f"the checkpoint has version {version}; this build reads version {CHECKPOINT_VERSION}"
        )
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointInvalid(f"the checkpoint does not match this build: {exc}") from None


@runtime_checkable
class Checkpointer(Protocol):
    """Where a run's newest checkpoint is kept.

    ``save`` is awaited just before the boundary event numbered ``checkpoint.seq`` is
    emitted; it replaces the run's previous checkpoint. A store that also persists events
    should make the checkpoint visible only together with that event (one transaction).
    ``load`` returns the run's newest checkpoint (None if it has none) or raises
    :class:`CheckpointInvalid`.
    """

    async def save(self, checkpoint: Checkpoint) -> None: ...

    async def load(self, run_id: str) -> Checkpoint | None: ...


class InMemoryCheckpointer:
    """Checkpoints in this process's memory, encoded (a saved checkpoint is a snapshot: the
    run's later changes never leak into it). For embedders and tests; lost with the process.
    """

    def __init__(self) -> None:
        self._stored: dict[str, bytes] = {}
        self.saves = 0

    async def save(self, checkpoint: Checkpoint) -> None:
        self._stored[checkpoint.run_id] = encode_checkpoint(checkpoint)
        self.saves += 1

    async def load(self, run_id: str) -> Checkpoint | None:
        raw = self._stored.get(run_id)
        return None if raw is None else decode_checkpoint(raw)

    def raw(self, run_id: str) -> bytes | None:
        """The stored bytes of the run's checkpoint (its size is the cost of a save)."""
        return self._stored.get(run_id)

    def discard(self, run_id: str) -> None:
        """Forget a run (e.g. once it has ended)."""
        self._stored.pop(run_id, None)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._stored
