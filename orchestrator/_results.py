"""What a language model reads of a tool result: the figures it needs and a reference.

A tool's full result (``tools.catalog_types.model_payload``) can be kilobytes: a week of grid
points, every line of a footprint, a rendered dashboard. Sent whole, it is re-read by the
model on every later call of the step, at a token cost that dwarfs the answer. So the model
gets :func:`compact_result`: the result's one-line ``summary``, ``ref`` (the tool call id,
under which the run keeps the full result for the report, the events and the charts) and the
result's own fields, shrunk until they fit ``limit`` characters of JSON:

1. a result that fits is sent whole, as it is (the model has all of it: no ref needed);
2. else empty values are dropped, long strings cut, and nesting pruned, leanest last: two
   levels deep, then one, with lists keeping their first :data:`LIST_ITEMS` items (the
   count of the rest stated); then one level with lists replaced by their counts (objects
   such as ``stats`` keep their scalar fields); then the top-level scalars only;
3. if even that is too long, trailing fields are dropped until it fits.

The order is the result's own: tools put their headline figures (means, totals, windows)
first, so those survive. The offline engine computes from the full result, which travels
next to the compact one in :class:`orchestrator.providers.base.FunctionCallOutput`.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = ["LIST_ITEMS", "RESULT_CHARS", "compact_result"]

RESULT_CHARS: Final = 1500
LIST_ITEMS: Final = 3
_STRING_CHARS: Final = 160


def _size(value: Any) -> int:
    return len(msgspec.json.encode(value))


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_SEQUENCES: Final = frozenset({list, tuple})
_NUMBERS: Final = frozenset({int, float})


def _cut(text: str) -> str:
    return text if len(text) <= _STRING_CHARS else text[: _STRING_CHARS - 1] + "…"


def _prune(value: Any, depth: int, lists: bool) -> Any:
    """``value`` with nesting cut at ``depth``; without ``lists``, lists become counts.

    Written for speed (it runs on every large result, up to four times): type lookups in
    sets instead of isinstance chains, empty values skipped by truth value."""
    kind = type(value)
    if kind in _SCALARS:
        return _cut(value) if kind is str else value
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            item_kind = type(item)
            if item_kind in _SCALARS:
                if item is None or item == "":
                    continue
                out[key] = _cut(item) if item_kind is str else item
            elif not item:
                continue  # an empty list or object says nothing
            elif item_kind in _SEQUENCES and (depth == 0 or not lists):
                out[f"{key}_count"] = len(item)
            elif depth > 0:
                pruned = _prune(item, depth - 1, lists)
                if pruned:
                    out[key] = pruned
        return out
    if kind in _SEQUENCES:
        if all(type(v) in _NUMBERS for v in value):
            return list(value) if len(value) <= LIST_ITEMS * 2 else []
        kept = [_prune(item, depth - 1, lists) for item in value[:LIST_ITEMS]]
        if len(value) > LIST_ITEMS:
            kept.append(f"+{len(value) - LIST_ITEMS} more")
        return kept
    return str(value)


# From the fullest view to the leanest: (depth, whether lists keep their first items). Each
# view holds the next one, so when a view does not fit, no fuller one does.
_TIERS: Final = ((2, True), (1, True), (1, False), (0, False))


def compact_result(
    payload: Any, *, ref: str, summary: str | None, limit: int = RESULT_CHARS
) -> Any:
    """The model's view of one tool result (see the module docstring), as a JSON object."""
    if _size(payload) <= limit:
        return payload
    head: dict[str, Any] = {"ref": ref}
    if summary:
        head["summary"] = summary
    body = payload if isinstance(payload, dict) else {"result": payload}
    fitting: dict[str, Any] | None = None
    for depth, lists in _TIERS[1:]:  # the second view first: it decides whether to try the first
        pruned = {**head, **_prune(body, depth, lists)}
        if _size(pruned) <= limit:
            fitting = pruned
            break
    if fitting is not None:
        if (depth, lists) == _TIERS[1]:
            fuller = {**head, **_prune(body, *_TIERS[0])}
            if _size(fuller) <= limit:
                return fuller
        return fitting
    shallow = pruned
    while len(shallow) > len(head) and _size(shallow) > limit:
        shallow.popitem()
    return shallow
