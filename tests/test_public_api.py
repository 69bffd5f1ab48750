"""The layers and the public API, enforced: ``tools`` imports nothing of ours, ``orchestrator``
never imports the service (nor its web or database stack), and the service uses only the names
``orchestrator.__all__`` exports, which include every error a caller may handle."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import orchestrator
import tools
from orchestrator.providers.base import ProviderError
from tools.catalog_types import ToolError

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> list[tuple[Path, str, list[str]]]:
    """(file, imported module, names) for every import statement in ``package``."""
    out: list[tuple[Path, str, list[str]]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((path, node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                out += [(path, alias.name, []) for alias in node.names]
    return out


def _top(module: str) -> str:
    return module.split(".")[0]


def test_tools_import_nothing_of_ours() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module, _ in _imports("tools")
        if _top(module) in ("app", "orchestrator")
    ]
    assert bad == []


@pytest.mark.parametrize("forbidden", ["app", "litestar", "sqlalchemy", "advanced_alchemy"])
def test_the_orchestrator_never_imports_the_service_or_its_stack(forbidden: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module, _ in _imports("orchestrator")
        if _top(module) == forbidden
    ]
    assert bad == []


def test_the_service_uses_only_the_orchestrators_public_names() -> None:
    public = set(orchestrator.__all__)
    bad: list[str] = []
    for path, module, names in _imports("app"):
        if module.startswith("orchestrator."):
            bad.append(f"{path.relative_to(ROOT)}: imports the private module {module}")
        elif module == "orchestrator":
            bad += [
                f"{path.relative_to(ROOT)}: {name} is not in orchestrator.__all__"
                for name in names
                if name not in public
            ]
    assert bad == []


def test_every_exported_name_exists() -> None:
    for package in (orchestrator, tools):
        missing = [name for name in package.__all__ if not hasattr(package, name)]
        assert missing == [], package.__name__


def _subclasses(base: type) -> set[type]:
    found: set[type] = set()
    subclass: type
    for subclass in base.__subclasses__():
        found |= {subclass, *_subclasses(subclass)}
    return found


def _load_everything(package: str) -> None:
    """Import every module of ``package`` so that every error class is defined."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def test_every_provider_and_tool_error_is_exported() -> None:
    _load_everything("orchestrator")
    _load_everything("tools")
    ours = {
        cls
        for cls in _subclasses(ProviderError) | _subclasses(ToolError)
        if _top(cls.__module__) in ("orchestrator", "tools")
    }
    exported = {
        getattr(package, name)
        for package in (orchestrator, tools)
        for name in package.__all__
        if inspect.isclass(getattr(package, name))
    }
    missing = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in ours - exported)
    assert missing == []
    assert {ProviderError, ToolError} <= exported
