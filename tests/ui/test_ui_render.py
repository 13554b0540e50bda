"""The pieces pages are drawn with: SQL highlighting, diffs, lineage graphs,
charts, and the search documents of views and metrics."""

from __future__ import annotations

import html
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access import AccessControl
from lake.search import SearchIndex
from lake.service import Lake
from metrics_catalog import MetricCatalog
from ui import chart, graph
from ui.graph import GraphEdge, GraphNode, NodeKind
from ui.highlight import highlight_diff, highlight_sql
from ui.indexing import CatalogSync

from ui_world import CHAIN, make_data, make_policy, make_users

_TAGS = re.compile(r"<[^>]+>")


def _text(markup: str) -> str:
    return html.unescape(_TAGS.sub("", markup))


# -- SQL -------------------------------------------------------------------------------------


def test_highlighting_marks_keywords_strings_numbers_functions_and_comments() -> None:
    out = str(highlight_sql("SELECT count(*) AS n, 'a<b' -- note\nFROM t WHERE x > 1.5"))
    assert '<span class="kw">SELECT</span>' in out
    assert '<span class="fn">count</span>' in out
    assert '<span class="str">&#39;a&lt;b&#39;</span>' in out
    assert '<span class="num">1.5</span>' in out
    assert '<span class="com"> -- note\n</span>' in out
    assert "<b" not in out.replace("<span", "")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120))
def test_highlighting_keeps_every_character_and_escapes_them(sql: str) -> None:
    out = str(highlight_sql(sql))
    assert _text(out) == sql
    assert "<" not in _TAGS.sub("", out)


def test_diff_lines_are_marked() -> None:
    out = str(highlight_diff("--- a v1\n+++ a v2\n@@ -1 +1 @@\n-old <x>\n+new\n same"))
    assert '<span class="del">-old &lt;x&gt;</span>' in out
    assert '<span class="add">+new</span>' in out
    assert '<span class="ctx"> same</span>' in out
    assert out.count('class="hunk"') == 3


# -- lineage graphs --------------------------------------------------------------------------


def _nodes(*ids: str) -> list[GraphNode]:
    return [GraphNode(i, i, NodeKind.VIEW, href=f"/ui/views/{i}") for i in ids]


def test_layers_follow_the_longest_path_and_survive_cycles() -> None:
    edges = [GraphEdge("a", "b"), GraphEdge("b", "c"), GraphEdge("a", "c")]
    depth = graph.layers(_nodes("a", "b", "c", "d"), edges)
    assert depth == {"a": 0, "b": 1, "c": 2, "d": 0}
    cyclic = graph.layers(_nodes("a", "b", "c"), [*edges, GraphEdge("c", "a")])
    assert sorted(cyclic.values()) == [0, 1, 2]  # one edge of the cycle is ignored


def test_graph_links_visible_nodes_only_and_escapes_labels() -> None:
    nodes = [GraphNode("x", "<script>x</script>", NodeKind.DATASET, href="/ui/datasets/a.b", focus=True),
             GraphNode("y", "hidden view", NodeKind.HIDDEN)]
    svg = str(graph.render(nodes, [GraphEdge("x", "y")], title="Lineage & more"))
    assert svg.count("<a ") == 1 and 'href="/ui/datasets/a.b"' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<title" in svg and "Lineage &amp; more" in svg
    assert svg.count("<path ") == 2  # the arrow head and one edge
    assert graph.render([], [], title="empty") == ""


def test_graph_places_each_layer_after_its_inputs_across_or_down() -> None:
    nodes, edges = _nodes("a", "b", "c", "d"), [GraphEdge("a", "b"), GraphEdge("b", "c"), GraphEdge("b", "d")]
    across = {p.node.id: p for p in graph.place(nodes, edges)}
    assert across["a"].x < across["b"].x < across["c"].x == across["d"].x and across["c"].y != across["d"].y
    down = {p.node.id: p for p in graph.place(nodes, edges, graph.Direction.DOWN)}
    assert down["a"].y < down["b"].y < down["c"].y == down["d"].y and down["c"].x != down["d"].x
    both = graph.render_both(nodes, edges, title="t")
    assert 'id="lineage-across-title"' in both["across"] and 'id="lineage-down-title"' in both["down"]


@pytest.mark.parametrize(("name", "limit", "lines", "wrapped"), [
    ("sales.daily_revenue", 25, 2, ["sales.daily_revenue"]),
    ("sales.daily_revenue", 18, 3, ["sales.", "daily_revenue"]),
    ("sales.daily_revenue_by_country_and_week", 18, 2, ["sales.daily_", "revenue_by_countr…"]),
    ("subscriptions.subscribers", 18, 3, ["subscriptions.", "subscribers"]),
    ("marketing.campaign_attribution_by_channel", 18, 3, ["marketing.", "campaign_", "attribution_by_ch…"]),
    ("abcdefghijklmnopqrstuvwxyz", 10, 2, ["abcdefghij", "klmnopqrs…"]),
])
def test_long_names_wrap_at_dots_and_underscores_and_end_in_an_ellipsis(name: str, limit: int, lines: int,
                                                                         wrapped: list[str]) -> None:
    assert graph.wrap(name, limit, lines) == wrapped
    assert all(len(line) <= limit for line in wrapped)


