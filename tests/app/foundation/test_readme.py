"""The README's first session runs as written, against a real server.

A shell block of README.md runs in this test when the line before its fence is the marker
``<!-- readme-test -->``; the fence must be ```` ```bash ````. The marker may name text the
block must print, in double or single quotes:
``<!-- readme-test expect="event: completed" expect='"status":"Success"' -->``.

The marked blocks run in order in one ``bash`` process (so ``TOKEN`` set by one block is
there for the next), each under ``set -euo pipefail``, from the repository root, against a
server this test starts with ``python -m app`` (``tests/live_server.py``). Three things are
mapped so the README can be written for a reader's machine:

- ``.venv/bin/python`` becomes the interpreter running the tests;
- ``http://localhost:8000`` becomes the test server's address;
- ``DATABASE_URL`` and ``JWT_SECRET`` are the test server's, so a token the README creates
  with ``python -m app token create`` is valid on that server.

Marked blocks must not start the service (``make run``): the test provides it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from tests.live_server import REPO_ROOT, TEST_JWT_SECRET, LiveServer

README = REPO_ROOT / "README.md"
_EXPECT = r"expect=(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)')"
MARKER = re.compile(rf"^<!-- readme-test(?P<options>(?:\s+{_EXPECT})*)\s*-->$")
EXPECT = re.compile(_EXPECT)
README_PYTHON = ".venv/bin/python"
README_ORIGIN = "http://localhost:8000"
TOKEN_COMMAND = "TOKEN=$(.venv/bin/python -m app token create you@example.org)"
_SEPARATOR = "@@readme-test block {index} done@@"


@dataclass(frozen=True)
class ReadmeBlock:
    line: int  # 1-based line of the opening fence
    code: str
    expects: tuple[str, ...]


def readme_blocks(text: str) -> list[ReadmeBlock]:
    """The marked ```` ```bash ```` blocks of ``text``, in order; a marker elsewhere is an error."""
    lines = text.splitlines()
    blocks: list[ReadmeBlock] = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if marker is None:
            continue
        fence = index + 1
        if fence >= len(lines) or lines[fence].strip() != "```bash":
            msg = f"README.md:{index + 1}: <!-- readme-test --> must be followed by ```bash"
            raise ValueError(msg)
        end = next((i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```"), None)
        if end is None:
            msg = f"README.md:{fence + 1}: the ```bash block is never closed"
            raise ValueError(msg)
        expects = tuple(
            m["double"] if m["double"] is not None else m["single"]
            for m in EXPECT.finditer(marker["options"])
        )
        blocks.append(ReadmeBlock(fence + 1, "\n".join(lines[fence + 1 : end]), expects))
    return blocks


def shell_script(blocks: list[ReadmeBlock], python: str, origin: str) -> str:
    """One bash script running every block, with a separator line after each one's output."""
    parts = ["set -euo pipefail"]
    for index, block in enumerate(blocks):
        code = block.code.replace(README_PYTHON, shlex.quote(python))
        separator = _SEPARATOR.format(index=index)
        parts += [code.replace(README_ORIGIN, origin), f"echo; echo '{separator}'"]
    return "\n".join(parts) + "\n"


def split_outputs(stdout: str, count: int) -> list[str]:
    outputs: list[str] = []
    rest = stdout
    for index in range(count):
        separator = _SEPARATOR.format(index=index)
        if separator not in rest:
            break
        done, rest = rest.split(separator, 1)
        outputs.append(done)
    return outputs


def test_the_first_session_uses_a_script_token_and_streams_a_run() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    first = blocks[0].code
    assert TOKEN_COMMAND in first.splitlines()
    assert re.search(r"curl .*-H \"Authorization: Bearer \$TOKEN\"", first)
    assert f"{README_ORIGIN}/ask-stream" in first
    for block in blocks:
        assert not re.search(r"\bmake\b", block.code), f"README.md:{block.line} starts the service"


def test_a_marker_must_precede_a_bash_fence() -> None:
    with pytest.raises(ValueError, match=r"README.md:2: .* must be followed by ```bash"):
        readme_blocks("text\n<!-- readme-test -->\n```python\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="never closed"):
        readme_blocks('<!-- readme-test expect="x" -->\n```bash\necho x\n')
    marked = '<!-- readme-test expect="a b" expect=\'"c"\' -->\n```bash\necho hi\n```\n'
    assert readme_blocks(marked) == [ReadmeBlock(2, "echo hi", ("a b", '"c"'))]
    assert readme_blocks("<!-- readme-test-not -->\n```bash\necho no\n```\n") == []


def heading_anchors(markdown: str) -> set[str]:
    """The anchors MkDocs (and GitHub, for these headings) gives the headings of a page."""
    headings = re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M)
    return {slugify(re.sub(r"[`*]", "", heading), "-") for heading in headings}


def test_every_link_from_the_readme_reaches_a_file_and_its_heading() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://)([^)#]+)(?:#([^)]+))?\)", text)
    assert any(path.startswith("docs/") for path, _ in targets)
    for path, anchor in targets:
        target = REPO_ROOT / path
        assert target.is_file(), f"README.md links to {path}, which does not exist"
        if anchor:
            assert anchor in heading_anchors(target.read_text(encoding="utf-8")), (
                f"README.md links to {path}#{anchor}, which has no such heading"
            )


@pytest.mark.server
def test_the_readme_shell_blocks_run_against_a_live_server(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'readme.db'}"
    server = live_server({"DATABASE_URL": database_url})
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    environment = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith("APP__") and name.lower() not in {"http_proxy", "all_proxy"}
        },
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    result = subprocess.run(
        ["bash", "-c", shell_script(blocks, sys.executable, server.base_url)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    outputs = split_outputs(result.stdout, len(blocks))
    report = f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    failed = blocks[min(len(outputs), len(blocks) - 1)]
    assert result.returncode == 0, f"README.md:{failed.line} failed\n{report}"
    assert len(outputs) == len(blocks), report
    for block, output in zip(blocks, outputs, strict=True):
        assert output.strip(), f"README.md:{block.line} printed nothing\n{report}"
        for text in block.expects:
            assert text in output, f"README.md:{block.line} did not print {text!r}\n{report}"
