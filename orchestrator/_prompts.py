"""What the machine tells the model: the planner's and each step's input, and the hints.

Every model call of a run starts from the same facts: the question, the time (UTC and the
users' local clock), a trimmed conversation history, the uploaded dataset's shape, and for a
step the plan and the outputs of the steps before it, never their transcripts, which keeps
tokens low and steps independent. The text builders here state those facts as lines of prose
for network models; :func:`hints` states them as the structured
:class:`orchestrator.context.RequestHints` the offline engine reads instead of parsing prose.
They are pure functions of the run record, so a prompt can be read and tested on its own.

:class:`StepTranscript` is how a step's conversation grows round by round: the model's own
turn as it produced it, then the tools' outputs, and what the next request sends of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from orchestrator._run import RunRecord
from orchestrator.assistants import AssistantSpec, describe
from orchestrator.plan import PlanStep
from orchestrator.providers.base import (
    AssistantMessage,
    FunctionCall,
    InputItem,
    ModelTurn,
    UserMessage,
)
from tools.grid.zones import region_zone

__all__ = [
    "StepTranscript",
    "hints",
    "history",
    "planner_input",
    "shorten",
    "step_input",
]

# The users' clock (Ireland and Great Britain keep the same one): models are told the local
# time so they resolve "today" and "after 6pm" as the grid tools read them.
_USERS_ZONE: Final = region_zone("all")
_HISTORY_ANSWER_CHARS: Final = 800


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def history(run: RunRecord, max_pairs: int) -> list[dict[str, str]]:
    """The last ``max_pairs`` question/answer pairs, answers shortened (none when 0)."""
    pairs = list(run.context.history)[-max_pairs:] if max_pairs > 0 else []
    return [
        {"question": pair.question, "answer": shorten(pair.answer, _HISTORY_ANSWER_CHARS)}
        for pair in pairs
    ]


def hints(
    run: RunRecord,
    role: str,
    *,
    max_history_pairs: int,
    step: PlanStep | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """The structured facts of :class:`orchestrator.context.RequestHints`."""
    dataset = run.context.dataset
    return {
        "role": role,
        "question": run.question,
        "task": step.task if step is not None else None,
        "step_index": index,
        "plan": (
            [{"kind": s.kind, "task": s.task} for s in run.plan.steps]
            if step is not None and run.plan is not None
            else None
        ),
        "now": run.now_iso,
        "history": history(run, max_history_pairs),
        "dataset": (
            {
                "id": dataset.id,
                "name": dataset.name,
                "kind": dataset.kind,
                "columns": list(dataset.columns),
                "rows": len(dataset.rows),
            }
            if dataset is not None
            else None
        ),
        "earlier_outputs": [{"kind": kind, "output": output} for kind, output in run.outputs],
    }


def _context_lines(run: RunRecord, max_history_pairs: int) -> list[str]:
    local = datetime.fromisoformat(run.now_iso).astimezone(_USERS_ZONE)
    lines = [
        f"Question: {run.question}",
        # Users are in Ireland and Great Britain (same clock); grid tools take local dates
        # and hours, so "today" and "after 6pm" are resolved in this time.
        f"Now: {run.now_iso} UTC; local (IE/GB) {local:%A %Y-%m-%d %H:%M} {local.tzname()}",
    ]
    pairs = history(run, max_history_pairs)
    if pairs:
        lines.append("Conversation so far (oldest first):")
        for pair in pairs:
            lines.append(f"- Q: {pair['question']}\n  A: {pair['answer']}")
    dataset = run.context.dataset
    if dataset is not None:
        lines.append(
            f"Uploaded dataset: {dataset.name!r} ({dataset.kind}, {len(dataset.rows)} rows; "
            f"columns: {', '.join(dataset.columns)}). Tools read it with use_dataset=true."
        )
    return lines


def planner_input(
    run: RunRecord,
    *,
    max_history_pairs: int,
    listed_kinds: Mapping[str, AssistantSpec] | None,
) -> str:
    """The planner's message; ``listed_kinds`` names every step kind it may plan.

    The built-in planner instructions list the built-in kinds only, so an orchestrator with
    added assistants passes all its kinds here (``None`` when there are none to add).
    """
    lines = _context_lines(run, max_history_pairs)
    if listed_kinds:
        lines.append(
            f"Step kinds you may plan (1 to {len(listed_kinds)} steps, each kind at most "
            "once, 'report' always the last step):"
        )
        lines += [f"- {kind}: {describe(spec)}" for kind, spec in listed_kinds.items()]
    return "\n".join(lines)


def step_input(run: RunRecord, index: int, step: PlanStep, *, max_history_pairs: int) -> str:
    """A step's first message: the facts, the plan, its task, the earlier steps' findings.

    The plan is its steps' kinds only: a step needs its own task and the findings before it,
    not the other steps' tasks (which the planner's event shows to people)."""
    lines = _context_lines(run, max_history_pairs)
    if run.plan is not None:
        lines.append("Plan: " + ", ".join(s.kind for s in run.plan.steps))
        total = len(run.plan.steps)
    else:
        total = index + 1
    lines.append(f"Your task (step {index + 1} of {total}, {step.kind}): {step.task}")
    for kind, output in run.outputs:
        lines.append(f"Findings of the {kind} step:\n{output}")
    return "\n".join(lines)


class StepTranscript:
    """One step's conversation with its model, from its first message on.

    With ``previous_response_id`` chaining on, a request after a round sends only that
    round's tool outputs and the id of the response that asked for them; otherwise (the
    portable default, or a provider that returned no id) it sends the whole transcript.
    """

    def __init__(self, first_message: str, *, chain_responses: bool) -> None:
        self.items: list[InputItem] = [UserMessage(first_message)]
        self.previous_response_id: str | None = None
        self._chain_responses = chain_responses
        self._new: list[InputItem] = []

    def request_input(self) -> tuple[InputItem, ...]:
        return tuple(self._new if self.previous_response_id else self.items)

    def add_round(self, turn: ModelTurn, outputs: list[InputItem]) -> None:
        """The model's turn as it produced it, then the outputs of the calls it asked for."""
        echoed: list[InputItem] = []
        if turn.text:
            echoed.append(AssistantMessage(turn.text))
        # Opaque provider items (e.g. encrypted reasoning) directly precede the calls they
        # led to, as the model produced them.
        echoed += turn.replay_items
        echoed += [
            FunctionCall(call.call_id, call.name, call.arguments) for call in turn.tool_calls
        ]
        self.items += echoed + outputs
        self._new = outputs
        self.previous_response_id = turn.response_id if self._chain_responses else None

    def add_correction(self, answer: str | None, message: str) -> None:
        """The model's rejected answer (if it is worth showing), then what to do instead."""
        added: list[InputItem] = [AssistantMessage(answer)] if answer else []
        added.append(UserMessage(message))
        self.items += added
        self._new = [*self._new, *added]
