"""A step's resumable state: what its checkpoint holds, and putting it back.

The machine (:mod:`orchestrator.machine`) drives a step through its transcript
(:class:`orchestrator._prompts.StepTranscript`) and its tools
(:class:`orchestrator._tool_round.StepTools`). :class:`StepProgress` reads both into a
:class:`orchestrator.checkpoint.StepCheckpoint` whenever the run saves a checkpoint, and, for
a step resumed from one, restores them first, so the machine's loop reads the same either
way.
"""

from __future__ import annotations

import time

from orchestrator._prompts import StepTranscript
from orchestrator._tool_round import StepTools
from orchestrator.checkpoint import StepCheckpoint
from orchestrator.events import StepUsage
from orchestrator.providers.base import FunctionCallOutput, ModelTurn

__all__ = ["StepProgress"]


class StepProgress:
    """One step's conversation and counters, as a checkpoint sees them.

    ``pending`` is the tool round a resumed step must finish first (the model turn whose
    calls were running), with ``done`` its calls that finished and ``running`` the one that
    may have run.
    """

    def __init__(
        self,
        index: int,
        transcript: StepTranscript,
        tools: StepTools,
        usage: StepUsage,
        started: float,
        resumed: StepCheckpoint | None,
    ) -> None:
        self.index = index
        self._transcript = transcript
        self._tools = tools
        self._usage = usage
        self._started = started
        self.rounds = 0
        self.pending: ModelTurn | None = None
        self.done: list[FunctionCallOutput] = []
        self.running: str | None = None
        if resumed is not None:
            transcript.items = list(resumed.items)
            transcript.previous_response_id = resumed.previous_response_id
            transcript._new = list(resumed.new_items)
            tools.calls_done, tools.failures = resumed.calls_done, resumed.failures
            tools.succeeded, tools.dashboards = set(resumed.succeeded), list(resumed.dashboards)
            self.rounds, self.pending = resumed.rounds, resumed.turn
            self.done, self.running = list(resumed.outputs), resumed.running

    def snapshot(self) -> StepCheckpoint:
        transcript, tools = self._transcript, self._tools
        return StepCheckpoint(
            index=self.index,
            items=transcript.items,
            new_items=transcript._new,
            previous_response_id=transcript.previous_response_id,
            rounds=self.rounds,
            usage=self._usage,
            elapsed_ms=round((time.perf_counter() - self._started) * 1000, 3),
            calls_done=tools.calls_done,
            failures=tools.failures,
            turn=tools.turn,
            outputs=[o for o in tools.outputs if isinstance(o, FunctionCallOutput)],
            running=tools.running,
            succeeded=sorted(tools.succeeded),
            dashboards=list(tools.dashboards),
        )
