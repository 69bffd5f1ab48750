"""The configuration reference page, generated from ``config.toml`` so that it cannot drift.

``config.toml`` is the documented source of every setting: each key appears with its default
(or commented out when it has none) under a comment that says what it does and names its
``APP__…`` variable. This module turns that file into ``docs/configuration-reference.md``: one
table per section with the key, its default, the values the start-up check accepts (the same
words :func:`app.settings.expected_value` gives its error messages), the environment variables
that set it, and the meaning from the file's comment.

The page is committed so it reads on any forge, and checked everywhere it matters: the docs
build (``docs/hooks/config_reference.py``) and a test fail when the committed page differs
from what this module renders. Regenerate it with::

    .venv/bin/python -m app.config_reference --write
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from app.settings import CONVENTIONAL_ENV, ENV_PREFIX, Settings, expected_value

__all__ = ["PAGE_PATH", "REGENERATE_COMMAND", "main", "render_reference", "stale_reason"]

PAGE_PATH = Path("docs") / "configuration-reference.md"
REGENERATE_COMMAND = ".venv/bin/python -m app.config_reference --write"

_HEADER = re.compile(r"^\[(?P<name>[a-z0-9_.]+)\]\s*$")
_COMMENTED_HEADER = re.compile(r"^#\s?\[(?P<name>[a-z0-9_.]+)\]\s*$")
_KEY = re.compile(r"^(?P<key>[a-z][a-z0-9_]*)\s*=\s*(?P<value>.+?)\s*$")
_COMMENTED_KEY = re.compile(r"^#\s?(?P<key>[a-z][a-z0-9_]*|\"[^\"]+\")\s*=\s*(?P<value>.+?)\s*$")
# "... meaning.   int   DATABASE_URL / APP__DATABASE__URL": the type word and the variables
# closing a comment line are shown in their own columns, so they leave the meaning.
_TYPE_AND_VARIABLES = re.compile(r"\s*(?:\S+\s+)?(?:[A-Z][A-Z0-9_]*\s*/\s*)?APP__\S.*$")
_LONGEST_EXAMPLE = 60


@dataclass
class _Key:
    name: str
    value: str
    commented: bool
    meaning: list[str]


@dataclass
class _Section:
    name: str
    notes: list[list[str]] = field(default_factory=list)
    keys: list[_Key] = field(default_factory=list)
    example_table: str | None = None
    example: list[str] = field(default_factory=list)


def _variables(section: str, key: str) -> list[str]:
    path = (*section.split("."), key)
    conventional = [name for name, target in CONVENTIONAL_ENV.items() if target == path]
    return [*conventional, ENV_PREFIX + "__".join(part.upper() for part in path)]


def _comment_text(line: str) -> str:
    return line[1:][1:] if line.startswith("# ") else line[1:]


def _parse(text: str) -> list[_Section]:
    """Sections in file order; comments go to the key whose variable they name, else to notes."""
    sections: list[_Section] = []
    current: _Section | None = None
    pending: list[str] = []  # comment lines since the last blank line, key or header
    shared: list[str] | None = None  # the meaning of the previous key, for keys right below it
    for raw in text.splitlines():
        line = raw.strip()
        header = _HEADER.match(line)
        if header:
            current = _Section(header["name"])
            if pending:
                current.notes.append(pending)
            sections.append(current)
            pending, shared = [], None
            continue
        if current is None:
            continue  # the file's preamble: docs/configuration.md explains loading in prose
        if current.example_table is not None and line.startswith("#"):
            current.example.append(_comment_text(line))
            continue
        commented_header = _COMMENTED_HEADER.match(line)
        if commented_header:
            if pending:
                current.notes.append(pending)
            current.example_table = commented_header["name"]
            pending, shared = [], None
            continue
        key = _KEY.match(line) or _COMMENTED_KEY.match(line)
        if key and key["key"].startswith('"'):
            current.example.append(_comment_text(line))
            continue
        if key:
            variable = _variables(current.name, key["key"])[-1]
            if pending and any(variable in comment for comment in pending):
                shared, pending = pending, []
            elif pending:
                current.notes.append(pending)
                shared, pending = None, []
            current.keys.append(
                _Key(key["key"], key["value"], line.startswith("#"), list(shared or []))
            )
            continue
        if line.startswith("#"):
            pending.append(_comment_text(line))
            shared = None
            continue
        if pending:
            current.notes.append(pending)
        pending, shared = [], None
    if current is not None and pending:
        current.notes.append(pending)
    return sections


def _escape(text: str) -> str:
    """Plain comment text as Markdown inline text (also safe inside a table cell)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def _meaning(lines: list[str]) -> str:
    kept = (_TYPE_AND_VARIABLES.sub("", line).strip() for line in lines)
    return _escape(" ".join(part for part in kept if part))


