"""``GET /images/{name}``: the predecessor's grid plots and runs' charts, public PNGs."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from app.images.co2plot import SYNTHETIC_LABEL, Co2Plot, chart_arguments
from app.main import create_app
from app.runs.plugin import RunsPlugin
from app.settings import DatabaseSettings, Settings
from orchestrator.config import ToolsConfig
from tests.conftest import make_settings
from tests.support.sse import parse_sse
from tests.support.webauthn import signed_in_user
from tools.grid.file import FileGridSource
from tools.grid.service import fetch_range
from tools.grid.synthetic import SyntheticGridSource
from tools.render.charts import grid_chart
from tools.render.executor import RENDERER_SERVICE, ChartRenderer
from tools.render.raster import PNG_SIGNATURE

Client = AsyncTestClient[Litestar]
DAY = "co2plot_day_all_2026-03-01_2026-03-01.png"
GRID_QUESTION = "When is the best time to charge my EV in Ireland tomorrow?"
IMAGE_LINK = re.compile(r"!\[[^\]\n]*\]\((/images/chart-[0-9a-f]{32}\.png)\)")


def _settings(tmp_path: Path, **tools: Any) -> Settings:
    # Charts drawn in a thread here (the process pool is the same code, and costs a spawn).
    return make_settings(tmp_path, tools=ToolsConfig(render_processes=0, **tools))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(_settings(tmp_path))) as test_client:
        yield test_client


def _png_size(body: bytes) -> tuple[int, int]:
    assert body.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(body)) as image:
        image.verify()
        return image.size


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert body["detail"]


# --- grid plots ------------------------------------------------------------------------------


async def test_a_day_plot_is_a_png_without_auth_and_cached(client: Client) -> None:
    first = await client.get(f"/images/{DAY}")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.headers["cache-control"] == "public, max-age=900"
    width, height = _png_size(first.content)
    assert (width, height) == (800, 360)
    again = await client.get(f"/images/{DAY}")
    assert again.content == first.content


async def test_a_month_plot_and_every_region_render(client: Client) -> None:
    for name in (
        "co2plot_month_all_2026-02-01_2026-02-28.png",
        "co2plot_day_ie_2026-03-01_2026-03-02.png",
        "co2plot_day_NI_2026-03-01_2026-03-01.png",
        "co2plot_day_gb_2026-03-01_2026-03-01.png",
    ):
        response = await client.get(f"/images/{name}")
        assert response.status_code == 200, (name, response.text)
        _png_size(response.content)


async def test_a_plot_that_includes_today_is_cached_briefly(client: Client) -> None:
    today = datetime.now(UTC).date()
    response = await client.get(f"/images/co2plot_day_all_{today}_{today}.png")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("co2plot_day_all_2026-02-30_2026-02-30.png", 400, "invalid_date"),
        ("co2plot_day_all_20260301_20260301.png", 400, "invalid_date"),
        ("co2plot_day_all_2026-03-02_2026-03-01.png", 400, "invalid_range"),
        ("co2plot_day_mars_2026-03-01_2026-03-01.png", 400, "unknown_region"),
        ("co2plot_month_all_2026-01-01_2026-02-15.png", 400, "invalid_range"),
        ("co2plot_day_all_2026-03-01_2026-03-09.png", 400, "invalid_range"),
        ("co2plot_day_all_2000-01-01_2026-01-01.png", 400, "invalid_range"),
        ("co2plot_year_all_2026-03-01_2026-03-01.png", 400, "invalid_period"),
        ("co2plot_day_all_1999-12-31_1999-12-31.png", 400, "date_out_of_range"),
        ("co2plot_day_all_2026-03-01_2026-03-01.svg", 404, "image_not_found"),
        ("co2plot_day_all_2026-03-01.png", 404, "image_not_found"),
        ("chart-0123456789abcdef0123456789abcdef.png", 404, "image_not_found"),
        ("chart-0123456789abcdef0123456789abcdef.svg", 404, "image_not_found"),
        ("chart-xyz.png", 404, "image_not_found"),
        ("plot.png", 404, "image_not_found"),
        ("x" * 5000 + ".png", 404, "image_not_found"),
    ],
)
async def test_bad_names_answer_json_errors(
    client: Client, name: str, status: int, code: str
) -> None:
    _assert_error(await client.get(f"/images/{name}"), status, code)


async def test_path_traversal_never_reaches_a_file(client: Client) -> None:
    """Names are parsed, never used as paths; encoded slashes leave the one-segment route."""
    for path in (
        "/images/../app/main.py",
        "/images/%2e%2e/%2e%2e/config.toml",
        "/images/..%2F..%2Fconfig.toml",
        "/images/co2plot_day_all_..%2F..%2Fetc_passwd.png",
        "/images/%2E%2E%2F%2E%2E%2Fapp%2Fmain.py",
        "/images/..",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] in {"image_not_found", "not_found"}
        assert b"[server]" not in response.content
        assert b"create_app" not in response.content


async def test_dates_beyond_the_forecast_horizon_are_refused(client: Client) -> None:
    later = datetime.now(UTC).date() + timedelta(days=5)
    response = await client.get(f"/images/co2plot_day_all_{later}_{later}.png")
    _assert_error(response, 400, "date_out_of_range")


async def test_a_region_the_grid_source_lacks_is_not_found(tmp_path: Path) -> None:
    series = tmp_path / "ie.csv"
    series.write_text(
        "timestamp,value,region\n"
        + "".join(f"2026-03-01T{hour:02d}:00:00Z,{200 + hour},ie\n" for hour in range(24))
    )
    settings = _settings(tmp_path, grid_source="file", grid_file=str(series))
    async with AsyncTestClient(create_app(settings)) as client:
        ok = await client.get("/images/co2plot_day_ie_2026-03-01_2026-03-01.png")
        assert ok.status_code == 200, ok.text
        missing = await client.get("/images/co2plot_day_gb_2026-03-01_2026-03-01.png")
        _assert_error(missing, 404, "no_grid_data")


async def test_synthetic_plots_say_so_in_the_title_and_measured_ones_do_not(
    tmp_path: Path,
) -> None:
    plot = Co2Plot(period="day", region="ie", start=date(2026, 3, 1), end=date(2026, 3, 1))
    now = datetime(2026, 3, 5, tzinfo=UTC)
    synthetic = await fetch_range(SyntheticGridSource(), "ie", plot.start, plot.end, now)
    measured_file = tmp_path / "measured.csv"
    measured_file.write_text(
        "timestamp,value\n"
        + "".join(f"2026-03-01T{hour:02d}:00:00Z,{250 + hour}\n" for hour in range(24))
    )
    measured = await fetch_range(FileGridSource(str(measured_file)), "ie", *(plot.start,) * 2, now)

    synthetic_svg = grid_chart(**chart_arguments(plot, synthetic), fmt="svg").decode()
    measured_svg = grid_chart(**chart_arguments(plot, measured), fmt="svg").decode()
    assert SYNTHETIC_LABEL in synthetic_svg
    assert SYNTHETIC_LABEL not in measured_svg
    assert "Grid carbon intensity, Republic of Ireland" in measured_svg
    assert ">2026-03-01<" in measured_svg


# --- run charts ------------------------------------------------------------------------------


async def test_a_runs_charts_are_linked_from_its_report_and_served_without_auth(
    client: Client,
) -> None:
    user = await signed_in_user(client, "alice@example.org")
    response = await client.post(
        "/ask-stream", json={"question": GRID_QUESTION}, headers=user.headers
    )
    frames = [frame for frame in parse_sse(response.text) if frame.id is not None]
    completed = frames[-1].event_body
    assert completed["event_type"] == "completed"
    charts = completed["data"]["charts"]
    assert charts, "the offline grid answer draws a chart"
    links = IMAGE_LINK.findall(completed["data"]["full_content"])
    assert links == [chart["url"] for chart in charts]
    assert IMAGE_LINK.findall(completed["data"]["final_response"]) == links
    assert all(chart["url"] != f"/images/{chart['id']}.png" for chart in charts)

    conversation_id = response.headers["x-conversation-id"]
    detail = await client.get(f"/conversations/{conversation_id}", headers=user.headers)
    stored_answer = detail.json()["messages"][-1]["content"]
    assert IMAGE_LINK.findall(stored_answer) == links

    image = await client.get(links[0])  # no Authorization header, like an <img>
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/png"
    width, _height = _png_size(image.content)
    assert width == 1000


async def test_chart_images_of_a_deleted_conversation_are_gone_even_when_cached(
    tmp_path: Path,
) -> None:
    async with AsyncTestClient(create_app(_settings(tmp_path))) as client:
        user = await signed_in_user(client, "bob@example.org")
        body = (
            await client.post("/ask", json={"question": GRID_QUESTION}, headers=user.headers)
        ).json()
        (link,) = IMAGE_LINK.findall(body["message"]["content"])
        run = (await client.get(f"/runs/{body['run_id']}", headers=user.headers)).json()
        assert link in run["report"]
        shown = await client.get(link)  # drawn, and now in the worker's image cache
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "private, max-age=300"
        assert (await client.get(link)).content == shown.content
        await client.delete(f"/conversations/{body['conversation_id']}", headers=user.headers)
        _assert_error(await client.get(link), 404, "image_not_found")


async def test_each_run_gets_fresh_unguessable_ids_for_the_same_chart(client: Client) -> None:
    user = await signed_in_user(client, "carol@example.org")
    links: list[str] = []
    for _ in range(2):
        body = (
            await client.post("/ask", json={"question": GRID_QUESTION}, headers=user.headers)
        ).json()
        links += IMAGE_LINK.findall(body["message"]["content"])
    assert len(links) == 2
    assert links[0] != links[1]  # the same chart content, a new random id per run
    for link in links:
        assert (await client.get(link)).status_code == 200


def test_completed_event_chart_urls_are_part_of_the_event_contract() -> None:
    from orchestrator.events import ChartRef

    chart = msgspec.json.decode(b'{"id":"c","title":"t","svg":"<svg/>"}', type=ChartRef)
    assert chart.url is None


@pytest.mark.postgres
async def test_on_postgresql_images_are_drawn_in_the_renderer_process(
    tmp_path: Path, postgres_url: str
) -> None:
    """The production shape: charts stored in PostgreSQL, PNGs drawn in the renderer's
    worker process (``tools.render_processes = 1``, the default), not in this one."""
    settings = make_settings(
        tmp_path, database=DatabaseSettings(url=postgres_url, pool_size=2, max_overflow=0)
    )
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        runtime = app.plugins.get(RunsPlugin).runtime
        renderer = runtime.tool_services[RENDERER_SERVICE]
        assert isinstance(renderer, ChartRenderer)
        assert renderer.processes == 1
        started_before = renderer.started
        plot = await client.get(f"/images/{DAY}")
        assert plot.status_code == 200, plot.text
        assert (started_before, renderer.started) == (False, True)
        user = await signed_in_user(client, "dave@example.org")
        body = (
            await client.post("/ask", json={"question": GRID_QUESTION}, headers=user.headers)
        ).json()
        (link,) = IMAGE_LINK.findall(body["message"]["content"])
        image = await client.get(link)
        assert image.status_code == 200, image.text
        assert _png_size(image.content)[0] == 1000
