"""The contract between ``tools/`` and whoever calls tools (the orchestrator, an embedder).

A tool is a typed function ``fn(args: InputStruct, ctx: ToolContext) -> OutputStruct`` (sync or
async) plus a name and description. :func:`strict_json_schema` derives the JSON Schema an LLM
gets as a strict function tool (every property required, ``additionalProperties: false``,
optional values expressed as ``null`` unions: ``"type": ["string", "null"]`` where one plain
type is nullable, ``anyOf`` otherwise). Outputs implement :class:`ToolOutput` so the
caller can show a one-line summary and collect data provenance without knowing the tool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

__all__ = [
    "ChartOutput",
    "DataSource",
    "Dataset",
    "ToolContext",
    "ToolDefinition",
    "ToolError",
    "ToolOutput",
    "model_payload",
    "strict_json_schema",
]


class DataSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where numbers came from. ``synthetic=True`` marks generated data, always shown as such."""

    name: str
    kind: str  # e.g. "grid_intensity", "emission_factors", "business_data", "upload"
    synthetic: bool
    detail: str = ""
    url: str | None = None


class Dataset(msgspec.Struct, frozen=True, kw_only=True):
    """A user-supplied table (an upload) made available to tools of one run."""

    id: str
    name: str
    kind: str  # "activity_records" | "numeric_table"
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]


class ToolError(Exception):
    """A domain error a model can act on (bad unit, unknown region, empty range...).

    The orchestrator reports ``str(error)`` back to the model as the tool result.
    """


@runtime_checkable
class ToolOutput(Protocol):
    def summary(self) -> str:
        """One human line: what the tool found (shown in the run timeline)."""
        ...

    def data_sources(self) -> Sequence[DataSource]:
        """Provenance of the data behind this result."""
        ...


@runtime_checkable
class ChartOutput(Protocol):
    """A tool result that is a chart; the orchestrator attaches it to the run's report."""

    chart_id: str
    title: str
    svg: str


def model_payload(output: object) -> Any:
    """What the model sees of a tool result: ``output.for_model()`` when the tool defines it
    (to keep large series or SVG out of the prompt), else the whole result as JSON builtins."""
    for_model = getattr(output, "for_model", None)
    if callable(for_model):
        return for_model()
    return msgspec.to_builtins(output)


class ToolContext(msgspec.Struct, kw_only=True):
    """Per-run context handed to every tool call (injected, never chosen by the model).

    ``services`` holds long-lived objects the host built (e.g. the grid data source, a cache);
    tools look them up by a well-known key and fall back to offline defaults.
    """

    dataset: Dataset | None = None
    now: str | None = None  # ISO timestamp the run considers "now" (tests pin it)
    services: dict[str, Any] = msgspec.field(default_factory=dict)


InT = TypeVar("InT", bound=msgspec.Struct)
OutT = TypeVar("OutT")


class ToolDefinition(Generic[InT, OutT]):
    """A named tool: typed input Struct, a function, and a description for the model."""

    __slots__ = ("description", "fn", "idempotent", "input_type", "name", "parameters")

    def __init__(
        self,
        *,
        name: str,
        description: str,
        input_type: type[InT],
        fn: Callable[[InT, ToolContext], OutT | Awaitable[OutT]],
        idempotent: bool = True,
    ) -> None:
        self.name = name
        # Whether running the call twice is as good as once (no side effect beyond its
        # result). A run resumed after its worker died repeats a call that may have run only
        # when this is True; every built-in tool is (they compute, they do not act).
        self.idempotent = idempotent
        self.description = description
        self.input_type = input_type
        self.fn = fn
        self.parameters: dict[str, Any] = strict_json_schema(input_type)

    def __repr__(self) -> str:
        return f"ToolDefinition(name={self.name!r})"


def _nullable_type(node: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [X, {"type": "null"}]}`` as ``X`` with ``"type": [t, "null"]`` when ``X`` is
    one plain type (no enum): the same values, in fewer tokens of every prompt."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or {"type": "null"} not in branches:
        return node
    other = branches[0] if branches[1] == {"type": "null"} else branches[1]
    if not isinstance(other.get("type"), str) or "enum" in other or "anyOf" in other:
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    return {
        "type": [other["type"], "null"],
        **{k: v for k, v in other.items() if k != "type"},
        **rest,
    }


def strict_json_schema(struct_type: type[msgspec.Struct]) -> dict[str, Any]:
    """JSON Schema for ``struct_type`` in OpenAI strict-function form (inlined, closed)."""
    schema = msgspec.json.schema(struct_type)
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                return resolve(defs[ref.rsplit("/", 1)[-1]])
            # Drop schema annotations, but never entries of a ``properties`` mapping: there the
            # keys are field names (a field may well be called "title" or "default").
            out = {
                k: resolve_properties(v) if k == "properties" else resolve(v)
                for k, v in node.items()
                if k not in ("title", "default")
            }
            enum = out.get("enum")
            if (
                isinstance(enum, list)
                and "type" not in out
                and all(isinstance(v, str) for v in enum)
            ):
                out["type"] = "string"  # some providers want a type next to an enum
            if out.get("type") == "object" and "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            return _nullable_type(out)
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    def resolve_properties(properties: dict[str, Any]) -> dict[str, Any]:
        return {name: resolve(prop) for name, prop in properties.items()}

    resolved: dict[str, Any] = resolve(schema)
    return resolved
