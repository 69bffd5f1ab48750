"""Live grid clients against fake EirGrid / GB servers on loopback, plus the cache, the file
source and build_source."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.grid_servers import (
    FakeGridServer,
    FakeResponse,
    eirgrid_forecast_value,
    eirgrid_value,
    serve_grid,
    uk_value,
)
from tests.tools.fixed_source import FixedSource
from tools.catalog_types import ToolContext
from tools.grid import (
    CachedGridSource,
    EirGridSource,
    FileGridSource,
    GridDataError,
    Region,
    SyntheticGridSource,
    UKCarbonIntensitySource,
    build_source,
)
from tools.grid.tools import GridIntensityInput, grid_intensity

DUBLIN = ZoneInfo("Europe/Dublin")
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # "now" well after the ranges below


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeGridServer]:
    with serve_grid() as server:
        yield server


@pytest.fixture
def fake(shared_server: FakeGridServer) -> FakeGridServer:
    """The module's server, with no recorded requests and no queued faults."""
    shared_server.reset()
    return shared_server


def eirgrid(
    fake: FakeGridServer,
    *,
    timeout_s: float = 2.0,
    retries: int = 2,
    api: Literal["legacy", "chart"] = "legacy",
) -> EirGridSource:
    return EirGridSource(fake.url, timeout_s=timeout_s, retries=retries, api=api, backoff_s=0.01)


async def test_eirgrid_winter_day_matches_the_documented_payload(fake: FakeGridServer) -> None:
    series = await eirgrid(fake).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert len(series.points) == 96
    assert series.points[0].ts == datetime(2026, 11, 26, tzinfo=UTC)
    # In winter Irish time is UTC, so the value is the fake's function of the same clock time.
    assert [p.value for p in series.points] == [
        eirgrid_value(p.ts.replace(tzinfo=None)) for p in series.points
    ]
    assert not any(p.forecast for p in series.points)
    assert not series.source.synthetic
    path, query = fake.requests[0]
    assert path == "/DashboardService.svc/data"
    assert query == {
        "area": "co2intensity",
        "region": "ROI",
        "datefrom": "26-Nov-2026 00:00",
        "dateto": "27-Nov-2026 23:59",
    }


async def test_eirgrid_summer_times_are_converted_to_utc(fake: FakeGridServer) -> None:
    series = await eirgrid(fake).fetch("all", date(2026, 7, 1), date(2026, 7, 1), LATER)
    assert len(series.points) == 96
    first = series.points[0]
    assert first.ts == datetime(2026, 7, 1, tzinfo=UTC)
    assert first.value == eirgrid_value(datetime(2026, 7, 1, 1, 0))  # 01:00 IST
    # The last UTC hour of the day is local 00:xx of the next day, fetched too.
    assert series.points[-1].value == eirgrid_value(datetime(2026, 7, 2, 0, 45))


async def test_eirgrid_autumn_clock_change_has_no_duplicates(fake: FakeGridServer) -> None:
    series = await eirgrid(fake).fetch("ni", date(2026, 10, 25), date(2026, 10, 25), LATER)
    stamps = [p.ts for p in series.points]
    assert len(stamps) == 96
    assert len(set(stamps)) == 96
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(stamps))
    assert fake.requests[0][1]["region"] == "NI"


async def test_eirgrid_forecast_rows_are_flagged() -> None:
    published = datetime(2026, 11, 26, 10, tzinfo=UTC)
    with serve_grid(published_until=published) as fake:
        source = eirgrid(fake)
        series = await source.fetch("all", date(2026, 11, 26), date(2026, 11, 26), published)
    actual = [p for p in series.points if not p.forecast]
    forecast = [p for p in series.points if p.forecast]
    assert actual[-1].ts == published
    assert forecast[0].ts == published + timedelta(minutes=15)
    assert len(actual) + len(forecast) == 96
    assert forecast[0].value == eirgrid_forecast_value(forecast[0].ts.replace(tzinfo=None))
    areas = [q["area"] for _, q in fake.requests]
    assert areas == ["co2intensity", "co2intensityforecast"]


async def test_eirgrid_chart_api_style(fake: FakeGridServer) -> None:
    source = eirgrid(fake, api="chart")
    series = await source.fetch("ie", date(2026, 11, 25), date(2026, 11, 26), LATER)
    assert len(series.points) == 192
    paths = {path for path, _ in fake.requests}
    assert paths == {"/api/chart/"}
    assert fake.requests[0][1]["areas"] == "co2intensity"
    assert fake.requests[0][1]["dateFrom"] == "25-Nov-2026 00:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>maintenance</html>", "invalid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"Status": "Success"}', "no 'Rows' list"),
        (b'{"Rows": [{"EffectiveTime": "yesterday", "Value": 1}]}', "bad EffectiveTime"),
        (b'{"Rows": [{"EffectiveTime": "26-Nov-2026 00:00:00", "Value": "high"}]}', "not a number"),
        (b'{"Rows": [{"EffectiveTime": "26-Nov-2026 00:00:00", "Value": 99999}]}', "implausible"),
        (b'{"Rows": [{"Value": 10}]}', "no EffectiveTime"),
        (b'{"Rows": ["x"]}', "not an object"),
    ],
)
async def test_eirgrid_malformed_payloads_raise_typed_errors(
    fake: FakeGridServer, body: bytes, message: str
) -> None:
    fake.push(FakeResponse(body=body))
    with pytest.raises(GridDataError, match=message):
        await eirgrid(fake).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)


