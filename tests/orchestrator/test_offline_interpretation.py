"""The offline engine's reading of a question: quantities (pint), typos (rapidfuzz), asks,
invalid input, and the wire form the planner event carries."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from orchestrator.providers._offline.intent import Intent
from orchestrator.providers._offline.interpretation import Interpretation, interpret, split_parts
from orchestrator.providers._offline.quantities import extract_quantities
from orchestrator.providers._offline.typos import correct_typos

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000 kWh of electricity", [(1000.0, "kWh", "electricity")]),
        ("12k kWh", [(12000.0, "kWh", "electricity")]),
        ("1.2 MWh", [(1200.0, "kWh", "electricity")]),
        ("1 GWh", [(1_000_000.0, "kWh", "electricity")]),
        ("3,000 litres of diesel", [(3000.0, "litre", "diesel")]),
        ("100 gallons of petrol", [(454.609, "litre", "petrol")]),  # UK gallons
        ("800 m3 of natural gas", [(800.0, "m3", "natural_gas")]),
        ("20,000 kWh of gas", [(20000.0, "kWh", "natural_gas")]),
        ("300 miles by car", [(482.803, "km", "car_average")]),
        ("2 tonnes of waste to landfill", [(2.0, "tonne", "waste_landfill")]),
        ("50 kWh of EV charging", [(50.0, "kWh", "electricity")]),
        ("5,000 litres", [(5000.0, "litre", None)]),  # of what? never guessed
        ("4,000 litres of electricity", [(4000.0, "litre", None)]),  # unit and words disagree
        (
            "12,000 kWh and 3,000 litres of diesel",
            [(12000.0, "kWh", "electricity"), (3000.0, "litre", "diesel")],
        ),
    ],
)
def test_quantities_are_converted_to_the_factor_unit(
    text: str, expected: list[tuple[float, str, str | None]]
) -> None:
    got = [(round(q.value, 3), q.unit, q.activity) for q in extract_quantities(text)]
    assert got == expected


def test_a_number_without_a_unit_is_not_a_quantity() -> None:
    assert extract_quantities("We have 120 staff and 3 sites") == []


@pytest.mark.parametrize(
    ("text", "fixed", "corrections"),
    [
        ("run it tommorow", "run it tomorrow", [("tommorow", "tomorrow")]),
        ("grid in Belfst", "grid in Belfast", [("Belfst", "belfast")]),
        ("Dubln vs Lodnon", "Dublin vs London", [("Dubln", "dublin"), ("Lodnon", "london")]),
        ("our sales in Wales", "our sales in Wales", []),  # real words are left alone
        ("cook the dinner", "cook the dinner", []),  # short words are never corrected
    ],
)
def test_typos_are_corrected_and_reported(
    text: str, fixed: str, corrections: list[tuple[str, str]]
) -> None:
    out, made = correct_typos(text)
    assert out == fixed
    assert [(c.written, c.read_as) for c in made] == corrections


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("When is it cleanest tomorrow? I want to run the dishwasher.", 1),
        ("Footprint of 1 MWh? And when should I run my dishwasher tomorrow?", 2),
        ("Footprint of a hotel with 60 staff and how is it trending?", 1),
        ("How green was it last week, and when is the best time tomorrow?", 2),
        ("We are a 40-person office in Cork. What is our footprint?", 1),
        ("kg CO2 per litre of diesel; and what is 1 MWh in CO2 in GB?", 2),
    ],
)
def test_questions_are_split_into_asks(text: str, parts: int) -> None:
    assert len(split_parts(text)) == parts


def test_a_later_part_inherits_the_place_and_follows_up() -> None:
    reading = interpret(
        {"question": "When should I run my dishwasher tomorrow in Cork? What about in London?"},
        TODAY,
    )
    assert [u.intent for u in reading.asks] == [Intent.GRID_TIMING, Intent.GRID_TIMING]
    assert [u.region for u in reading.asks] == ["ie", "gb"]
    assert reading.asks[1].duration.hours == 2.0  # the dishwasher, from the part before


def test_an_impossible_date_is_named_never_replaced() -> None:
    reading = interpret({"question": "How green was the grid on 2025-02-30?"}, TODAY)
    (ask,) = reading.asks
    assert ask.intent is Intent.INVALID
    assert ask.dates == ()
    assert "2025-02-28" in ask.problems[0]


def test_the_wire_form_round_trips_and_states_the_reading() -> None:
    reading = interpret(
        {"question": "Carbon footprint of 12,000 kWh and 3,000 litres of diesel for 2025"}, TODAY
    )
    view = msgspec.convert(msgspec.to_builtins(reading.view()), Interpretation)
    assert view.asks[0].intent == "footprint"
    assert [(q.value, q.unit, q.activity) for q in view.asks[0].quantities] == [
        (12000.0, "kWh", "electricity"),
        (3000.0, "litre", "diesel"),
    ]
    assert view.summary() == (
        "I read this as: the footprint of 12,000 kWh of electricity (Republic of Ireland grid "
        "factor) and 3,000 L of diesel, for 2025, 2025-01-01 to 2025-12-31."
    )
    assert view.notices == ["No place named: using the Republic of Ireland grid (the default)."]
