"""One logical model call: read the provider's stream, retry what may be retried, count it.

A call counts against the run's message budget, then reads one provider stream: text deltas
become ``agent_thinking`` events with the partial text (at most one per
``stream_delta_interval_ms``, none for the planner, whose text is its JSON plan), tool calls
streamed before the final turn are kept for it, and the final :class:`ModelTurn` ends the
read. A retryable :class:`ProviderError` (rate limit, timeout, unavailable) is retried up to
``provider_retries`` times after the delay the provider asked for, else an exponential
backoff, each retry announced as a thinking event; a retry that would end after the run's
deadline is not attempted. A stale pooled connection (the server closed a kept-alive
connection as the request went out) is retried at once, once per call, without using a retry.
An answer cut off at the output token limit (:class:`OutputTruncated`) is raised as is: the
machine retries the planner or asks the step for a shorter answer. Any other provider error,
or the last one, ends the run with the provider's stable code; every retry's log line
(``run.provider_retry``) carries the error message. The turn's tokens and cost go to both the
step's and the run's usage, and every attempt, answered or failed, is reported to the host's
observer if it gave one (:mod:`orchestrator.observe`).

Kept apart from the machine because none of this is a state: it is how the planner and every
step talk to the provider, the same for both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import msgspec

from orchestrator._run import ERROR_CODES, RunFailure, RunRecord
from orchestrator.accounting import add_turn, turn_cost_usd
from orchestrator.config import AccountingConfig, BudgetConfig
from orchestrator.events import StepUsage
from orchestrator.observe import ModelCall, RunObserver
from orchestrator.providers.base import (
    ModelRequest,
    ModelTurn,
    OutputTruncated,
    Provider,
    ProviderError,
    ProviderUnavailable,
    TextDelta,
    ToolCallRequest,
)
from orchestrator.telemetry import traced_model_call

__all__ = ["call_model"]


async def call_model(
    run: RunRecord,
    agent: str,
    step_index: int | None,
    request: ModelRequest,
    usage: StepUsage,
    *,
    provider: Provider,
    budgets: BudgetConfig,
    accounting: AccountingConfig,
    delta_interval_s: float,
    observer: RunObserver | None = None,
) -> ModelTurn:
    """One logical model call, retried with backoff on retryable provider errors."""
    run.count_messages(1, agent, budgets.max_messages_per_run)
    # A provider that computes its turn without I/O (the offline engine, a scripted or
    # cached one) never suspends, so a run would hold the loop from one tool thread hop to
    # the next: yield once per model call so concurrent runs and other clients take turns.
    await asyncio.sleep(0)
    attempt = 0
    stale_retried = False
    loop = asyncio.get_running_loop()
    while True:
        began = time.perf_counter()
        try:
            turn = await traced_model_call(
                provider.name,
                request,
                _read_stream(run, agent, step_index, request, provider, delta_interval_s),
            )
        except OutputTruncated:
            raise  # the machine decides: the planner's retries, or a shorter step answer
        except ProviderError as exc:
            if exc.stale_connection and not stale_retried:
                # A kept-alive connection the server had closed: try again at once on a new
                # one, without using a retry (the server is fine; the pool was stale).
                stale_retried = True
                run.log.info(
                    "run.provider_retry",
                    code=exc.code,
                    error=exc.message,
                    attempt=attempt,
                    delay_s=0.0,
                    stale_connection=True,
                )
                if observer is not None:
                    _observe_failure(observer, run, agent, provider, request, exc, began, False)
                continue
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else budgets.retry_backoff_s * 2**attempt
            )
            final = not exc.retryable or attempt >= budgets.provider_retries
            late = not final and loop.time() + delay >= run.deadline
            if observer is not None:
                _observe_failure(observer, run, agent, provider, request, exc, began, final or late)
            if final:
                raise RunFailure(
                    exc.code, exc.message, step=agent, retryable=exc.retryable
                ) from None
            if late:
                raise RunFailure(
                    exc.code,
                    f"{exc.message} (retry in {delay:g} s would exceed the run time limit)",
                    step=agent,
                    retryable=True,
                ) from None
            attempt += 1
            run.log.info(
                "run.provider_retry",
                code=exc.code,
                error=exc.message,
                attempt=attempt,
                delay_s=delay,
            )
            await run.thinking(
                agent,
                f"{ERROR_CODES.get(exc.code, exc.code)}; retrying in {delay:g} s "
                f"(attempt {attempt + 1})",
                step_index=step_index,
            )
            await asyncio.sleep(delay)
            continue
        model = turn.model or request.assistant.model
        cost = turn_cost_usd(accounting, model, turn.usage)
        add_turn(usage, turn.usage, cost)
        add_turn(run.usage, turn.usage, cost)
        if observer is not None:
            _observe(observer, run, agent, provider.name, model, turn, cost, began)
        return turn


def _observe(
    observer: RunObserver,
    run: RunRecord,
    agent: str,
    provider: str,
    model: str,
    turn: ModelTurn,
    cost: float,
    began: float,
) -> None:
    usage = turn.usage
    _notify(
        observer,
        run,
        ModelCall(
            run_id=run.run_id,
            agent=agent,
            provider=provider,
            model=model,
            duration_s=time.perf_counter() - began,
            language_model=usage.language_model,
            input_tokens=usage.input_tokens,
            cached_tokens=usage.cached_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost,
        ),
    )


def _observe_failure(
    observer: RunObserver,
    run: RunRecord,
    agent: str,
    provider: Provider,
    request: ModelRequest,
    exc: ProviderError,
    began: float,
    final: bool,
) -> None:
    _notify(
        observer,
        run,
        ModelCall(
            run_id=run.run_id,
            agent=agent,
            provider=provider.name,
            model=request.assistant.model,
            duration_s=time.perf_counter() - began,
            error_code=exc.code,
            retrying=not final,
        ),
    )


def _notify(observer: RunObserver, run: RunRecord, call: ModelCall) -> None:
    """An observer can never fail a run: what it raises is logged and dropped."""
    try:
        observer.model_call(call)
    except Exception:
        run.log.exception("run.observer_failed", hook="model_call")


async def _read_stream(
    run: RunRecord,
    agent: str,
    step_index: int | None,
    request: ModelRequest,
    provider: Provider,
    delta_interval_s: float,
) -> ModelTurn:
    """Read one provider stream: coalesce text deltas into thinking events, get the turn.

    Tool calls are executed only after the turn completes, so retrying a stream that
    failed part-way never repeats a tool's side effect.
    """
    parts: list[str] = []
    streamed: list[ToolCallRequest] = []
    last_emit = time.perf_counter()
    stream = provider.stream(request)
    try:
        async for event in stream:
            if isinstance(event, TextDelta):
                parts.append(event.text)
                now = time.perf_counter()
                # The planner's text is the JSON plan: not worth streaming to people.
                if agent != "planner" and now - last_emit >= delta_interval_s:
                    last_emit = now
                    await run.thinking(
                        agent, "writing…", step_index=step_index, partial_text="".join(parts)
                    )
            elif isinstance(event, ToolCallRequest):
                streamed.append(event)
            else:
                if not event.tool_calls and streamed:
                    return msgspec.structs.replace(event, tool_calls=tuple(streamed))
                return event
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()
    raise ProviderUnavailable("the provider stream ended without a final turn")
