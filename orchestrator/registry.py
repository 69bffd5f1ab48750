"""The tool registry: the tools a run may call, by name, with the schemas models are offered.

Built from ``tools.catalog.CATALOG`` by default; embedders add their own typed tools with
:meth:`ToolRegistry.register` (a :class:`~tools.catalog_types.ToolDefinition`: input Struct,
function, description) without editing the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from orchestrator.config import ToolsConfig
from orchestrator.providers.base import ToolSchema
from tools.catalog_types import ToolDefinition

__all__ = ["ToolRegistry", "UnknownTool", "build_tool_services"]

AnyTool = ToolDefinition[Any, Any]


class UnknownTool(KeyError):
    """A tool name the registry does not hold (configuration error, not model error)."""


class ToolRegistry:
    """Name -> tool definition, plus the strict function schema offered to models."""

    __slots__ = ("_schemas", "_tools")

    def __init__(self, tools: Iterable[AnyTool] = ()) -> None:
        self._tools: dict[str, AnyTool] = {}
        self._schemas: dict[str, ToolSchema] = {}
        for tool in tools:
            self.register(tool)

    @classmethod
    def from_catalog(cls) -> ToolRegistry:
        """A registry holding every tool of ``tools.catalog`` (the product's domain tools)."""
        from tools.catalog import CATALOG  # lazy: keeps `import orchestrator` light

        return cls(CATALOG)

    def register(self, tool: AnyTool, *, replace: bool = False) -> None:
        """Add a tool; a duplicate name is an error unless ``replace`` is set."""
        if not tool.name or not tool.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"invalid tool name {tool.name!r}: use letters, digits, _ or -")
        if tool.name in self._tools and not replace:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        self._schemas[tool.name] = ToolSchema(
            name=tool.name, description=tool.description, parameters=tool.parameters
        )

    def get(self, name: str) -> AnyTool | None:
        return self._tools.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def schemas(self, names: Iterable[str]) -> tuple[ToolSchema, ...]:
        """Schemas for ``names`` in order; raises :class:`UnknownTool` for a missing one."""
        try:
            return tuple(self._schemas[name] for name in names)
        except KeyError as exc:
            raise UnknownTool(f"unknown tool {exc.args[0]!r}") from None

    def copy(self) -> ToolRegistry:
        return ToolRegistry(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[AnyTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)


def build_tool_services(config: ToolsConfig) -> dict[str, Any]:
    """The long-lived objects tools look up in ``ToolContext.services``: the configured grid
    source, the chart renderer (its processes start with the first chart; the orchestrator's
    ``aclose`` stops them), and the emission factor table when ``tools.emission_factors_file``
    overrides it.

    Raises ``ValueError``/``ToolError`` for a bad source name or an unreadable factors file, so
    a misconfiguration fails at start-up rather than inside a run.
    """
    from tools.footprint import EMISSION_FACTORS_SERVICE, load_factor_table
    from tools.grid import GRID_SOURCE_SERVICE, build_source
    from tools.render.executor import RENDERER_SERVICE, ChartRenderer

    source = build_source(
        config.grid_source,
        grid_file=config.grid_file,
        eirgrid_base_url=config.eirgrid_base_url,
        uk_base_url=config.uk_base_url,
        http_timeout_s=config.http_timeout_s,
        http_retries=config.http_retries,
        cache_ttl_s=config.cache_ttl_s,
    )
    services: dict[str, Any] = {
        GRID_SOURCE_SERVICE: source,
        RENDERER_SERVICE: ChartRenderer(processes=config.render_processes),
    }
    if config.emission_factors_file is not None or config.emission_factors:
        services[EMISSION_FACTORS_SERVICE] = load_factor_table(
            config.emission_factors_file, config.emission_factors
        )
    return services
