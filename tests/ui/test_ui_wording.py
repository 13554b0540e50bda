"""What pages say to people: descriptions as safe Markdown, metric values in
their format, the stage each history entry happened at, contract versions as a
table, people's words for keys and types, and short hashes."""

from __future__ import annotations

import re

import pytest

from access import AccessControl
from lake.service import Lake
from metrics_catalog import MetricCatalog, ValueFormat, format_value
from ui import chart, services
from ui.markdown import markdown_text, render_markdown, safe_link
from ui.templating import ENV
from ui.wording import plain_keys, type_words

from ui_helpers import TestClient, app_request, sign_in
from ui_world import CHAIN, PASSWORDS

METRIC = {
    "name": "sales.basket", "view": "sales.orders", "expression": "AVG(amount)", "time_dimension": "order_date",
    "grains": ["day"], "owner": "alice", "unit": "EUR", "format": "currency",
    "description": ("Average **order value** per day, see [the wiki](https://wiki.example.com/basket).\n\n"
                    "Not <script>alert(1)</script> nor [this](javascript:alert(2)) nor <b onclick=x>bold</b>."),
}


def _as(client: TestClient, user: str) -> TestClient:
    assert sign_in(client, user, PASSWORDS[user]).status_code == 303
    return client


def _catalog(client: TestClient, lake: Lake) -> MetricCatalog:
    access: AccessControl = services.access(app_request(client))
    catalog = MetricCatalog(lake, access=access, deliver=False)
    catalog.chains.set("sales", CHAIN, actor="root")
    return catalog


# -- Markdown --------------------------------------------------------------------------------


def test_markdown_renders_a_small_set_and_escapes_everything_else() -> None:
    out = str(render_markdown("A **b** _c_ `d`\n\n- one\n- two\n\n> quoted\n\n# not a heading\n![img](https://x/y.png)"))
    assert "<strong>b</strong>" in out and "<em>c</em>" in out and "<code>d</code>" in out
    assert "<ul>" in out and "<li>one</li>" in out and "<blockquote>" in out
    assert "<h1" not in out and "<img" not in out
    hostile = str(render_markdown('<script>x</script> <img src=x onerror="y"> [a](javascript:alert(1)) '
                                  "[b](JaVa\tScRipt:alert(1)) [c](data:text/html,hi) [d](https://ok.example/) "
                                  "[e](/ui/metrics/a.b)"))
    assert "<script" not in hostile and "<img" not in hostile and "&lt;script&gt;" in hostile
    hrefs = re.findall(r'href="([^"]*)"', hostile)
    assert hrefs == ["https://ok.example/", "/ui/metrics/a.b"]
    assert hostile.count('rel="nofollow noopener noreferrer"') == 2
    assert not safe_link(" javascript:x") and not safe_link("vbscript:x") and safe_link("mailto:a@b.c")
    assert str(render_markdown("")) == "" and str(render_markdown(None)) == ""


def test_short_texts_drop_the_markdown_marks(world: TestClient, ui_lake: Lake) -> None:
    assert markdown_text("Average **order value** per [day](https://x).\n\n- a <b>\n- b") == (
        "Average order value per day. a <b> b")
    ui_lake.register({"dataset": "sales.refunds", "owner": "sales", "description": "Refunds of **web** orders.",
                      "columns": [{"name": "refund_id", "type": "int64"}]}, actor="alice")
    home = _as(world, "alice").get("/ui").text
    assert "Refunds of web orders." in home and "**web**" not in home


def test_metric_description_is_shown_as_markdown(world: TestClient, ui_lake: Lake) -> None:
    _catalog(world, ui_lake).workflow.create(METRIC, actor="alice")
    page = _as(world, "alice").get("/ui/metrics/sales.basket")
    assert page.status_code == 200
    description = page.text.split('<div class="description">', 1)[1].split("</div>", 1)[0]
    assert "<strong>order value</strong>" in description and "**" not in description
    assert '<a href="https://wiki.example.com/basket" rel="nofollow noopener noreferrer">the wiki</a>' in description
    assert "<script" not in description and "&lt;script&gt;" in description
    assert "javascript:" not in description.replace("[this](javascript:alert(2))", "")
    assert "<b " not in description


