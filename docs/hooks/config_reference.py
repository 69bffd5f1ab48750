"""MkDocs hook: the build fails when docs/configuration-reference.md is stale.

The page is generated from config.toml by ``app.config_reference`` and committed; this hook
makes ``mkdocs build`` (and so ``make test``) refuse a page that no longer matches the file,
with the command that regenerates it.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

from app.config_reference import stale_reason


def on_pre_build(config: MkDocsConfig) -> None:
    reason = stale_reason(Path(config.config_file_path).parent)
    if reason is not None:
        raise PluginError(reason)
