"""The offline engine's parameter extraction: dates, regions, durations, company profiles."""

from __future__ import annotations

from datetime import date

import pytest

from orchestrator.providers._offline.extract import (
    DEFAULT_DURATION_H,
    extract_dates,
    extract_duration,
    extract_hours,
    extract_profile,
    extract_regions,
)

# Wednesday 18 March 2026.
TODAY = date(2026, 3, 18)


def spans(text: str) -> list[tuple[str, str]]:
    return [(r.start.isoformat(), r.end.isoformat()) for r in extract_dates(text, TODAY)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("When is the grid cleanest today?", [("2026-03-18", "2026-03-18")]),
        ("best time tomorrow", [("2026-03-19", "2026-03-19")]),
        ("how green was it yesterday", [("2026-03-17", "2026-03-17")]),
        ("the day before yesterday", [("2026-03-16", "2026-03-16")]),
        ("How green was the grid last week?", [("2026-03-09", "2026-03-15")]),
        ("this week", [("2026-03-16", "2026-03-18")]),
        ("next week", [("2026-03-23", "2026-03-29")]),
        ("the past 7 days", [("2026-03-11", "2026-03-17")]),
        ("over the last 30 days", [("2026-02-16", "2026-03-17")]),
        ("this month", [("2026-03-01", "2026-03-18")]),
        ("last month", [("2026-02-01", "2026-02-28")]),
        ("grid in March 2025", [("2025-03-01", "2025-03-31")]),
        ("in Sept 2024", [("2024-09-01", "2024-09-30")]),
        ("in January", [("2026-01-01", "2026-01-31")]),
        ("in May", [("2025-05-01", "2025-05-31")]),
        ("on 2025-03-14", [("2025-03-14", "2025-03-14")]),
        ("on 14/03/2025", [("2025-03-14", "2025-03-14")]),
        ("on 14 March 2025", [("2025-03-14", "2025-03-14")]),
        ("on March 14th, 2025", [("2025-03-14", "2025-03-14")]),
        ("from 2025-03-01 to 2025-03-07", [("2025-03-01", "2025-03-07")]),
        ("between 1 March and 5 March", [("2026-03-01", "2026-03-05")]),
        ("What about Monday?", [("2026-03-23", "2026-03-23")]),
        ("How clean was the grid on Monday?", [("2026-03-16", "2026-03-16")]),
        ("next Wednesday", [("2026-03-25", "2026-03-25")]),
        ("this Wednesday", [("2026-03-18", "2026-03-18")]),
        ("last Friday", [("2026-03-13", "2026-03-13")]),
        (
            "compare this month with last month",
            [("2026-03-01", "2026-03-18"), ("2026-02-01", "2026-02-28")],
        ),
        (
            "compare March 2025 and April 2025",
            [("2025-03-01", "2025-03-31"), ("2025-04-01", "2025-04-30")],
        ),
        (
            "compare 2025-01 and 2025-02",
            [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28")],
        ),
        ("emissions in 2025", [("2025-01-01", "2025-12-31")]),
        ("emissions in 2026", [("2026-01-01", "2026-03-18")]),
        ("in 2030", []),
        ("May I ask something?", []),
        ("hello", []),
    ],
)
def test_dates(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


def test_invalid_calendar_dates_are_ignored() -> None:
    assert spans("on 2025-02-30") == []
    assert spans("on 31/04/2025") == []


def test_date_range_describe_states_concrete_dates() -> None:
    (tomorrow,) = extract_dates("tomorrow", TODAY)
    assert tomorrow.describe() == "tomorrow, 2026-03-19 (Thursday)"
    (iso,) = extract_dates("2025-03-14", TODAY)
    assert iso.describe() == "2025-03-14 (Friday)"
    assert iso.days == 1
    (month,) = extract_dates("March 2025", TODAY)
    assert month.days == 31


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ireland", ["ie"]),
        ("Republic of Ireland", ["ie"]),
        ("the ROI grid", ["ie"]),
        ("Dublin", ["ie"]),
        ("Northern Ireland", ["ni"]),
        ("the NI grid", ["ni"]),
        ("Belfast", ["ni"]),
        ("all-island", ["all"]),
        ("the island of Ireland", ["all"]),
        ("GB", ["gb"]),
        ("UK", ["gb"]),
        ("Great Britain", ["gb"]),
        ("Britain", ["gb"]),
        ("Northern Ireland vs Ireland", ["ni", "ie"]),
        ("compare GB and ROI and GB again", ["gb", "ie"]),
        ("no region here, ni or gb in lower case", []),
    ],
)
def test_regions(text: str, expected: list[str]) -> None:
    assert extract_regions(text) == expected


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("I need 3 hours", 3.0),
        ("a two-hour slot", 2.0),
        ("for 90 minutes", 1.5),
        ("half an hour", 0.5),
        ("charge my EV", 4.0),
        ("charge the electric car", 4.0),
        ("run my dishwasher", 2.0),
        ("the washing machine", 2.0),
        ("when is it cleanest", DEFAULT_DURATION_H),
        ("run it for 40 hours", DEFAULT_DURATION_H),
    ],
)
def test_duration(text: str, hours: float) -> None:
    assert extract_duration(text).hours == hours


def test_duration_reason_is_stated() -> None:
    assert "typical dishwasher cycle" in extract_duration("dishwasher").reason
    assert "default" in extract_duration("when").reason


def test_profile_full() -> None:
    profile = extract_profile(
        "footprint of a retail company with 50 employees, 3 shops and a fleet of 10 diesel vans"
    )
    assert (profile.sector, profile.employees, profile.sites) == ("retail", 50, 3)
    assert (profile.fleet_vehicles, profile.fleet_fuel) == (10, "diesel")
    assert not profile.is_empty


def test_profile_words_and_defaults() -> None:
    plants = extract_profile("a factory with 300 workers and 3 plants")
    assert (plants.sector, plants.employees, plants.sites) == ("manufacturing", 300, 3)
    profile = extract_profile("a manufacturing firm with two sites and 1,200 staff")
    assert (profile.sector, profile.employees, profile.sites) == ("manufacturing", 1200, 2)
    assert profile.fleet_vehicles is None
    assert profile.fleet_fuel is None
    electric = extract_profile("an office with 5 electric vans")
    assert (electric.sector, electric.fleet_vehicles, electric.fleet_fuel) == (
        "office",
        5,
        "electric",
    )
    assert extract_profile("what is my footprint?").is_empty


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("charge it after 6pm", (18, None)),
        ("run it before 8am", (None, 8)),
        ("by 07:00", (None, 7)),
        ("between 9am and 5pm", (9, 17)),
        ("between 22:00 and 23:00", (22, 23)),
        ("after 18:00 and before 23:00", (18, 23)),
        ("tonight", (18, 24)),
        ("during working hours", (9, 17)),
        ("after 10pm and before 6am", None),  # wraps midnight: not expressible, so not limited
        ("from 3 hours", None),
        ("between 1 March and 5 March", None),
        ("when is it cleanest", None),
    ],
)
def test_hours(text: str, bounds: tuple[int | None, int | None] | None) -> None:
    found = extract_hours(text)
    assert (None if found is None else (found.earliest, found.latest)) == bounds
