"""The stable codes a run ends with: one :data:`ErrorCode` type for every failure code.

A failed or cancelled run ends with one ``error`` event whose ``data.code`` is a client's only
stable handle on what went wrong (``error`` is prose and may change). The codes used to be
strings written by hand in each ``RunFailure(...)``, provider error class and the service's
own terminal events; a typo there would have shipped a code no client knows. :data:`ErrorCode`
is the closed set, so mypy rejects any other string where a run's failure code is built.

:data:`ERROR_CODES` gives the orchestrator's codes their one-line summary, used in the
``error`` event's ``message``. Two codes have none on purpose: ``interrupted`` is written by
the service (a run whose process died), and ``provider_error`` is the base of the provider
errors, which each carry a more precise ``llm_…`` code.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["ERROR_CODES", "ErrorCode"]

ErrorCode = Literal[
    "planner_invalid",
    "budget_exhausted",
    "token_budget_exceeded",
    "step_timeout",
    "run_timeout",
    "tool_failed",
    "cancelled",
    "llm_rate_limited",
    "llm_timeout",
    "llm_unavailable",
    "llm_bad_response",
    "llm_auth_failed",
    "llm_refusal",
    "llm_output_truncated",
    "llm_echoed_prompt",
    "internal_error",
    "provider_error",
    "interrupted",
    "checkpoint_invalid",
]

ERROR_CODES: Final[dict[ErrorCode, str]] = {
    "planner_invalid": "the planner did not produce a valid plan",
    "budget_exhausted": "a run budget was exhausted",
    "token_budget_exceeded": "the run used more model tokens than its budget",
    "step_timeout": "a step took longer than its time limit",
    "run_timeout": "the run took longer than its time limit",
    "tool_failed": "tool calls kept failing",
    "cancelled": "the run was cancelled",
    "llm_rate_limited": "the language model provider is rate limiting requests",
    "llm_timeout": "the language model provider timed out",
    "llm_unavailable": "the language model provider is unavailable",
    "llm_bad_response": "the language model returned an unusable response",
    "llm_auth_failed": "the language model provider rejected the credentials",
    "llm_refusal": "the language model refused to answer",
    "llm_output_truncated": "the language model's answer was cut off at its output token limit",
    "llm_echoed_prompt": "the language model repeated its instructions instead of answering",
    "internal_error": "an internal error occurred",
    "checkpoint_invalid": "the run's checkpoint could not be read, so it cannot be resumed",
}
