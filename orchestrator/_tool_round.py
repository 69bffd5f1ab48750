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

Tools run only after the model's turn is complete, so a provider stream that failed and was
retried never repeats a tool's side effect. Synchronous tools run on the tools' CPU thread,
so a long computation on a big upload does not stall the event loop's other runs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Final

import msgspec

from orchestrator._prompts import shorten
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

__all__ = ["StepTools"]

_SUMMARY_CHARS: Final = 300


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
        self.calls_done = 0
        self.failures = 0

    async def run_round(self, turn: ModelTurn) -> list[InputItem]:
        """Execute the turn's calls in order; return their outputs for the model."""
        outputs: list[InputItem] = []
        for call in turn.tool_calls:
            self._run.count_messages(1, self._step, self._max_messages)
            progress = (
                min(self._end - 1, self._start + self.calls_done)
                if self._end > self._start
                else self._start
            )
            result, failed = await traced_tool_call(call, self._call(call, progress))
            self.calls_done += 1
            self.failures += failed
            outputs.append(FunctionCallOutput(call.call_id, result))
        if self.failures > self._max_failures:
            raise RunFailure(
                "tool_failed",
                f"{self.failures} tool calls failed in the {self._step} step "
                f"(limit {self._max_failures})",
                step=self._step,
            )
        return outputs

    async def _call(self, call: ToolCallRequest, progress: int) -> tuple[str, bool]:
        """Execute one tool call; return (JSON output for the model, whether it failed)."""
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
        await run.tool_event(agent, f"calling {call.name}", msgspec.structs.replace(announced))
        started = time.perf_counter()
        tool = self._registry.get(call.name) if call.name in self._spec.tools else None
        error: str | None = None
        bug: Exception | None = None
        output = ""
        summary: str | None = None
        try:
            if tool is None:
                available = ", ".join(self._spec.tools) or "none"
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
            output = msgspec.json.encode(model_payload(result)).decode()
            summary = run.collect(result) or shorten(output, _SUMMARY_CHARS)
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
            await run.tool_event(
                agent,
                f"{call.name} failed: {shorten(error, _SUMMARY_CHARS)}",
                msgspec.structs.replace(
                    announced, status="failed", duration_ms=duration_ms, error=error
                ),
            )
            return msgspec.json.encode({"error": error}).decode(), True
        await run.tool_event(
            agent,
            f"{call.name} finished in {duration_ms:.0f} ms: {summary}",
            msgspec.structs.replace(
                announced, status="finished", duration_ms=duration_ms, result_summary=summary
            ),
        )
        return output, False


def _arguments_for_event(raw: str) -> dict[str, Any]:
    """The call's arguments as shown in events (malformed JSON is shown raw, shortened)."""
    try:
        value = msgspec.json.decode(raw or "{}")
    except msgspec.DecodeError:
        return {"_raw": shorten(raw, _SUMMARY_CHARS)}
    return value if isinstance(value, dict) else {"_value": value}
