"""The metric page's values with Spark: the grain, a dimension to split by and
a date range picked in its form, drawn as one line per dimension value with a
legend, in a table, and a bad pick named on the page (not a broken page).

The world is :mod:`ui_world`'s: ``sales.revenue`` over ``sales.daily_revenue``,
orders on six days from 2026-10-01 in three countries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings

from ui_helpers import TestClient, sign_in
from ui_world import PASSWORDS, build_world

pytestmark = [pytest.mark.spark]

PAGE = "/ui/metrics/sales.revenue"


@pytest.fixture(scope="module")
def victor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An analyst (row filters and masks of the sales domain) signed in to an app over the world."""
    lake = Lake(Settings(home=tmp_path_factory.mktemp("metric-values") / "home"))
    build_world(lake)
    try:
        with TestClient(create_app(lake=lake), follow_redirects=False) as client:
            assert sign_in(client, "victor", PASSWORDS["victor"]).status_code == 303
            yield client
    finally:
        lake.close()


def _lines(html: str, size: str = "wide") -> int:
    """How many lines the chart of one size draws."""
    drawn = re.search(rf'<div class="chart chart-{size}">(.*?)</svg>', html, re.S)
    assert drawn, f"no {size} chart on the page"
    return drawn.group(1).count('stroke-width="2.5"')


def _table(html: str) -> list[list[str]]:
    body = re.search(r'aria-label="Values of sales.revenue">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, "no table of values"
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))]


def test_one_line_by_default_and_one_per_country_when_split(victor: TestClient) -> None:
    whole = victor.get(PAGE)
    assert whole.status_code == 200
    assert all(_lines(whole.text, size) == 1 for size in ("wide", "medium", "narrow"))
    assert 'class="legend"' not in whole.text  # one line needs no legend
    assert [r[0] for r in _table(whole.text)] == [f"2026-10-0{d}" for d in range(1, 7)]

    split = victor.get(PAGE, params={"dimension": "country"})
    assert split.status_code == 200 and _lines(split.text) == 3
    legend = re.search(r'<ul class="legend"[^>]*>(.*?)</ul>', split.text, re.S)
    assert legend and re.findall(r"</svg>([A-Z]{2})</li>", legend.group(1)) == ["DE", "FR", "US"]
    assert '<option value="country" selected>' in split.text  # the form shows what is drawn
    rows = _table(split.text)
    assert len(rows) == 18 and {r[1] for r in rows} == {"US", "DE", "FR"}
    assert "by country" in split.text


def test_the_range_and_grain_narrow_the_values(victor: TestClient) -> None:
    page = victor.get(PAGE, params={"from": "2026-10-02", "to": "2026-10-04"})
    assert page.status_code == 200
    assert [r[0] for r in _table(page.text)] == ["2026-10-02", "2026-10-03", "2026-10-04"]
    assert 'value="2026-10-02"' in page.text and 'value="2026-10-04"' in page.text
    assert "from 2026-10-02 to 2026-10-04" in page.text

    weeks = victor.get(PAGE, params={"grain": "week", "dimension": "country"})
    periods = {r[0] for r in _table(weeks.text)}
    assert weeks.status_code == 200 and len(periods) == 2  # 2026-10-01..06 spans two ISO weeks


@pytest.mark.parametrize(("params", "named"), [
    ({"dimension": "email"}, "may be grouped by"),
    ({"from": "2026-10-05", "to": "2026-10-01"}, "is after to"),
    ({"from": "yesterday"}, "yesterday"),
    ({"grain": "hour"}, "unknown grain &#39;hour&#39;"),
])
def test_a_bad_pick_is_named_and_the_page_still_works(victor: TestClient, params: dict[str, str],
                                                      named: str) -> None:
    page = victor.get(PAGE, params=params)
    assert page.status_code == 200
    assert "No values to show:" in page.text and named in page.text
    assert 'id="definition"' in page.text  # the rest of the page is there
