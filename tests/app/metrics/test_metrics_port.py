"""``metrics.port``: the launcher serves the workers' metrics on a port of its own.

The real service (``python -m app`` → granian): the service's own port then has no
``/metrics``, the separate port has every worker's metrics, and the launcher removes the
metrics directory it created when it stops. A port with a token, or the service's own port,
is refused at start like every other bad setting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.settings import ConfigError, load_settings
from tests.app.metrics.support import Samples
from tests.live_server import LiveServer, free_port, run_app

pytestmark = [pytest.mark.server]

QUESTION = "What is the carbon footprint of 1,000 kWh of electricity in Ireland?"


def test_the_metrics_port_serves_every_worker_and_the_service_port_does_not(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    port = free_port()
    server = live_server({"DATABASE_URL": database, "APP__METRICS__PORT": str(port)})
    created = run_app("token", "create", "ops@example.org", env={"DATABASE_URL": database})
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
    with httpx.Client(timeout=60, trust_env=False) as client:
        answer = client.post(
            f"{server.base_url}/ask", json={"question": QUESTION}, headers=headers
        ).json()
        on_service_port = client.get(f"{server.base_url}/metrics")
        scraped = client.get(f"http://127.0.0.1:{port}/metrics")
    assert answer["status"] == "Success", answer
    assert on_service_port.status_code == 404
    assert scraped.status_code == 200
    samples = Samples(scraped.text)
    assert samples.value("sca_runs_completed_total") == 1
    assert samples.value("sca_http_requests_total", route="/ask", status="200") == 1
    # The directory this start created holds the workers' files until the launcher stops.
    [line] = [json.loads(line) for line in server.log_text().splitlines() if '"metrics"' in line]
    assert line["url"] == f"http://127.0.0.1:{port}/metrics"
    directory = Path(line["directory"])
    assert list(directory.glob("counter_*.db"))
    assert server.stop() == 0
    assert not directory.exists()


def test_a_taken_metrics_port_stops_the_start(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    first = live_server({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"})
    result = run_app(
        "--port",
        str(free_port()),
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
            "JWT_SECRET": uuid.uuid4().hex * 2,
            "APP__METRICS__PORT": str(first.port),
        },
    )
    assert result.returncode == 1, result.stderr
    assert "start-up failed" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        (
            {"APP__METRICS__PORT": "8000"},
            "metrics.port: expected a port other than server.port (8000)",
        ),
        (
            {"APP__METRICS__PORT": "9100", "APP__METRICS__TOKEN": "t" * 32},
            "metrics.token: the separate metrics port (metrics.port) takes no token",
        ),
    ],
)
def test_a_metrics_port_is_refused_with_a_token_or_on_the_service_port(
    environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"JWT_SECRET": "s" * 48, **environ})
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems
