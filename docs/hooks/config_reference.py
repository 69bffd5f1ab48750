"""MkDocs hook: the build fails when docs/configuration-reference.md is stale.

The page is generated from config.toml by ``app.config_reference`` and committed; this hook
makes ``mkdocs build`` (and so ``make test``) refuse a page that no longer matches the file,
with the command that regenerates it. The generator is imported from this checkout (not from
whatever ``app`` the environment has installed), so the check always reads its own code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

_REPO_ROOT = Path(__file__).resolve().parents[2]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from app.config_reference import stale_reason  # noqa: E402  (needs the path above)


def on_pre_build(config: MkDocsConfig) -> None:
    reason = stale_reason(Path(config.config_file_path).parent)
    if reason is not None:
        raise PluginError(reason)