async def test_transient_5xx_is_retried(fake: FakeGridServer) -> None:
    fake.push(FakeResponse(status=503), FakeResponse(status=502))
    series = await eirgrid(fake).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert len(series.points) == 96
    assert len(fake.requests) == 3


async def test_persistent_5xx_gives_up_after_the_retries(fake: FakeGridServer) -> None:
    fake.push(*[FakeResponse(status=500)] * 3)
    with pytest.raises(GridDataError, match="unavailable after 3 attempts: HTTP 500"):
        await eirgrid(fake).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert len(fake.requests) == 3


async def test_client_errors_are_not_retried(fake: FakeGridServer) -> None:
    fake.push(FakeResponse(status=404))
    with pytest.raises(GridDataError, match="HTTP 404"):
        await eirgrid(fake).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert len(fake.requests) == 1


async def test_timeouts_become_typed_errors(fake: FakeGridServer) -> None:
    fake.push(FakeResponse(delay_s=1.0))
    source = eirgrid(fake, timeout_s=0.2, retries=0)
    with pytest.raises(GridDataError, match=r"timed out after 0.2 s"):
        await source.fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)


async def test_unreachable_server_is_a_typed_error() -> None:
    # A bound socket that never listens: connections are refused, and no other process can
    # take the port while the test runs.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        source = EirGridSource(f"http://127.0.0.1:{port}", timeout_s=0.5, retries=1, backoff_s=0.01)
        with pytest.raises(GridDataError, match="unavailable after 2 attempts: connection failed"):
            await source.fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)


async def test_uk_actuals_forecasts_and_chunking() -> None:
    published = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with serve_grid(published_until=published) as fake:
        source = UKCarbonIntensitySource(fake.url, timeout_s=2.0, retries=0)
        series = await source.fetch("gb", date(2026, 11, 1), date(2026, 11, 20), published)
    assert len(series.points) == 20 * 48
    assert series.step_minutes == 30
    assert [path for path, _ in fake.requests] == [
        "/intensity/2026-11-01T00:00Z/2026-11-15T00:00Z",
        "/intensity/2026-11-15T00:00Z/2026-11-21T00:00Z",
    ]
    by_ts = {p.ts: p for p in series.points}
    known = by_ts[datetime(2026, 11, 3, 7, 30, tzinfo=UTC)]
    assert (known.value, known.forecast) == (uk_value(known.ts), False)
    later = by_ts[datetime(2026, 11, 20, 18, tzinfo=UTC)]
    assert (later.value, later.forecast) == (uk_value(later.ts) + 5, True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": {}}', "no 'data' list"),
        (b'{"data": [{"from": "2026-11-01T00:00Z"}]}', "no 'intensity'"),
        (b'{"data": [{"intensity": {"actual": 1}}]}', "no 'from'"),
        (b'{"data": [{"from": "soon", "intensity": {"actual": 1}}]}', "bad 'from'"),
        (b'{"data": [{"from": "2026-11-01T00:00Z", "intensity": {"actual": -4}}]}', "implausible"),
        (
            b'{"data": [{"from": "2026-11-01T00:00Z", "intensity": {"actual": true}}]}',
            "not a number",
        ),
    ],
)
async def test_uk_malformed_payloads(fake: FakeGridServer, body: bytes, message: str) -> None:
    fake.push(FakeResponse(body=body))
    source = UKCarbonIntensitySource(fake.url, timeout_s=2.0, retries=0)
    with pytest.raises(GridDataError, match=message):
        await source.fetch("gb", date(2026, 11, 1), date(2026, 11, 1), LATER)


async def test_build_source_eirgrid_routes_gb_to_the_uk_api(fake: FakeGridServer) -> None:
    source = build_source(
        "eirgrid", eirgrid_base_url=fake.url, uk_base_url=fake.url, http_timeout_s=2.0
    )
    assert isinstance(source, CachedGridSource)
    assert all(source.supports(r) for r in ("ie", "ni", "all", "gb"))
    gb = await source.fetch("gb", date(2026, 11, 1), date(2026, 11, 1), LATER)
    ie = await source.fetch("ie", date(2026, 11, 1), date(2026, 11, 1), LATER)
    assert (len(gb.points), len(ie.points)) == (48, 96)
    assert [p.split("/")[1] for p, _ in fake.requests] == ["intensity", "DashboardService.svc"]
    uk_only = build_source("uk", uk_base_url=fake.url)
    assert not uk_only.supports("ie")
    assert isinstance(build_source("synthetic"), SyntheticGridSource)
    with pytest.raises(ValueError, match="grid_file"):
        build_source("file")
    with pytest.raises(ValueError, match="unknown grid source"):
        build_source("carrier-pigeon")


