"""The real service with two granian workers, scraped by a real Prometheus server.

After N runs (rounds of concurrent runs until both workers have run some), a PromQL query for
completed runs returns N and the token counters equal the sum of the runs' own usage: one
scrape, of whichever worker answers it, sums every worker. The model is the fake OpenAI
server (real HTTP), so runs report real token counts; the Prometheus binary is Debian's
(``make test`` installs it when root), run here on a free port with its own config and
storage in ``tmp_path``, scraping every second with the metrics token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_unavailable
from tests.fakes.openai_server import FakeOpenAI, Turn, serve_in_thread
from tests.live_server import LiveServer, free_port, run_app

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.prometheus]

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
PLAN = '{"steps":[{"kind":"report","task":"Answer"}],"notes":null}'
QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"
ROUND = 4  # concurrent runs per round; rounds until both workers have run some
MAX_ROUNDS = 5


@contextlib.contextmanager
def prometheus_server(tmp_path: Path, target: str, token: str) -> Iterator[str]:
    """A Prometheus server scraping ``target``'s /metrics every second; yields its URL."""
    binary = shutil.which(PROMETHEUS)
    if binary is None:
        service_unavailable(f"Prometheus not installed ({PROMETHEUS}): apt-get install prometheus")
    assert binary is not None
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: sca\n"
        "    authorization:\n"
        "      type: Bearer\n"
        f"      credentials: {token}\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("Prometheus not ready after 20 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _query(prometheus: str, promql: str) -> float | None:
    response = httpx.get(
        f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5, trust_env=False
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return None if not result else float(result[0]["value"][1])


def _until(prometheus: str, promql: str, expected: float, within_s: float = 20.0) -> float | None:
    """Query until the answer is ``expected`` (scrapes are 1 s apart); the last answer."""
    deadline = time.monotonic() + within_s
    value = _query(prometheus, promql)
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        value = _query(prometheus, promql)
    return value


async def _ask_round(base_url: str, token: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    # A client per run: each opens its own connection, which either worker may accept.
    clients = [
        httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) for _ in range(ROUND)
    ]
    try:
        responses = await asyncio.gather(
            *(c.post("/ask", json={"question": QUESTION}, headers=headers) for c in clients)
        )
    finally:
        for client in clients:
            await client.aclose()
    assert {response.status_code for response in responses} == {200}, responses[0].text
    return [response.json() for response in responses]


def _ask_until_both_workers_ran(base_url: str, token: str, metrics_dir: Path) -> list[Any]:
    answers: list[dict[str, Any]] = []
    for _ in range(MAX_ROUNDS):
        answers += asyncio.run(_ask_round(base_url, token))
        per_worker = _completed_per_worker(metrics_dir)
        if len(per_worker) == 2 and all(per_worker.values()):
            return answers
    pytest.fail(f"one worker ran every run: {_completed_per_worker(metrics_dir)}")


def test_prometheus_sees_every_run_of_both_workers(
    tmp_path: Path, live_server: Callable[..., LiveServer], redis_url: str
) -> None:
    metrics_token = uuid.uuid4().hex
    metrics_dir = tmp_path / "metrics"
    database = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    fake = FakeOpenAI(default=Turn(text=PLAN, cached_tokens=2, reasoning_tokens=1))
    with serve_in_thread(fake) as llm_url:
        server = live_server(
            {
                "DATABASE_URL": database,
                "REDIS_URL": redis_url,
                "APP__REDIS__KEY_PREFIX": f"metrics-test-{uuid.uuid4().hex[:8]}",
                "APP__LLM__PROVIDER": "openai_chat",
                "APP__LLM__BASE_URL": f"{llm_url}/v1",
                "APP__LLM__API_KEY": "sk-test",
                "APP__LLM__MODEL": "fake-model",
                "APP__RUNS__MAX_CONCURRENT_PER_USER": str(ROUND),
                "APP__METRICS__TOKEN": metrics_token,
                # An operator's own directory: kept, but emptied at start.
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            },
            ["--workers", "2"],
        )
        created = run_app("token", "create", "ops@example.org", env={"DATABASE_URL": database})
        assert created.returncode == 0, created.stderr
        # Without the token the service refuses a scrape; Prometheus below sends it.
        unscraped = httpx.get(f"{server.base_url}/metrics", timeout=10, trust_env=False)
        assert unscraped.status_code == 401
        target = server.base_url.removeprefix("http://")
        with prometheus_server(tmp_path, target, metrics_token) as prometheus:
            token = created.stdout.strip()
            answers = _ask_until_both_workers_ran(server.base_url, token, metrics_dir)
            assert {answer["status"] for answer in answers} == {"Success"}, answers[0]
            runs = len(answers)

            completed = _until(prometheus, "sum(sca_runs_completed_total)", runs)
            assert completed == runs
            for kind in ("input", "cached", "output", "reasoning"):
                expected = sum(answer["usage"][f"{kind}_tokens"] for answer in answers)
                assert expected > 0, kind
                promql = f'sum(sca_llm_tokens_total{{kind="{kind}",model="fake-model"}})'
                assert _until(prometheus, promql, expected) == expected, kind
            calls = sum(answer["usage"]["llm_calls"] for answer in answers)
            assert _until(prometheus, "sum(sca_llm_calls_total)", calls) == calls
            asks = _until(prometheus, 'sum(sca_http_requests_total{route="/ask"})', runs)
            assert asks == runs
            assert _until(prometheus, "sum(sca_runs_active)", 0) == 0
            assert _query(prometheus, 'up{job="sca"}') == 1

    # Each worker wrote its own file (one per pid), and both ran some of the runs: the
    # answers above were sums over the two.
    per_worker = _completed_per_worker(metrics_dir)
    assert len(per_worker) == 2, per_worker
    assert sum(per_worker.values()) == runs
    assert all(count > 0 for count in per_worker.values()), per_worker


def _completed_per_worker(metrics_dir: Path) -> dict[str, float]:
    """``sca_runs_completed_total`` as each worker's own file holds it, by pid."""
    from prometheus_client.mmap_dict import MmapedDict

    read: Callable[[str], Iterator[tuple[str, float, float, int]]] = (
        MmapedDict.read_all_values_from_file
    )
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        counts[pid] = sum(
            value
            for key, value, _timestamp, _pos in read(str(path))
            if json.loads(key)[1] == "sca_runs_completed_total"
        )
    return counts