# -- values in the metric's format -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "fmt", "unit", "full", "compact"), [
    (0.0513, "percent", "", "5.1%", "5%"),
    (1234.5, "currency", "EUR", "€1,234.50", "€1,234.50"),
    (-20000, "currency", "usd", "-$20,000.00", "-$20k"),
    (12, "currency", "CHF", "12.00 CHF", "12.00 CHF"),
    (3725, "duration", "seconds", "1h 02m", "1h 02m"),
    (90_000, "duration", "ms", "1m 30s", "1m 30s"),
    (41.6, "integer", "viewers", "42", "41.6"),
    (1234567.0, "number", "", "1,234,567", "1.23M"),
    (None, "percent", "", "—", "—"),
])
def test_values_are_written_by_format_and_unit(value: float | None, fmt: str, unit: str, full: str,
                                               compact: str) -> None:
    assert format_value(value, fmt, unit) == full
    assert format_value(value, ValueFormat.parse(fmt), unit, compact=compact) == (full if value is None else compact)


def test_chart_labels_and_the_table_filter_use_the_metric_format() -> None:
    series = [chart.Series("all", (("2026-10-01", 0.0513), ("2026-10-02", 0.12)))]
    svg = str(chart.render(series, title="share", fmt=lambda v, c: format_value(v, "percent", compact=c)))
    assert ">0%</text>" in svg and "2026-10-01: 5.1%" in svg and "0.0513" not in svg
    assert ENV.from_string("{{ v | metric_value('percent', '') }}").render(v=0.0513) == "5.1%"


# -- the stage of each history entry ---------------------------------------------------------------


def test_history_names_the_stage_each_decision_was_taken_at(world: TestClient, ui_lake: Lake) -> None:
    catalog = _catalog(world, ui_lake)
    catalog.workflow.create({**METRIC, "description": "Average order value."}, actor="alice")
    catalog.workflow.propose("sales.basket", actor="alice")
    catalog.workflow.start_review("sales.basket", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="bruno")
    stages = [(e.action, e.actor, e.stage) for e in catalog.workflow.history("sales.basket")]
    assert ("approve", "tina", "tech") in stages and ("certify", "bruno", "business") in stages
    page = _as(world, "alice").get("/ui/metrics/sales.basket").text
    events = page.split('id="history-title"', 1)[1]
    assert re.search(r"<strong>tina</strong> approve at stage tech<", events), events
    assert re.search(r"<strong>bruno</strong> certify \(in review → approved\) at stage business", events)


# -- the dataset page: contract versions, types and keys -------------------------------------------


def test_contract_versions_are_a_table_and_types_and_keys_read_as_words(world: TestClient, ui_lake: Lake) -> None:
    contract = ui_lake.dataset("sales.orders").contract.to_dict()
    contract["columns"].append({"name": "placed_at", "type": "timestamp[us, tz=UTC]", "description": "When."})
    ui_lake.evolve("sales.orders", contract, actor="alice")
    page = _as(world, "tina").get("/ui/datasets/sales.orders").text  # tina may not read rows
    versions = page.split('id="versions-title"', 1)[1].split("</section>", 1)[0]
    assert "{'" not in versions and "&#39;kind&#39;" not in versions
    assert re.search(r"<td>added</td><td><code>placed_at</code></td>", versions)
    assert "compatible" in versions
    assert "<summary>Contract of version 2</summary>" in versions and "- name: placed_at" in versions
    assert '<span title="timestamp[us, tz=UTC]">timestamp (UTC)</span>' in page
    assert "You cannot read rows of this dataset yet" in page
    assert "dataset:sales.orders" not in page.split('id="samples-title"', 1)[1].split("</section>", 1)[0]


def test_people_words_for_keys_and_types() -> None:
    assert plain_keys("may not read dataset:subscriptions.subscribers (denied on dataset:a.b.email, "
                      "domain:ads)") == ("may not read dataset subscriptions.subscribers (denied on column email "
                                         "of dataset a.b, domain ads)")
    assert plain_keys("a:b and lake stay") == "a:b and lake stay"
    assert [type_words(t) for t in ("timestamp[us, tz=UTC]", "timestamp[ms]", "int64", "string", "decimal(12,2)",
                                    "list<item: double>", "bool", "something_new")] == [
        "timestamp (UTC)", "timestamp (no time zone)", "integer", "text", "decimal (2 places)", "list of number",
        "true/false", "something_new"]


# -- hashes ----------------------------------------------------------------------------------------


def test_long_hashes_are_shortened_with_the_full_value_kept(world: TestClient) -> None:
    digest = "ab" * 32
    out = ENV.from_string('{% import "_macros.html" as m %}{{ m.hash(v) }}').render(v=digest)
    assert out == f'<code class="hash" title="{digest}" data-copy="{digest}">{digest[:12]}…</code>'
    assert "title" not in ENV.from_string('{% import "_macros.html" as m %}{{ m.hash(v) }}').render(v="short")
    audit = _as(world, "root").get("/ui/audit").text
    [head] = re.findall(r'hash <code class="hash" title="([0-9a-f]{64})" data-copy="\1">([0-9a-f]{12})…</code>', audit)
    assert head[0].startswith(head[1])
