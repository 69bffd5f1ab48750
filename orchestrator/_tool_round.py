"""Executing the tool calls a model turn asks for: one round at a time, one call at a time.

A :class:`StepTools` belongs to one step. Each round it runs the turn's calls one after the
other, in the order the model made them; it announces every call with a ``tool_execution``
event, reports how the call ended in another, and returns each call's output for the model.
A call that fails in a way the model can fix (an unknown tool, arguments that do not decode,
a :class:`tools.catalog_types.ToolError`) goes back to the model as ``{"error": …}``; any
other exception is a tool bug, logged with its traceback and sent back as an error too, so
one broken tool cannot take the run down. The step's budgets end the run instead: every
call counts against the run's messages, and more failed calls in the step than
``tool_error_retries`` end it with ``tool_failed``.

A result goes back to the model compact (:func:`orchestrator._results.compact_result`: its
summary, key figures and ``ref`` = the call id), with the whole result beside it for the
offline engine; the run keeps the full result under that ref (``RunRecord.tool_results``). A
dashboard the step renders is not copied by the model: :meth:`StepTools.finish` puts it into
the step's answer under ``## Dashboard`` (unless the answer already holds it).

Each call's output joins the round's outputs before the event that says it ended, so the
checkpoint saved with that event (:mod:`orchestrator.checkpoint`) holds it; a resumed round
goes on after the calls that finished, repeating the one that was running only if its tool
is idempotent.

Tools run only after the model's turn is complete, so a provider stream that failed and was
retried never repeats a tool's side effect. Synchronous tools run on the tools' CPU thread,
so a long computation on a big upload does not stall the event loop's other runs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from orchestrator._prompts import shorten
from orchestrator._results import compact_result
from orchestrator._run import RunFailure, RunRecord
from orchestrator.assistants import AssistantSpec
from orchestrator.events import StepUsage, ToolExecutionData
from orchestrator.providers.base import (
    FunctionCallOutput,
    InputItem,
    ModelTurn,
    ToolCallRequest,
)
from orchestrator.registry import ToolRegistry
from orchestrator.telemetry import traced_tool_call
from tools.catalog_types import ToolContext, ToolError, model_payload
from tools.cpu import run_cpu_bound
from tools.render.tools import DashboardResult

__all__ = ["StepTools"]

_SUMMARY_CHARS: Final = 300
_DASHBOARD_NOTE: Final = "the system inserts this dashboard under '## Dashboard'; do not copy it"


class StepTools:
    """The tools of one step's assistant, and the step's tool counters across its rounds.

    ``progress`` is the step's span of the run's progress: each call started moves the
    events one point along it, staying below its end (the step's response reaches it).
    """

    def __init__(
        self,
        run: RunRecord,
        step: str,
        spec: AssistantSpec,
        registry: ToolRegistry,
        context: ToolContext,
        usage: StepUsage,
        *,
        progress: tuple[int, int],
        max_messages: int,
        max_failures: int,
        allowed: tuple[str, ...] | None = None,
    ) -> None:
        self._run = run
        self._step = step
        self._spec = spec
        self._registry = registry
        self._context = context
        self._usage = usage
        self._start, self._end = progress
        self._max_messages = max_messages
        self._max_failures = max_failures
        # The tools this step was offered (the plan's choice), else all of its assistant's.
        self.allowed = allowed if allowed is not None else spec.tools
        self.dashboards: list[str] = []
        self.succeeded: set[str] = set()  # tools with at least one successful call
        self.calls_done = 0
        self.failures = 0
        # The round in progress: the turn whose calls run, and the outputs of those finished.
        self.turn: ModelTurn | None = None
        self.outputs: list[InputItem] = []
        self.running: str | None = None  # the call started and not finished (checkpoints)

    async def run_round(
        self,
        turn: ModelTurn,
        done: Sequence[FunctionCallOutput] = (),
        *,
        running: str | None = None,
    ) -> list[InputItem]:
        """Execute the turn's calls in order; return their outputs for the model.

        ``done`` are the outputs of the turn's first calls, finished by an earlier attempt of
        the run (a resumed round goes on after them). ``running``: the id of the call after
        them that had started when that attempt died, so it may have run; it runs again only
        if its tool is idempotent, else the model is told it was not repeated.
        """
        self.turn = turn
        self.outputs = list(done)
        for position, call in enumerate(turn.tool_calls[len(done) :]):
            self._run.count_messages(1, self._step, self._max_messages)
            progress = (
                min(self._end - 1, self._start + self.calls_done)
                if self._end > self._start
                else self._start
            )
            tool = self._registry.get(call.name)
            if position == 0 and running == call.call_id and tool and not tool.idempotent:
                await self._not_repeated(call, progress)
            else:
                await traced_tool_call(call, self._call(call, progress))
        if self.failures > self._max_failures:
            raise RunFailure(
                "tool_failed",
                f"{self.failures} tool calls failed in the {self._step} step "
                f"(limit {self._max_failures})",
                step=self._step,
            )
        outputs: list[InputItem] = list(self.outputs)
        self.turn, self.outputs = None, []
        return outputs

    def used_all(self, names: tuple[str, ...]) -> bool:
        """Whether each of ``names`` was called successfully at least once."""
        return all(name in self.succeeded for name in names)

    def finish(self, answer: str) -> str:
        """The step's answer, with the dashboards it rendered that the answer lacks."""
        missing = [text for text in self.dashboards if text.strip() not in answer]
        if not missing:
            return answer
        block = "\n\n".join(f"```text\n{text.rstrip()}\n```" for text in missing)
        heading = "## Dashboard"
        at = answer.find(heading)
        if at == -1:
            return f"{answer.rstrip()}\n\n{heading}\n\n{block}"
        end = at + len(heading)
        return f"{answer[:end]}\n\n{block}\n{answer[end:]}"

    def _finish(
        self, call: ToolCallRequest, output: str, failed: bool, result: str | None = None
    ) -> None:
        """Count a call as done, before the event that says so (its checkpoint has it).

        ``output`` is what the model reads, ``result`` the whole result when that differs."""
        self.running = None
        self.calls_done += 1
        self.failures += failed
        if not failed:
            self.succeeded.add(call.name)
        self.outputs.append(FunctionCallOutput(call.call_id, output, result=result))

    async def _not_repeated(self, call: ToolCallRequest, progress: int) -> None:
        """A non-idempotent call that may have run before the run was resumed: not repeated."""
        error = (
            f"{call.name} was interrupted when the run moved to another worker and may or "
            "may not have run; it is not idempotent, so it was not repeated"
        )
        self._finish(call, msgspec.json.encode({"error": error}).decode(), False)
        await self._run.tool_event(
            self._step,
            f"{call.name} not repeated after the run resumed",
            ToolExecutionData(
                progress=progress,
                step=self._step,
                call_id=call.call_id,
                tool=call.name,
                status="failed",
                arguments=_arguments_for_event(call.arguments),
                error=error,
            ),
        )

    async def _call(self, call: ToolCallRequest, progress: int) -> tuple[str, bool]:
        """Execute one tool call; its output for the model joins the round's outputs (and is
        returned, with whether it failed, for the call's span)."""
        run, agent = self._run, self._step
        announced = ToolExecutionData(
            progress=progress,
            step=agent,
            call_id=call.call_id,
            tool=call.name,
            status="started",
            arguments=_arguments_for_event(call.arguments),
        )
        # The finished/failed events repeat the call's fields; progress stays the caller's.
        self.running = call.call_id
        await run.tool_event(agent, f"calling {call.name}", msgspec.structs.replace(announced))
        started = time.perf_counter()
        tool = self._registry.get(call.name) if call.name in self.allowed else None
        error: str | None = None
        bug: Exception | None = None
        output = ""
        compact: Any = None
        summary: str | None = None
        try:
            if tool is None:
                available = ", ".join(self.allowed) or "none"
                raise ToolError(f"unknown tool {call.name!r}; available tools: {available}")
            try:
                args = msgspec.json.decode(call.arguments or "{}", type=tool.input_type)
            except msgspec.ValidationError as exc:
                raise ToolError(f"invalid arguments for {call.name}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise ToolError(f"arguments for {call.name} are not valid JSON: {exc}") from None
            if inspect.iscoroutinefunction(tool.fn):
                result = await tool.fn(args, self._context)
            else:
                # Synchronous tools (footprints, table analysis) can take tens of ms on a big
                # upload: the tools' CPU thread keeps the loop serving other runs meanwhile.
                result = await run_cpu_bound(tool.fn, args, self._context)
            if inspect.isawaitable(result):
                result = await result
            payload = model_payload(result)
            output = msgspec.json.encode(payload).decode()
            summary = run.collect(result) or shorten(output, _SUMMARY_CHARS)
            run.tool_results[call.call_id] = payload
            if isinstance(result, DashboardResult):
                self.dashboards.append(result.text)
                compact = {
                    "ref": call.call_id,
                    "summary": summary,
                    "note": _DASHBOARD_NOTE,
                }
            else:
                compact = compact_result(payload, ref=call.call_id, summary=summary)
        except ToolError as exc:
            error = str(exc)
        except (asyncio.CancelledError, RunFailure):
            raise
        except Exception as exc:
            error = f"{call.name} raised {type(exc).__name__}: {exc}"
            bug = exc
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if bug is not None:  # a tool bug, not a domain error: operators need the traceback
            run.log.error("run.tool_error", tool=call.name, exc_info=bug)
        self._usage.tool_ms += duration_ms
        run.usage.tool_ms += duration_ms
        if error is not None:
            run.log.info("run.tool_failed", tool=call.name, error=error)
            failed = msgspec.json.encode({"error": error}).decode()
            self._finish(call, failed, True)
            await run.tool_event(
                agent,
                f"{call.name} failed: {shorten(error, _SUMMARY_CHARS)}",
                msgspec.structs.replace(
                    announced, status="failed", duration_ms=duration_ms, error=error
                ),
            )
            return failed, True
        for_model = msgspec.json.encode(compact).decode()
        self._finish(call, for_model, False, None if for_model == output else output)
        await run.tool_event(
            agent,
            f"{call.name} finished in {duration_ms:.0f} ms: {summary}",
            msgspec.structs.replace(
                announced, status="finished", duration_ms=duration_ms, result_summary=summary
            ),
        )
        return for_model, False


def _arguments_for_event(raw: str) -> dict[str, Any]:
    """The call's arguments as shown in events (malformed JSON is shown raw, shortened)."""
    try:
        value = msgspec.json.decode(raw or "{}")
    except msgspec.DecodeError:
        return {"_raw": shorten(raw, _SUMMARY_CHARS)}
    return value if isinstance(value, dict) else {"_value": value}
