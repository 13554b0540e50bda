"""Catalogue pages over the real domain packages, without Spark: dataset, view,
metric and domain lists with filters, sorting and paging, only what the viewer
may discover; domain pages; old dataset majors reachable from the dataset page."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from access import AccessControl, Action, Resource
from lake.service import Lake
from metrics_catalog import MetricCatalog
from ui import services

from ui_helpers import TestClient, app_request, sign_in
from ui_world import CHAIN, PASSWORDS

DIRECT_METRIC = {
    "name": "sales.basket", "view": "sales.orders", "expression": "AVG(amount)", "time_dimension": "order_date",
    "dimensions": ["country"], "grains": ["day"], "description": "Average order value.", "owner": "alice",
    "unit": "EUR",
}
_LISTED = re.compile(r'class="hit-title" href="/ui/(?:datasets|views|metrics|domains)/([^"]+)"')


def _access(client: TestClient) -> AccessControl:
    return services.access(app_request(client))


def _metrics(client: TestClient) -> MetricCatalog:
    return services.metrics(app_request(client))


def _as(client: TestClient, user: str) -> TestClient:
    assert sign_in(client, user, PASSWORDS[user]).status_code == 303
    return client


def _listed(html: str) -> list[str]:
    return _LISTED.findall(html)


def _register(lake: Lake, name: str, *, owner: str = "ops", description: str = "", tags: tuple[str, ...] = ()) -> None:
    lake.register({"dataset": name, "owner": owner, "description": description, "tags": list(tags),
                   "columns": [{"name": "id", "type": "int64"}]}, actor="alice")


@pytest.fixture
def many(world: TestClient, ui_lake: Lake) -> TestClient:
    """25 datasets in ``ops`` (owners ops and infra alternating), one hidden ``hr`` domain, a hidden dataset."""
    for i in range(25):
        _register(ui_lake, f"ops.table_{i:02d}", owner="infra" if i % 2 else "ops",
                  description=f"Operational table number {i}.", tags=("nightly",) if i % 5 == 0 else ())
    _register(ui_lake, "hr.salaries", owner="people_team", description="Salaries.")
    _register(ui_lake, "sales.secret_deals", owner="dealmakers", description="Deals under NDA.")
    control = _access(world)
    control.grant("analyst", Action.READ, Resource.domain_("ops"), actor="root")
    control.deny("analyst", Action.DISCOVER, Resource.domain_("hr"), actor="root")
    control.deny("victor", Action.DISCOVER, Resource.table("sales.secret_deals"), actor="root")
    return world


def test_index_pages_list_only_what_the_viewer_may_discover(many: TestClient) -> None:
    victor = _as(many, "victor")
    page = victor.get("/ui/datasets", params={"domain": "sales"})
    assert page.status_code == 200
    assert _listed(page.text) == ["sales.orders"]
    assert "secret_deals" not in page.text and "dealmakers" not in page.text  # nor its owner as a choice
    assert "1\u20131 of 1 dataset" in page.text
    everything = victor.get("/ui/datasets").text
    assert "of 26 datasets" in everything  # 25 in ops + sales.orders: nothing hidden is counted
    assert 'value="hr"' not in everything and "people_team" not in everything
    domains = victor.get("/ui/domains").text
    assert _listed(domains) == ["ops", "sales"]
    hidden = victor.get("/ui/domains/hr")
    missing = victor.get("/ui/domains/nowhere")
    assert hidden.status_code == missing.status_code == 404
    assert "that you can see" in hidden.text and "salaries" not in hidden.text.lower()

    root = _as(many, "root")
    assert "of 28 datasets" in root.get("/ui/datasets").text
    assert _listed(root.get("/ui/domains").text) == ["hr", "ops", "sales"]


def test_filters_sorting_and_paging(many: TestClient) -> None:
    victor = _as(many, "victor")
    first = victor.get("/ui/datasets", params={"domain": "ops"}).text
    assert _listed(first) == [f"ops.table_{i:02d}" for i in range(20)]
    assert "page 1 of 2" in first and 'rel="next" href="/ui/datasets?domain=ops&amp;page=2"' in first
    second = victor.get("/ui/datasets", params={"domain": "ops", "page": 2}).text
    assert _listed(second) == [f"ops.table_{i:02d}" for i in range(20, 25)]
    assert "21\u201325 of 25 datasets" in second and 'rel="prev"' in second and 'rel="next"' not in second
    beyond = victor.get("/ui/datasets", params={"domain": "ops", "page": 3}).text
    assert _listed(beyond) == [] and "There is no page 3" in beyond

    owned = _listed(victor.get("/ui/datasets", params={"owner": "infra"}).text)
    assert owned == [f"ops.table_{i:02d}" for i in range(1, 25, 2)]
    words = _listed(victor.get("/ui/datasets", params={"q": "NIGHTLY operational"}).text)
    assert words == ["ops.table_00", "ops.table_05", "ops.table_10", "ops.table_15", "ops.table_20"]
    by_owner = _listed(victor.get("/ui/datasets", params={"sort": "owner"}).text)
    assert by_owner[0] == "ops.table_01" and by_owner[-1] == "ops.table_14"  # 12 of infra, then ops
    none = victor.get("/ui/datasets", params={"q": "zebra"}).text
    assert "Nothing you can see matches these filters." in none

    bad = victor.get("/ui/datasets", params={"sort": "size"})
    assert bad.status_code == 422 and "unknown sort order &#39;size&#39;" in bad.text
    assert victor.get("/ui/datasets", params={"page": 0}).status_code == 422
    assert victor.get("/ui/metrics", params={"certified": "maybe"}).status_code == 422


def test_metric_list_filters_by_certification_and_status(world: TestClient) -> None:
    catalog = _metrics(world)
    catalog.chains.set("sales", CHAIN, actor="root")
    catalog.workflow.create(DIRECT_METRIC, actor="alice")
    catalog.workflow.propose("sales.basket", actor="alice")
    catalog.workflow.start_review("sales.basket", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="tina")
    catalog.workflow.decide("sales.basket", "approve", actor="bruno")
    catalog.workflow.create({**DIRECT_METRIC, "name": "sales.max_order", "expression": "MAX(amount)",
                             "description": "Largest order."}, actor="alice")
    victor = _as(world, "victor")
    assert _listed(victor.get("/ui/metrics").text) == ["sales.basket", "sales.max_order"]
    assert _listed(victor.get("/ui/metrics", params={"certified": "yes"}).text) == ["sales.basket"]
    assert _listed(victor.get("/ui/metrics", params={"certified": "no"}).text) == ["sales.max_order"]
    drafts = victor.get("/ui/metrics", params={"status": "draft"}).text
    assert _listed(drafts) == ["sales.max_order"] and '<option value="approved"' in drafts

    _access(world).deny("victor", Action.DISCOVER, Resource.metric("sales.max_order"), actor="root")
    shown = victor.get("/ui/metrics").text
    assert _listed(shown) == ["sales.basket"] and 'value="draft"' not in shown  # no status of a hidden one

    domain = victor.get("/ui/domains/sales").text
    assert 'href="/ui/metrics/sales.basket"' in domain and "sales.max_order" not in domain
    assert 'href="/ui/datasets/sales.orders"' in domain and "<dd>sales</dd>" in domain  # the owner


def test_domain_page_shows_the_review_meetings(world: TestClient) -> None:
    catalog = _metrics(world)
    catalog.chains.set("sales", CHAIN, actor="root")
    start = dt.datetime(2030, 1, 7, 15, 0, tzinfo=dt.UTC)
    catalog.meetings.create("sales", title="Sales metric review", stage="tech", starts_at=start, actor="root",
                            frequency="weekly", interval=2, location="Room 4")
    page = _as(world, "victor").get("/ui/domains/sales").text
    assert "Sales metric review" in page and "Room 4" in page and "every 2" in page
    assert "2030-01-07 15:00 UTC" in page and "2030-01-21 15:00 UTC" in page
    empty = _as(world, "root").get("/ui/domains/sales")
    assert empty.status_code == 200


def test_old_majors_are_reachable_from_the_dataset_page(world: TestClient, ui_lake: Lake) -> None:
    orders = ui_lake.dataset("sales.orders").contract.to_dict()
    orders["columns"] = [c for c in orders["columns"] if c["name"] != "email"]  # dropping a column breaks readers
    ui_lake.evolve("sales.orders", orders, actor="alice", major=True)
    victor = _as(world, "victor")
    current = victor.get("/ui/datasets/sales.orders").text
    assert 'id="majors"' in current
    assert 'href="/ui/datasets/sales.orders?major=1">major v1</a>' in current
    assert 'href="/ui/datasets/sales.orders">major v2</a>' in current
    old = victor.get("/ui/datasets/sales.orders", params={"major": 1})
    assert old.status_code == 200 and "old major" in old.text and 'id="col-email"' in old.text
    assert "shop-export" in old.text  # its own commits
    assert "/ui/datasets/sales.orders/sample?major=1" in old.text
    assert victor.get("/ui/datasets/sales.orders", params={"major": 9}).status_code == 404
    assert "major v2" in victor.get("/ui/datasets").text  # the list shows current majors

    _access(world).deny("victor", Action.DISCOVER, Resource.table("sales.orders"), actor="root")
    assert victor.get("/ui/datasets/sales.orders", params={"major": 1}).status_code == 404
    assert victor.get("/ui/datasets/sales.orders/sample", params={"major": 1}).status_code == 404


def test_dataset_page_shows_at_once_and_loads_samples_after(world: TestClient) -> None:
    victor = _as(world, "victor")
    page = victor.get("/ui/datasets/sales.orders").text
    assert 'data-load="/ui/datasets/sales.orders/sample"' in page and "Loading sample rows" in page
    assert "sample=now#samples" in page  # without script the rows come with the page from there
    tina = _as(world, "tina")  # may discover, may not read: no query, nothing to load
    fragment = tina.get("/ui/datasets/sales.orders/sample")
    assert fragment.status_code == 200 and "You cannot read rows of this dataset yet" in fragment.text
    assert "<html" not in fragment.text
    assert "data-load=" not in tina.get("/ui/datasets/sales.orders").text


def test_catalogue_needs_sign_in(world: TestClient) -> None:
    world.cookies.clear()
    for path in ("/ui/datasets", "/ui/views", "/ui/metrics", "/ui/domains", "/ui/domains/sales",
                 "/ui/datasets/sales.orders/sample"):
        r = world.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), path