async def test_grid_tool_through_a_live_source(fake: FakeGridServer) -> None:
    ctx = ToolContext(
        now="2027-01-01T00:00:00Z",
        services={"grid_source": build_source("eirgrid", eirgrid_base_url=fake.url)},
    )
    result = await grid_intensity(
        GridIntensityInput(region="all", start_date="2026-11-26", end_date="2026-11-26"), ctx
    )
    assert not result.synthetic
    assert result.sources[0].url == fake.url
    assert result.stats is not None
    assert (result.stats.min, result.stats.max) == (100.0, 195.0)
    assert "SYNTHETIC" not in result.summary()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_keeps_final_ranges_for_the_ttl() -> None:
    inner = FixedSource(lambda ts: 100.0)
    clock = Clock()
    cache = CachedGridSource(inner, ttl_s=900.0, live_ttl_s=60.0, clock=clock)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    past = (date(2026, 11, 1), date(2026, 11, 7))
    await cache.fetch("ie", *past, now)
    clock.now += 899
    await cache.fetch("ie", *past, now)
    assert len(inner.calls) == 1
    clock.now += 2
    await cache.fetch("ie", *past, now)
    assert len(inner.calls) == 2


async def test_cache_never_keeps_today_as_final() -> None:
    inner = FixedSource(lambda ts: 100.0)
    clock = Clock()
    cache = CachedGridSource(inner, ttl_s=900.0, live_ttl_s=60.0, clock=clock)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    today = (date(2026, 11, 26), date(2026, 11, 26))
    await cache.fetch("ie", *today, now)
    await cache.fetch("ie", *today, now)
    assert len(inner.calls) == 1
    clock.now += 61
    await cache.fetch("ie", *today, now)
    assert len(inner.calls) == 2
    assert CachedGridSource.is_final(date(2026, 11, 25), now)
    assert not CachedGridSource.is_final(date(2026, 11, 26), now)
    assert not CachedGridSource.is_final(date(2026, 12, 1), now)


async def test_cache_is_bounded_and_keyed_by_region() -> None:
    inner = FixedSource(lambda ts: 100.0)
    cache = CachedGridSource(inner, max_entries=2, clock=Clock())
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    day = date(2026, 11, 1)
    regions: tuple[Region, ...] = ("ie", "ni", "all", "ie")
    for region in regions:
        await cache.fetch(region, day, day, now)
    # ie was evicted by the third entry, so the fourth call fetches again.
    assert [call[0] for call in inner.calls] == ["ie", "ni", "all", "ie"]


async def test_file_source_csv_with_regions(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    path.write_text(
        "timestamp,value,is_forecast,region\n"
        "2026-11-26T00:00:00Z,120,false,ie\n"
        "2026-11-26T00:30:00Z,130,0,ie\n"
        "2026-11-26T01:00:00,140,true,ie\n"
        "2026-11-26T00:00:00Z,300,,gb\n"
    )
    source = FileGridSource(str(path))
    series = await source.fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert [(p.value, p.forecast) for p in series.points] == [
        (120, False),
        (130, False),
        (140, True),
    ]
    assert series.step_minutes == 30
    assert "region ie" in series.source.detail
    gb = await source.fetch("gb", date(2026, 11, 26), date(2026, 11, 26), LATER)
    assert [p.value for p in gb.points] == [300.0]


async def test_file_source_json_without_regions_serves_every_region(tmp_path: Path) -> None:
    path = tmp_path / "grid.json"
    points = [{"timestamp": f"2026-11-26T{h:02d}:00:00Z", "value": 100 + h} for h in range(24)]
    path.write_text(json.dumps({"points": points}))
    series = await FileGridSource(str(path)).fetch(
        "all", date(2026, 11, 26), date(2026, 11, 26), LATER
    )
    assert len(series.points) == 24
    assert series.step_minutes == 60
    assert "same series for every region" in series.source.detail


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("g.csv", "time,intensity\n2026-11-26T00:00Z,1\n", "header must include"),
        ("g.csv", "timestamp,value\n2026-11-26T00:00Z,1\nnot-a-time,2\n", "line 3: bad timestamp"),
        ("g.csv", "timestamp,value\n2026-11-26T00:00Z,abc\n", "line 2: value must be"),
        ("g.csv", "timestamp,value,is_forecast\n2026-11-26T00:00Z,1,maybe\n", "is_forecast"),
        ("g.csv", "timestamp,value,region\n2026-11-26T00:00Z,1,fr\n", "unknown region"),
        ("g.json", "{not json", "invalid JSON"),
        ("g.json", '{"rows": []}', "expected a list"),
        ("g.json", "[1]", "item 0: not an object"),
    ],
)
async def test_file_source_errors_name_the_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(GridDataError, match=message):
        await FileGridSource(str(path)).fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)


async def test_file_source_missing_file(tmp_path: Path) -> None:
    source = build_source("file", grid_file=str(tmp_path / "missing.csv"))
    with pytest.raises(GridDataError, match="cannot read grid file"):
        await source.fetch("ie", date(2026, 11, 26), date(2026, 11, 26), LATER)