def test_a_long_name_is_drawn_whole_on_lines_of_its_own_and_its_box_grows() -> None:
    short = [GraphNode("a", "a.b", NodeKind.DATASET)]
    long = [*short, GraphNode("b", "subscriptions.subscribers_by_region", NodeKind.VIEW, detail="v2")]
    edges = [GraphEdge("a", "b")]
    def heights(svg: str) -> set[str]:
        return set(re.findall(r'<rect x="\d+" y="\d+" width="\d+" height="(\d+)"', svg))
    down = str(graph.render(long, edges, title="t", direction=graph.Direction.DOWN))
    assert ">subscriptions.</tspan>" in down and ">subscribers_by_</tspan>" in down and ">region</tspan>" in down
    assert "<title>view subscriptions.subscribers_by_region, v2</title>" in down  # the whole name on hover
    assert len(heights(down)) == 1  # every box as tall as the tallest
    assert int(heights(down).pop()) > int(heights(str(graph.render(short, [], title="t",
                                                                   direction=graph.Direction.DOWN))).pop())


# -- charts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high"), [(0, 440), (0, 1), (-3, 7), (0, 0), (12.5, 13.1), (0, 987654)])
def test_ticks_are_round_and_cover_the_range(low: float, high: float) -> None:
    ticks = chart.nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and 2 <= len(ticks) <= 12


def test_chart_draws_one_line_per_series_with_a_point_per_value() -> None:
    series = [chart.Series("US", (("2026-10-01", 3.0), ("2026-10-02", 5.0), ("2026-10-03", None))),
              chart.Series("DE", (("2026-10-01", 1.0), ("2026-10-03", 2.0)))]
    svg = str(chart.render(series, title="revenue <by> day", unit="EUR"))
    assert svg.count("<circle") == 4 and svg.count('stroke-width="2.5"') == 2
    assert "revenue &lt;by&gt; day" in svg and "US: 2026-10-02: 5" in svg
    assert chart.render([chart.Series("x", (("2026-10-01", None),))], title="t") == ""


def test_smaller_charts_label_fewer_periods_and_always_the_last() -> None:
    days = tuple((f"2026-10-{d:02d}", float(d)) for d in range(1, 31))
    sizes = chart.render_sizes([chart.Series("all", days)], title="t")
    def labels(svg):
        return re.findall(r">(2026-10-\d\d)</text>", str(svg))
    assert len(labels(sizes["narrow"])) <= 4 < len(labels(sizes["medium"])) <= 7 < len(labels(sizes["wide"])) <= 13
    assert labels(sizes["narrow"])[-1] == labels(sizes["medium"])[-1] == labels(sizes["wide"])[-1] == "2026-10-30"
    assert 'viewBox="0 0 360 240"' in sizes["narrow"] and 'viewBox="0 0 1200 340"' in sizes["wide"]
    assert len({re.search(r'id="([^"]+)-title"', str(svg)).group(1) for svg in sizes.values()}) == 3  # ids unique


def test_only_the_largest_series_are_drawn_in_their_order_with_a_colour_each() -> None:
    series = [chart.Series(f"s{n}", (("2026-10-01", float(n % 5 - 2) * n),)) for n in range(12)]
    kept = chart.largest(series, limit=4)
    assert [s.name for s in kept] == ["s5", "s9", "s10", "s11"]  # totals -10, 18, -20, -11: the largest by size
    assert chart.largest(series[:3]) == series[:3]
    legend = chart.legend(chart.largest(series))
    assert len(legend) == chart.MAX_SERIES and len({colour for _, colour in legend}) == chart.MAX_SERIES
    drawn = str(chart.render(chart.largest(series), title="t"))
    assert all(f'fill="{colour}"' in drawn for _, colour in legend)


def test_every_template_compiles() -> None:
    from ui.templating import ENV, TEMPLATES

    names = sorted(p.name for p in TEMPLATES.glob("*.html"))
    assert "base.html" in names and len(names) >= 12
    for name in names:
        ENV.get_template(name)


# -- search documents of views and metrics ---------------------------------------------------------


def test_metrics_are_indexed_when_they_change_and_certified_when_approved(lake: Lake) -> None:
    make_users(lake)
    make_data(lake)
    access = AccessControl(lake, refresh_seconds=0)
    make_policy(lake, access)
    catalog = MetricCatalog(lake, access=access, deliver=False)
    sync = CatalogSync(lake, catalog)
    index = SearchIndex(lake.catalog)
    assert sync.ensure() is True  # first look
    assert sync.ensure() is False  # nothing changed
    assert index.search("basket", kinds=["metric"]) == []
    catalog.chains.set("sales", CHAIN, actor="root")
    catalog.workflow.create({"name": "sales.basket", "view": "sales.orders", "expression": "AVG(amount)",
                             "time_dimension": "order_date", "description": "Average order value in EUR.",
                             "owner": "alice"}, actor="alice")
    assert sync.ensure() is True
    [hit] = index.search("basket", kinds=["metric"])
    assert hit.key == "sales.basket" and not hit.certified and hit.owner == "alice" and "draft" in hit.tags
    catalog.workflow.propose("sales.basket", actor="alice")
    catalog.workflow.start_review("sales.basket", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="bruno")
    assert sync.ensure() is True
    [hit] = index.search("average order", certified=True)
    assert hit.key == "sales.basket" and hit.certified
