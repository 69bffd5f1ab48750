"""The Grafana dashboard in docs/ queries only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.metrics.registry import Metrics
from tests.live_server import REPO_ROOT

DASHBOARD = REPO_ROOT / "docs" / "grafana" / "sustainable-city.json"
_NAME = re.compile(r"\bsca_[a-z_]+\b")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _exported() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SUFFIXES)
    return names


def test_every_queried_metric_is_exported() -> None:
    dashboard = json.loads(Path(DASHBOARD).read_text())
    queried = {
        name
        for panel in _panels(dashboard)
        for target in panel["targets"]
        for name in _NAME.findall(target["expr"])
    }
    assert queried, "the dashboard queries nothing"
    assert queried - _exported() == set()


def test_every_exported_metric_is_on_the_dashboard() -> None:
    text = Path(DASHBOARD).read_text()
    families = {family.name for family in Metrics().registry.collect()}
    assert {name for name in families if name not in text} == set()


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    dashboard = json.loads(Path(DASHBOARD).read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
