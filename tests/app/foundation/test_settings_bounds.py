"""Every limit stated on a settings field is what the start-up check enforces and prints.

The limits are ``msgspec.Meta`` annotations on the fields (``app.settings`` and the
orchestrator's config structs it embeds). These tests walk every bounded field of the whole
settings tree, so a new limit is covered the moment it is written: a value just outside it
stops the start-up with ``key: expected <words from the Meta>, got <value>``, and a value on
it (inclusive bounds) starts.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest

from app.settings import ConfigError, Settings, expected_value, load_settings

SECRET = "s" * 40


def _number_type(tp: Any) -> Any:
    """``Annotated[int, Meta(...)]`` (optional or not) with numeric limits, else None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is not Annotated and len(args) == 1:
        tp = args[0]
    if typing.get_origin(tp) is not Annotated or typing.get_args(tp)[0] not in (int, float):
        return None
    return tp


def _bounded_fields(
    struct: type[msgspec.Struct], prefix: str = ""
) -> list[tuple[str, type, msgspec.Meta]]:
    found: list[tuple[str, type, msgspec.Meta]] = []
    for field in msgspec.structs.fields(struct):
        key = f"{prefix}{field.name}"
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            found += _bounded_fields(field.type, f"{key}.")
        elif (annotated := _number_type(field.type)) is not None:
            kind, *metas = typing.get_args(annotated)
            found += [(key, kind, meta) for meta in metas if isinstance(meta, msgspec.Meta)]
    return found


BOUNDED = _bounded_fields(Settings)


def _outside(kind: type, meta: msgspec.Meta) -> list[float]:
    step = 1 if kind is int else 0.5
    values: list[float] = []
    if meta.ge is not None:
        values.append(meta.ge - step)
    if meta.gt is not None:
        values.append(meta.gt)
    if meta.le is not None:
        values.append(meta.le + step)
    if meta.lt is not None:
        values.append(meta.lt)
    return values


def _problems(key: str, value: float) -> list[str]:
    name = "APP__" + "__".join(part.upper() for part in key.split("."))
    try:
        load_settings(None, {"JWT_SECRET": SECRET, name: json.dumps(value)})
    except ConfigError as error:
        return error.problems
    return []


@pytest.fixture(autouse=True)
def _hermetic_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_the_walk_finds_the_limits_of_every_section() -> None:
    sections = {key.split(".")[0] for key, _, _ in BOUNDED}
    assert sections >= {"server", "auth", "runs", "datasets", "llm", "orchestrator", "tools"}
    assert "assistants.report.temperature" in {key for key, _, _ in BOUNDED}


@pytest.mark.parametrize(("key", "kind", "meta"), BOUNDED, ids=[key for key, _, _ in BOUNDED])
def test_a_value_outside_a_fields_limit_stops_the_start_up(
    key: str, kind: type, meta: msgspec.Meta
) -> None:
    expected = expected_value(key)
    assert expected is not None
    for value in _outside(kind, meta):
        assert f"{key}: expected {expected}, got {json.dumps(value)}" in _problems(key, value)


@pytest.mark.parametrize(("key", "kind", "meta"), BOUNDED, ids=[key for key, _, _ in BOUNDED])
def test_a_value_on_an_inclusive_limit_is_accepted(
    key: str, kind: type, meta: msgspec.Meta
) -> None:
    for bound in (meta.ge, meta.le):
        if bound is not None:
            refused = f"{key}: expected {expected_value(key)}"
            assert not [p for p in _problems(key, bound) if p.startswith(refused)]


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("server.port", "int in 1..65535"),
        ("runs.keepalive_s", "number > 0"),
        ("orchestrator.retry_backoff_s", "number >= 0"),
        ("accounting.watts_per_core", "number in 0..500"),
        ("assistants.planner.max_output_tokens", "int >= 1 (or unset)"),
        ("assistants.extra.water.temperature", "number in 0..2"),
        ("accounting.prices.gpt-x.cached_input", "number >= 0"),
        ("llm.model", "non-empty string"),
        ("auth.dev_secret_file", "non-empty path"),
        ("tools.grid_source", 'one of "synthetic", "eirgrid", "uk", "file"'),
    ],
)
def test_the_expected_words_are_worded_from_the_field(key: str, words: str) -> None:
    assert expected_value(key) == words
