"""Grounding checks: whether a language model's answers rest on the run's data.

Any non-empty text used to count as a finished step. A weak or local model can plan no data
step for a data question, answer a data question from memory without calling a tool, echo
its prompt back, or invent figures. Before a run counts as a success the machine checks:

* **data step**: a question that needs data (read as the offline engine reads questions:
  :func:`needs_data`) gets a plan with at least one step whose assistant has data tools;
* **tools called**: a step offered data tools for such a question called at least one;
* **numbers**: every figure of the report is found in a tool result, a data tool's arguments,
  the question or the conversation, or is a rounding of one (:class:`Sources`,
  :func:`ungrounded_numbers`: the checker the offline engine's golden tests hold its own
  reports to);
* **echo**: no answer repeats its prompt (:func:`echoes_prompt`).

Each failed check makes the answer's author try once more with the reason; what still fails
is flagged in the ``completed`` event's ``data.grounding`` (:class:`GroundingVerdict`), except
an echo, which ends the run (``llm_echoed_prompt``): an echo is no answer at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import msgspec

from orchestrator.events import CheckResult, GroundingChecks, GroundingVerdict

__all__ = [
    "RENDER_TOOLS",
    "GroundingState",
    "GroundingTracker",
    "Sources",
    "echoes_prompt",
    "is_data_tool",
    "needs_data",
    "ungrounded_numbers",
]

# Tools that draw what other tools computed: their arguments copy figures, they are no source.
RENDER_TOOLS: Final = frozenset({"render_chart", "render_dashboard"})

_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MONTH = re.compile(r"(?<!\d)(\d{4})-(\d{2})(?![\d-])")
_TIME = re.compile(r"(?<!\d)(\d{2}):(\d{2})(?!\d)")
# A figure: not glued to letters/digits (so "CO2", "33rd", "R²" or ids are not figures).
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")
_DIGIT = re.compile(r"\d")
_ISO_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:\d{2})?(Z|[+-]\d{2}:\d{2})?")
_LIST_MARKER = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_WORD = re.compile(r"\w+")
# An answer whose word 6-grams are mostly its prompt's is an echo, not an answer.
_SHINGLE: Final = 6
_ECHO_SHARE: Final = 0.6
_ECHO_MIN_WORDS: Final = 4


def is_data_tool(name: str) -> bool:
    """Whether a tool fetches or computes data (every tool but the render tools)."""
    return name not in RENDER_TOOLS


@dataclass
class Sources:
    """Everything an answer may cite: numbers, dates and times found in the sources."""

    numbers: list[float] = field(default_factory=list)
    dates: set[str] = field(default_factory=set)
    months: set[str] = field(default_factory=set)
    times: set[str] = field(default_factory=set)
    _cache: dict[tuple[int, int], frozenset[float]] = field(default_factory=dict, repr=False)
    _keys: set[Any] = field(default_factory=set, repr=False)

    def add_text(self, text: str) -> None:
        if _DIGIT.search(text) is None:
            return  # most keys and words of a tool result: nothing to cite
        stamp = _ISO_STAMP.fullmatch(text)
        if stamp is not None:  # most strings of a tool result that have digits: the fast path
            self._add_stamp(stamp)
            return
        for m in _DATE.finditer(text):
            self.dates.add(m.group(0))
            self.months.add(m.group(0)[:7])
            self.numbers.append(float(m.group(1)))  # "March 2025" names a tool date's year
        for m in _MONTH.finditer(text):
            self.months.add(m.group(0))
        for m in _TIME.finditer(text):
            self.times.add(m.group(0))
        rest = _TIME.sub(" ", _MONTH.sub(" ", _DATE.sub(" ", text)))
        for m in _NUMBER.finditer(rest):
            self.numbers.append(float(m.group(0).replace(",", "")))

    def _add_stamp(self, stamp: re.Match[str]) -> None:
        """What the general scan finds in an ISO timestamp, without its four regex passes."""
        year, month, day, hour, minute, seconds, offset = stamp.groups()
        self.dates.add(f"{year}-{month}-{day}")
        self.months.add(f"{year}-{month}")
        self.numbers.append(float(year))
        self.times.add(f"{hour}:{minute}")
        if offset and offset != "Z":
            self.times.add(offset[1:])
            if seconds:
                self.numbers.append(float(seconds[1:]))

    def add_value(self, value: Any) -> None:
        kind = type(value)
        if kind is str:
            self.add_text(value)
        elif kind is float or kind is int:
            self.numbers.append(float(value))
        elif kind is dict:
            keys = self._keys
            for key, item in value.items():
                if key not in keys:  # a result repeats its keys in every item: read once
                    keys.add(key)
                    self.add_text(str(key))
                self.add_value(item)
        elif kind is list or kind is tuple:
            for item in value:
                self.add_value(item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.numbers.append(float(value))
        elif isinstance(value, str):
            self.add_text(value)

    def add_json(self, raw: str) -> None:
        """A tool result or arguments as sent (JSON; text if it is not JSON)."""
        try:
            self.add_value(msgspec.json.decode(raw))
        except msgspec.DecodeError:
            self.add_text(raw)

    def explains(self, token: str) -> bool:
        """Whether a figure of an answer is a source's, up to the figure's shown decimals
        (and kilograms shown as tonnes)."""
        value = abs(float(token.replace(",", "").lstrip("+")))
        decimals = len(token.split(".")[1]) if "." in token else 0
        return round(value, decimals) in self._rounded(decimals)

    def _rounded(self, decimals: int) -> frozenset[float]:
        """Every source number rounded to ``decimals`` (and, with decimals, as thousands)."""
        key = (decimals, len(self.numbers))
        cached = self._cache.get(key)
        if cached is None:
            distinct = {abs(x) for x in self.numbers}
            values = {round(x, decimals) for x in distinct}
            if decimals >= 1:
                values |= {round(x / 1000, decimals) for x in distinct}
            cached = self._cache[key] = frozenset(values)
        return cached


def ungrounded_numbers(text: str, sources: Sources) -> list[str]:
    """Dates, times and numbers of ``text`` that no source explains, in order."""
    bad: list[str] = []
    text = _LIST_MARKER.sub(" ", text)
    for m in _DATE.finditer(text):
        if m.group(0) not in sources.dates:
            bad.append(m.group(0))
    text = _DATE.sub(" ", text)
    for m in _MONTH.finditer(text):
        if m.group(0) not in sources.months:
            bad.append(m.group(0))
    text = _MONTH.sub(" ", text)
    for m in _TIME.finditer(text):
        if m.group(0) not in sources.times:
            bad.append(m.group(0))
    text = _TIME.sub(" ", text)
    bad += [m.group(0) for m in _NUMBER.finditer(text) if not sources.explains(m.group(0))]
    return bad


def _shingles(words: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def echoes_prompt(answer: str, prompt: str) -> bool:
    """Whether ``answer`` mostly repeats ``prompt`` (its instructions and the facts it was
    given, without the earlier steps' findings, which an answer may rightly restate)."""
    words = _WORD.findall(answer.lower())
    if len(words) < _ECHO_MIN_WORDS:
        return False
    size = min(_SHINGLE, len(words))
    mine = _shingles(words, size)
    theirs = _shingles(_WORD.findall(prompt.lower()), size)
    return len(mine & theirs) >= _ECHO_SHARE * len(mine)


def needs_data(hints: dict[str, Any], today: date) -> bool:
    """Whether the question needs data (grid, footprint, factors, a table...): every intent
    of the offline engine's reading but greetings, off-topic, impossible and unanswerable."""
    from orchestrator.providers._offline.intent import Intent, understand

    intent = understand(hints, today).intent
    return intent not in (Intent.GREETING, Intent.OFF_TOPIC, Intent.INVALID, Intent.NEEDS)


class GroundingState(msgspec.Struct, kw_only=True):
    """What a checkpoint keeps of a run's grounding, so a resumed run checks its report
    against the tool results of the steps finished before it moved (the question is read
    again)."""

    checked: bool = False
    checks: GroundingChecks = msgspec.field(default_factory=GroundingChecks)
    retried: list[str] = msgspec.field(default_factory=list)
    ungrounded: list[str] = msgspec.field(default_factory=list)
    outputs: list[str] = msgspec.field(default_factory=list)
    arguments: list[str] = msgspec.field(default_factory=list)


class GroundingTracker:
    """One run's grounding: the sources seen so far and each check's result."""

    __slots__ = ("_arguments", "_outputs", "_texts", "checked", "checks", "retried", "ungrounded")

    def __init__(self) -> None:
        self.checked = False  # a language model answered and the checks ran
        self.checks = GroundingChecks()
        self.retried: list[str] = []
        self.ungrounded: list[str] = []
        self._texts: list[str] = []
        self._outputs: list[str] = []
        self._arguments: list[str] = []

    def add_text(self, text: str) -> None:
        """The question, the conversation, the time: what the user and the run stated."""
        self._texts.append(text)

    def add_round(self, calls: Iterable[tuple[str, str]], outputs: Iterable[str]) -> None:
        """A round of tool calls (name, arguments) and their JSON outputs."""
        self._arguments += [arguments for name, arguments in calls if is_data_tool(name)]
        self._outputs += list(outputs)

    @property
    def has_state(self) -> bool:
        """Whether anything was recorded that a resumed run would need."""
        return self.checked or bool(self._outputs or self._arguments)

    def state(self) -> GroundingState:
        return GroundingState(
            checked=self.checked,
            checks=msgspec.structs.replace(self.checks),
            retried=list(self.retried),
            ungrounded=list(self.ungrounded),
            outputs=list(self._outputs),
            arguments=list(self._arguments),
        )

    def restore(self, state: GroundingState) -> None:
        self.checked, self.checks = state.checked, msgspec.structs.replace(state.checks)
        self.retried, self.ungrounded = list(state.retried), list(state.ungrounded)
        self._outputs, self._arguments = list(state.outputs), list(state.arguments)

    def sources(self) -> Sources:
        found = Sources()
        for text in self._texts:
            found.add_text(text)
        for raw in (*self._outputs, *self._arguments):
            found.add_json(raw)
        return found

    def set(self, check: str, result: CheckResult) -> None:
        """Record a check's result; a failure never turns back into ``ok`` within a run."""
        self.checked = True
        if getattr(self.checks, check) != "failed":
            setattr(self.checks, check, result)

    def retry(self, check: str) -> None:
        self.retried.append(check)

    def verdict(self, *, enabled: bool) -> GroundingVerdict:
        if not enabled or not self.checked:
            return GroundingVerdict(status="unchecked", checks=GroundingChecks())
        failed = any(
            getattr(self.checks, name) == "failed"
            for name in ("data_step", "tools_called", "numbers", "echo")
        )
        return GroundingVerdict(
            status="flagged" if failed else "ok",
            ungrounded_numbers=list(self.ungrounded),
            checks=self.checks,
            retried=list(self.retried),
        )
