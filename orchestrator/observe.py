"""An optional observer of what the events do not say: every model call, as it happens.

Events are the contract with consumers and already carry steps, tools, durations and usage
totals. What they do not carry, an operator's metrics need: each model call on its own, with
the provider and model that served it, its tokens and estimated cost, and the failed attempts
(by stable error code), retried or not. A host passes a :class:`RunObserver` to
:class:`~orchestrator.Orchestrator`; its :meth:`~RunObserver.model_call` is called once per
attempt, synchronously, on the run's task. The default is no observer at all: nothing is
built or called.

The library stays free of any metrics library: the service turns these records into
Prometheus metrics (``app.metrics``), a tracer could turn them into spans. An observer must be
quick and must not raise (an exception is logged and ignored, so it can never fail a run).
Subclass :class:`RunObserver` and override what you need: hooks added later get no-op
defaults, so an observer written today keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.error_codes import ErrorCode

__all__ = ["ModelCall", "RunObserver"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCall:
    """One attempt at a model call: an answer (``error_code`` None) or a failure.

    ``language_model`` is False for the offline engine, which runs no model: it has no tokens
    or cost, and its turns are not LLM calls (as in the run's usage). ``retrying`` is True for
    a failed attempt the machine retries after a backoff; a failure with ``retrying`` False
    ended the run's step.
    """

    run_id: str
    agent: str
    provider: str
    model: str
    duration_s: float
    language_model: bool = True
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    error_code: ErrorCode | None = None
    retrying: bool = False


class RunObserver:
    """Hooks called by the machine; every default does nothing. Override what you need."""

    def model_call(self, call: ModelCall) -> None:
        """An attempt at a model call ended (answered or failed)."""
