"""The fake server's "generic" model: a plausible answer to any request, from its own schemas.

A benchmark that compares two builds of the orchestrator needs a model that behaves the same
for both without a script written for either: the same plan, the same tool calls, the same
step answers. This one reads only what the request offers, deterministically:

* a request with a structured-output schema (Responses ``text.format`` or Chat
  ``response_format``) is answered with an instance of that schema (:func:`instance`);
* a request offering function tools whose input holds no tool output yet after the last user
  message calls the FIRST offered tool once, with arguments generated from its parameters;
* anything else is answered with a fixed paragraph of findings.

How an instance is generated (the rules decide "the same plan" across builds):

* an array of objects with an ``anyOf`` of variants gets one item per variant; an array of
  objects whose first property is an ``enum`` gets one item per enum value (so a plan has one
  step per step kind, whichever of the two forms its schema takes); an array of ``enum``
  strings gets its first value; any other array gets ``max(minItems, 3)`` items;
* a nullable property is ``null``, except the first nullable array of an object, which is
  generated (so tools that take exactly one of several inputs get one);
* strings: ``const``/first ``enum`` value; names with ``date`` get ISO dates
  (``end``/``second`` ones later), names with ``month`` a month, others a short phrase;
* numbers lie inside ``minimum``/``maximum`` (12 when unbounded); booleans are false.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ANSWER", "generic_reply", "instance"]

ANSWER = (
    "Findings: the figures above come from the tools called in this step. The cleanest "
    "period is overnight, the mean is below the day's average, and the trend is flat. "
    "Shifting flexible load to the low period cuts emissions; data marked synthetic is "
    "generated, not measured."
)


def _string(name: str) -> str:
    lowered = name.lower()
    later = "end" in lowered or "second" in lowered
    if "month" in lowered:
        return "2026-11"
    if "date" in lowered:
        return "2026-12-05" if later else "2026-12-01"
    if lowered == "task":
        return "Find the figures the question needs."
    return "Total"


def _number(schema: dict[str, Any], integer: bool) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 12
    if low is not None and high is not None:
        value = low + (high - low) / 4
    elif low is not None:
        value = max(value, low + 1)
    elif high is not None:
        value = min(value, high - 1)
    return int(value) if integer else float(value)


def _nullable(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The non-null branch of a ``X | null`` schema, else None."""
    branches = schema.get("anyOf")
    if isinstance(branches, list) and any(b.get("type") == "null" for b in branches):
        rest = [b for b in branches if b.get("type") != "null"]
        return rest[0] if rest else {"type": "null"}
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        return {**schema, "type": next(t for t in types if t != "null")}
    return None


def _array(schema: dict[str, Any], name: str) -> list[Any]:
    items: dict[str, Any] = schema.get("items") or {}
    variants = items.get("anyOf")
    if isinstance(variants, list) and all(v.get("type") == "object" for v in variants):
        return [instance(v, name) for v in variants]
    if items.get("type") == "object":
        properties: dict[str, Any] = items.get("properties") or {}
        first = next(iter(properties.items()), None)
        if first is not None and isinstance(first[1].get("enum"), list):
            key, prop = first
            return [{**instance(items, name), key: value} for value in prop["enum"]]
    if isinstance(items.get("enum"), list):
        return [items["enum"][0]]
    count = max(int(schema.get("minItems", 0)), 3)
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]))
    return [instance(items, name) for _ in range(count)]


def instance(schema: dict[str, Any], name: str = "") -> Any:
    """A deterministic, plausible value that satisfies ``schema`` (the subset tools use)."""
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list):
        return schema["enum"][0]
    if "anyOf" in schema and _nullable(schema) is None:
        return instance(schema["anyOf"][0], name)
    kind = schema.get("type")
    if kind == "object":
        out: dict[str, Any] = {}
        generated_optional_list = False
        for key, prop in (schema.get("properties") or {}).items():
            inner = _nullable(prop)
            if inner is None:
                out[key] = instance(prop, key)
            elif inner.get("type") == "array" and not generated_optional_list:
                generated_optional_list = True
                out[key] = instance(inner, key)
            else:
                out[key] = None
        return out
    if kind == "array":
        return _array(schema, name)
    if kind == "string":
        return _string(name)
    if kind in ("number", "integer"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    return None


def _responses_reply(payload: dict[str, Any]) -> dict[str, Any]:
    fmt = ((payload.get("text") or {}).get("format")) or {}
    if fmt.get("type") == "json_schema":
        return {"json": instance(fmt.get("schema") or {})}
    tools = [t for t in payload.get("tools") or () if t.get("type") == "function"]
    items = payload.get("input") or []
    answered = False
    for item in reversed(items if isinstance(items, list) else []):
        if item.get("type") == "function_call_output":
            answered = True
            break
        if item.get("role") == "user":
            break
    if tools and not answered:
        return {"call": tools[0]["name"], "arguments": instance(tools[0].get("parameters") or {})}
    return {"text": ANSWER}


def _chat_reply(payload: dict[str, Any]) -> dict[str, Any]:
    fmt = payload.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return {"json": instance((fmt.get("json_schema") or {}).get("schema") or {})}
    tools = [t["function"] for t in payload.get("tools") or () if t.get("type") == "function"]
    messages = payload.get("messages") or []
    answered = False
    for message in reversed(messages):
        if message.get("role") == "tool":
            answered = True
            break
        if message.get("role") == "user":
            break
    if tools and not answered:
        return {"call": tools[0]["name"], "arguments": instance(tools[0].get("parameters") or {})}
    return {"text": ANSWER}


def generic_reply(payload: dict[str, Any], api: str) -> dict[str, Any]:
    """What the generic model answers: ``{"json": …}``, ``{"call", "arguments"}`` or
    ``{"text": …}`` (the fake turns it into a :class:`tests.fakes.openai_server.Turn`)."""
    return _responses_reply(payload) if api == "responses" else _chat_reply(payload)
