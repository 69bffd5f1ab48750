"""Upload parsing stays linear in the file, and every cap ends a parse with a clear error.

Row 1 of issue 14: ``column in list`` made wide files quadratic (40k columns: 20 s of CPU).
The linearity test compares the time per cell of a wide file with a narrow one of the same
cells, measured in the same run, so the machine's speed cancels out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tools.analysis.upload import UploadError, UploadLimits, parse_upload

WIDE = UploadLimits(max_columns=100_000, max_cells=10_000_000)


def wide_csv(columns: int, rows: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join(str(i % 97) for i in range(columns))
    return (header + "\n" + (row + "\n") * rows).encode()


def wide_json(columns: int, rows: int) -> bytes:
    row = "{" + ", ".join(f'"c{i}": {i % 97}' for i in range(columns)) + "}"
    return ("[" + ", ".join([row] * rows) + "]").encode()


def seconds_per_cell(content: bytes, name: str, cells: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        parse_upload(content, name, max_rows=100_000, limits=WIDE)
        best = min(best, time.process_time() - started)
    return best / cells


@pytest.mark.parametrize(("make", "name"), [(wide_csv, "wide.csv"), (wide_json, "wide.json")])
def test_a_wide_file_costs_about_what_a_narrow_one_does_per_cell(
    make: Callable[[int, int], bytes], name: str
) -> None:
    cells = 20_000
    narrow = seconds_per_cell(make(20, cells // 20), name, cells)
    wide = seconds_per_cell(make(cells // 2, 2), name, cells)
    # Quadratic parsing made this ratio ~200 (10,000 columns); linear parsing keeps it near 1.
    assert wide / narrow < 5, f"wide {wide * 1e6:.2f} us/cell vs narrow {narrow * 1e6:.2f} us/cell"


@pytest.mark.parametrize(
    ("content", "name", "limits", "message"),
    [
        (wide_csv(11, 1), "a.csv", UploadLimits(max_columns=10), "too many columns: the limit"),
        (wide_json(11, 1), "a.json", UploadLimits(max_columns=10), "too many columns: the limit"),
        (wide_csv(10, 10), "a.csv", UploadLimits(max_cells=99), "too many cells: 10 rows x 10"),
        # Sparse JSON: each row names a new column, so the table is rows x rows cells.
        (
            ("[" + ", ".join(f'{{"c{i}": 1}}' for i in range(300)) + "]").encode(),
            "a.json",
            UploadLimits(max_columns=1_000, max_cells=50_000),
            "too many cells: 300 rows x 300 columns",
        ),
        (b"v,note\n1," + b"x" * 101 + b"\n", "a.csv", UploadLimits(max_cell_chars=100), "line 2"),
        (b"v," + b"x" * 101 + b"\n1,2\n", "a.csv", UploadLimits(max_cell_chars=100), "line 1"),
        (
            b'[{"v": 1, "note": "' + b"x" * 101 + b'"}]',
            "a.json",
            UploadLimits(max_cell_chars=100),
            "row 1: a cell has 101",
        ),
        (b"[" * 10 + b"]" * 10, "a.json", UploadLimits(max_json_depth=8), "nested more than 8"),
        (b"[" * 50_000 + b"]" * 50_000, "a.json", UploadLimits(), "nested more than 8"),
        (b'[{"v": ' + b"9" * 5_000 + b"}]", "a.json", UploadLimits(), "out of range"),
        (b'[{"v": 1, "note": "a\\u0000b"}]', "a.json", UploadLimits(), "NUL"),
        (b"v,note\n1,ok\n2,a\x00b\n", "a.csv", UploadLimits(), "line 3: the file contains a NUL"),
        (b'[{"v": 1},\n {"v": "\xff"}]', "a.json", UploadLimits(), "not UTF-8"),
        (b'[{"v": 1},\n {"v": 2]', "a.json", UploadLimits(), "line 2: invalid JSON"),
    ],
)
def test_each_cap_names_itself(
    content: bytes, name: str, limits: UploadLimits, message: str
) -> None:
    with pytest.raises(UploadError, match=message):
        parse_upload(content, name, max_rows=100_000, limits=limits)


def test_a_parse_past_its_cpu_budget_stops() -> None:
    content = wide_csv(20, 5_000)
    assert len(parse_upload(content, "a.csv", max_rows=100_000).rows) == 5_000
    with pytest.raises(UploadError, match=r"CPU-time budget of 0\.001 s"):
        parse_upload(content, "a.csv", max_rows=100_000, limits=UploadLimits(cpu_budget_s=0.001))
