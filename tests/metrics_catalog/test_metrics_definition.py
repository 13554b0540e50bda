"""Definitions are validated with sqlglot against the view's schema; every error
names the field and, in SQL, the line and column (cases in fixtures/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics_catalog import InvalidMetric, MetricCatalog, parse_definition
from metrics_catalog.definition import Grain, ValueFormat
from metrics_catalog.normalize import canonical_sql, fingerprint

from metric_factories import metric_doc

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "invalid_definitions.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_invalid_definitions_point_at_the_problem(metrics: MetricCatalog, case: dict[str, Any]) -> None:
    with pytest.raises(InvalidMetric) as caught:
        metrics.workflow.create(metric_doc(**case["change"]), actor="mia")
    err = caught.value
    assert err.field == case["field"], err.message
    assert case["reason"] in err.message
    if "line" in case:
        assert err.line == case["line"], err.message
    if "column" in case:
        assert err.column == case["column"], err.message
        assert err.snippet is not None and err.snippet.splitlines()[1].index("^") == case["column"] + 1
    assert metrics.workflow.list() == []  # nothing was saved


def test_a_valid_definition_round_trips_through_yaml(metrics: MetricCatalog) -> None:
    text = yaml.safe_dump(metric_doc(grains="week", filters="country <> 'JP'"))
    definition = parse_definition(text)
    assert definition.grains == (Grain.WEEK,) and definition.filters == ("country <> 'JP'",)
    assert definition.format is ValueFormat.DURATION
    info = metrics.workflow.create(text, actor="mia")
    assert info.definition.view_version == 1 and info.owner == "mia"
    assert parse_definition(yaml.safe_dump(info.definition.to_dict())) == info.definition


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(InvalidMetric) as caught:
        parse_definition("name: playback.x\nview: [unclosed\n")
    assert caught.value.field == "document" and caught.value.line is not None


@pytest.mark.parametrize(("a", "b"), [
    ("sum(b + a) / COUNT(*)", "SUM( (A+B) )/count(*)"),
    ("COUNT(DISTINCT `Subscriber_ID`)", "count(distinct subscriber_id)"),
    ("SUM(x * 2) FILTER (WHERE y = 1 AND z > 0)", "sum(2*x) filter (where z > 0 and 1 = y)"),
])
def test_canonical_sql_ignores_spelling(a: str, b: str) -> None:
    assert canonical_sql(a) == canonical_sql(b)
    assert fingerprint("playback.events", a) == fingerprint("PLAYBACK.events", b)


@pytest.mark.parametrize(("a", "b"), [
    ("SUM(a) - SUM(b)", "SUM(b) - SUM(a)"),
    ("SUM(a) / COUNT(*)", "COUNT(*) / SUM(a)"),
    ("COUNT(DISTINCT a)", "COUNT(a)"),
])
def test_canonical_sql_keeps_meaning(a: str, b: str) -> None:
    assert canonical_sql(a) != canonical_sql(b)
    assert fingerprint("v.x", a) != fingerprint("v.x", b)
