"""schemathesis against the live service: no 5xx, and the OpenAPI contract holds.

``st run`` (the same tool and checks as the audit of issue 14) reads ``/openapi.json`` from
the running server and, for every operation, sends the schema's examples, the coverage
phase's boundary values, random schema-valid (positive) and schema-invalid (negative)
requests, and stateful sequences that feed one response's ids into the next request. Every
check runs: no server error, documented status codes, content types and headers, responses
matching their schemas, schema-valid requests accepted, invalid ones refused, ``Allow`` on
``OPTIONS``, and the rest; ``schemathesis.toml`` beside this file lists the few exceptions,
each with its reason. The seed is fixed, so a failure reproduces.

NUL characters are generated on both backends: PostgreSQL text cannot hold one, so the
service refuses it with a 400 before any query (``test_raw_json.py`` pins those cases).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.app.fuzz.conftest import FuzzTarget

# The fuzz tier: a real server per backend (`-m "not fuzz"` leaves it out of a quick run).
pytestmark = [pytest.mark.fuzz, pytest.mark.server]

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Fixed, so CI is repeatable; FUZZ_SEED=<n> explores other corners locally.
SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
# The operations schemathesis.toml switches off (each with its reason there).
DISABLED = (("POST", "/auth/logout"), ("GET", "/test-stream"))
# NUL in text is a 400 on both backends (one JSON decoder; PostgreSQL text cannot hold it).
ALLOW_NUL = {"sqlite": "true", "postgres": "true"}


@pytest.mark.timeout(600)  # ~20-40 s here; the default 120 s is tight for a loaded CI machine
def test_every_operation_holds_its_contract_under_schemathesis(
    fuzz_target: FuzzTarget, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{fuzz_target.base_url}/openapi.json",
        "--seed",
        str(SEED),
        "--header",
        f"Authorization: Bearer {fuzz_target.user.access_token}",
        "--generation-allow-x00",
        ALLOW_NUL[fuzz_target.backend],
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    summary = output[-8000:] if result.returncode == 0 else output[-25000:]
    assert result.returncode == 0, f"schemathesis failed ({elapsed:.0f} s):\n{summary}"
    # Every documented operation was exercised, but the two the config switches off.
    document = httpx.get(f"{fuzz_target.base_url}/openapi.json", trust_env=False).json()
    operations = sum(
        1 for item in document["paths"].values() for method in item if method != "parameters"
    )
    print(summary)  # the run's summary, shown with -s or -rP
    assert f"Tested: {operations - len(DISABLED)}" in output, summary
    generated = re.search(r"(\d+) generated, \1 passed", output)
    assert generated is not None, summary
    assert int(generated.group(1)) >= 30 * (operations - len(DISABLED)), summary
