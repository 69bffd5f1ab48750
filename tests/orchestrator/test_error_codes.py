"""The run failure codes are one closed set: every code a run can end with is an ErrorCode."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

import orchestrator
from orchestrator import ERROR_CODES, ErrorCode, ErrorData
from orchestrator.providers.base import ProviderError

CODES = set(get_args(ErrorCode))


def _provider_errors(base: type[ProviderError]) -> set[type[ProviderError]]:
    found: set[type[ProviderError]] = {base}
    for subclass in base.__subclasses__():
        found |= _provider_errors(subclass)
    return found


def test_every_summarised_code_is_an_error_code() -> None:
    assert set(ERROR_CODES) <= CODES


def test_only_the_service_and_provider_base_codes_have_no_summary() -> None:
    assert CODES - set(ERROR_CODES) == {"interrupted", "provider_error"}


def test_every_provider_error_reports_an_error_code() -> None:
    codes = {cls.code for cls in _provider_errors(ProviderError)}
    assert codes <= CODES
    assert "llm_rate_limited" in codes


def test_the_error_event_rejects_a_code_outside_the_set() -> None:
    raw = msgspec.json.encode({"progress": 1, "code": "llm_timeout", "error": "slow"})
    assert msgspec.json.decode(raw, type=ErrorData).code == "llm_timeout"
    bad = msgspec.json.encode({"progress": 1, "code": "no_such_code", "error": "?"})
    with pytest.raises(msgspec.ValidationError, match="code"):
        msgspec.json.decode(bad, type=ErrorData)


def test_error_code_is_public() -> None:
    assert "ErrorCode" in orchestrator.__all__