def _notes(block: list[str]) -> list[str]:
    """A comment block as Markdown: prose joined into a paragraph, indented lines kept as text."""
    out: list[str] = []
    prose: list[str] = []
    preformatted: list[str] = []
    for line in [*block, ""]:
        if line.startswith("  ") and not prose:
            preformatted.append(line)
            continue
        if line.startswith("  "):
            out += [" ".join(prose), ""]
            prose = []
            preformatted.append(line)
            continue
        if preformatted:
            out += ["```text", *preformatted, "```", ""]
            preformatted = []
        if line.strip():
            prose.append(_escape(line.strip()))
    if prose:
        out += [" ".join(prose), ""]
    return out


def _built_in_default(dotted: str) -> object:
    """The default the settings apply to a commented-out key (None: the key stays unset)."""
    value: Any = msgspec.to_builtins(Settings())
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _default(section: str, key: _Key) -> str:
    if not key.commented:
        return f"`{key.value}`"
    built_in = _built_in_default(f"{section}.{key.name}")
    if built_in is not None:
        return f"`{json.dumps(built_in)}`"
    if len(key.value) <= _LONGEST_EXAMPLE:
        return f"unset (e.g. `{key.value}`)"
    return "unset"


def _table(section: str, keys: list[_Key], *, example: bool) -> list[str]:
    rows = [
        "| Key | Default | Valid values | Environment | Meaning |",
        "|---|---|---|---|---|",
    ]
    for key in keys:
        dotted = f"{section}.{key.name}"
        valid = expected_value(dotted)
        if valid is None:
            msg = f"config.toml has {dotted}, which the settings do not know"
            raise ValueError(msg)
        variables = " ".join(f"`{name}`" for name in _variables(section, key.name))
        default = f"e.g. `{key.value}`" if example else _default(section, key)
        meaning = _meaning(key.meaning)
        rows.append(f"| `{key.name}` | {default} | {_escape(valid)} | {variables} | {meaning} |")
    return [*rows, ""]


def render_reference(config_text: str) -> str:
    """The Markdown page for ``config_text`` (the contents of ``config.toml``)."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from config.toml by `" + REGENERATE_COMMAND + "`. Do not edit. -->",
        "",
        "Every key of `config.toml`, section by section, generated from the file itself: the",
        "default is the value the file sets (*unset* when the key is commented out), *valid",
        "values* is what the start-up check accepts, and *environment* lists the variables",
        "that override the key. How the file and the variables combine is in",
        "[Configuration](configuration.md).",
        "",
    ]
    for section in _parse(config_text):
        out += [f"## `[{section.name}]`", ""]
        for block in section.notes:
            out += _notes(block)
        if section.keys:
            out += _table(section.name, section.keys, example=False)
        if section.example_table is not None:
            example_keys = [
                _Key(match["key"], match["value"], True, [])
                for match in map(_COMMENTED_KEY.match, [f"# {line}" for line in section.example])
                if match and not match["key"].startswith('"')
            ]
            out += [f"Keys of each `[{section.example_table}]` table:", ""]
            out += _table(section.example_table, example_keys, example=True)
        if section.example:
            header = [f"[{section.example_table or section.name}]"]
            out += ["Example:", "", "```toml", *header, *section.example, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def stale_reason(root: Path) -> str | None:
    """Why the committed page under ``root`` is not what ``config.toml`` renders, or None."""
    expected = render_reference((root / "config.toml").read_text(encoding="utf-8"))
    page = root / PAGE_PATH
    if not page.exists():
        return f"{PAGE_PATH} is missing: run {REGENERATE_COMMAND}"
    if page.read_text(encoding="utf-8") != expected:
        return f"{PAGE_PATH} does not match config.toml: run {REGENERATE_COMMAND}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.config_reference",
        description="Render docs/configuration-reference.md from config.toml.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the page into docs/")
    mode.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    parser.add_argument("--root", type=Path, default=Path(), help="repository root")
    args = parser.parse_args(argv)
    if args.check:
        reason = stale_reason(args.root)
        if reason is not None:
            print(reason, file=sys.stderr)
            return 1
        return 0
    page = render_reference((args.root / "config.toml").read_text(encoding="utf-8"))
    if args.write:
        (args.root / PAGE_PATH).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
