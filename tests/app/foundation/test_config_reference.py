"""The configuration reference page is config.toml rendered, and it cannot go stale silently.

``docs/configuration-reference.md`` is committed; these tests fail when it differs from what
``app.config_reference`` renders from the repository's ``config.toml``, when a settings key has
no row, and when the check itself would miss an edited default.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.config_reference import PAGE_PATH, REGENERATE_COMMAND, main, render_reference, stale_reason
from app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
# Tables whose keys are names the operator chooses (a model id, an assistant's name).
OPEN_TABLES = {"accounting.prices", "assistants.extra"}


def rows_by_section(page: str) -> dict[str, dict[str, list[str]]]:
    """``{"server": {"port": [cells…]}, …}`` from the rendered Markdown tables."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in page.splitlines():
        heading = re.match(r"^## `\[(?P<name>[a-z0-9_.]+)\]`$", line)
        if heading:
            current = sections.setdefault(heading["name"], {})
        row = re.match(r"^\| `(?P<key>[a-z0-9_]+)` \|(?P<rest>.*)\|$", line)
        if row:
            current[row["key"]] = [cell.strip() for cell in row["rest"].split(" | ")]
    return sections


def settings_keys(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf key of the built-in settings, as paths."""
    if isinstance(value, dict) and ".".join(path) not in OPEN_TABLES:
        return [key for name, item in value.items() for key in settings_keys(item, (*path, name))]
    return [path]


def copy_repository_files(root: Path) -> None:
    (root / "docs").mkdir()
    shutil.copy(REPO_ROOT / "config.toml", root / "config.toml")
    shutil.copy(REPO_ROOT / PAGE_PATH, root / PAGE_PATH)


def test_the_committed_page_is_what_config_toml_renders() -> None:
    assert stale_reason(REPO_ROOT) is None, f"regenerate it: {REGENERATE_COMMAND}"


def test_every_settings_key_has_a_row_in_its_section() -> None:
    page = render_reference((REPO_ROOT / "config.toml").read_text(encoding="utf-8"))
    sections = rows_by_section(page)
    missing = [
        ".".join(path)
        for path in settings_keys(msgspec.to_builtins(Settings()))
        if ".".join(path) not in OPEN_TABLES
        and path[-1] not in sections.get(".".join(path[:-1]), {})
    ]
    assert missing == []
    assert set(sections["assistants.extra"]) >= {"description", "instructions", "tools", "model"}


def test_a_row_shows_default_valid_values_variables_and_meaning() -> None:
    sections = rows_by_section(render_reference((REPO_ROOT / "config.toml").read_text()))
    default, valid, variables, meaning = sections["database"]["url"]
    assert default == '`"sqlite+aiosqlite:///var/app.db"`'
    assert valid.startswith('URL "sqlite+aiosqlite:///path.db"')
    assert variables == "`DATABASE_URL` `APP__DATABASE__URL`"
    assert meaning.startswith("SQLAlchemy async URL")
    assert "APP__" not in meaning  # the type word and variables have their own columns
    default, valid, _, _ = sections["server"]["port"]
    assert (default, valid) == ("`8000`", "int in 1..65535")
    # Commented out in config.toml: unset, with the file's example; or the built-in default.
    assert sections["server"]["public_origin"][0] == 'unset (e.g. `"https://city.example.org"`)'
    assert sections["assistants.carbon"]["hosted_tools"][0] == "`[]`"


def test_comment_text_cannot_break_the_markdown() -> None:
    config = (
        "[server]\n"
        "# Uses <port> | a_b and *stars*.                 int  APP__SERVER__PORT\n"
        "port = 8000\n"
    )
    row = rows_by_section(render_reference(config))["server"]["port"]
    assert row[-1] == r"Uses &lt;port&gt; \| a\_b and \*stars\*."


def test_a_key_the_settings_do_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match=r"config.toml has server\.prot"):
        render_reference("[server]\nprot = 8000\n")


def test_an_edited_default_makes_the_page_stale(tmp_path: Path) -> None:
    copy_repository_files(tmp_path)
    assert stale_reason(tmp_path) is None
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace("port = 8000", "port = 8080", 1))
    assert stale_reason(tmp_path) == (
        f"{PAGE_PATH} does not match config.toml: run {REGENERATE_COMMAND}"
    )
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert main(["--write", "--root", str(tmp_path)]) == 0
    assert stale_reason(tmp_path) is None
    assert "| `port` | `8080` |" in (tmp_path / PAGE_PATH).read_text()


def test_a_missing_page_is_reported(tmp_path: Path) -> None:
    copy_repository_files(tmp_path)
    (tmp_path / PAGE_PATH).unlink()
    assert stale_reason(tmp_path) == f"{PAGE_PATH} is missing: run {REGENERATE_COMMAND}"
