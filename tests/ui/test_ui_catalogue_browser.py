"""The catalogue in a real browser (Debian's Chromium through Playwright)
against a real server: a person browses the dataset list, filters it, goes to
page 2, opens a domain, a dataset and one of its old major versions, whose
sample rows arrive after the page (Spark reads the pinned major). The
catalogue pages are also checked at laptop and phone widths and screenshotted
(``catalogue-*.png`` in ``tests/ui/screenshots/``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from access import AccessControl, Action, Resource
from access.gateway import Gateway
from api.app import create_app
from lake.service import Lake
from lake.settings import GatewayLimits, Settings

from browser_harness import (
    LAPTOP,
    OVERFLOW,
    PHONE,
    UNLABELLED,
    Person,
    Served,
    serious_accessibility_violations,
    serve,
)
from ui_world import build_world

pytestmark = [pytest.mark.slow, pytest.mark.spark]

#: How long sample rows may take to arrive on a busy test machine.
SAMPLE_MS = 240_000

EVENTS = {
    "dataset": "ops.events", "owner": "ops", "description": "Events of the **operations** team.",
    "columns": [{"name": "event_id", "type": "int64", "nullable": False}, {"name": "kind", "type": "string"},
                {"name": "note", "type": "string"}],
}


def _catalogue(lake: Lake) -> None:
    """24 small datasets in ``ops`` besides ``ops.events``, whose first major has rows and a second major."""
    for i in range(24):
        lake.register({"dataset": f"ops.table_{i:02d}", "owner": "infra" if i % 2 else "ops",
                       "description": f"Operational table number {i}.",
                       "columns": [{"name": "id", "type": "int64"}]}, actor="alice")
    lake.register(EVENTS, actor="alice")
    rows = pa.table({"event_id": pa.array(range(1, 13), pa.int64()),
                     "kind": pa.array(["start", "stop", "pause"] * 4),
                     "note": pa.array([f"note {i}" for i in range(1, 13)])})
    lake.ingest_table("ops.events", rows, actor="alice", reason="first events", source_name="ops-feed")
    second = {**EVENTS, "columns": EVENTS["columns"][:2]}  # dropping `note` breaks readers: a new major
    lake.evolve("ops.events", second, actor="alice", major=True)
    access = AccessControl(lake, refresh_seconds=0)
    access.grant("analyst", Action.READ, Resource.domain_("ops"), reason="analysts read ops", actor="root")
    access.deny("analyst", Action.DISCOVER, Resource.table("ops.table_23"), reason="hidden", actor="root")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from lake.spark import stop_spark

    lake = Lake(Settings(home=tmp_path_factory.mktemp("ui-catalogue") / "home",
                         gateway=GatewayLimits(default_timeout_seconds=240)))
    try:
        build_world(lake, with_views=False)
        _catalogue(lake)
        # Start Spark before the browser comes (a process's first query takes long on a busy machine).
        Gateway(lake, AccessControl(lake)).query("root", "SELECT count(*) AS n FROM sales.orders")
        with serve(create_app(lake=lake), name="ui-catalogue-server") as base:
            yield Served(base, lake)
    finally:
        lake.close()
        stop_spark()


def _loaded(page: Any) -> None:
    """Wait until the sample rows (or why there are none) have arrived."""
    page.locator("#samples .sample-box:not([aria-busy])").wait_for(timeout=SAMPLE_MS)


def _titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("ol.catalogue-list a.hit-title").all_inner_texts()]


def test_a_person_browses_the_catalogue_to_an_old_major(server: Served, browser: Any) -> None:
    victor = Person(browser, server, "victor")
    victor.sign_in()
    victor.page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    victor.page.wait_for_url("**/ui/datasets")
    assert "of 25 datasets" in victor.page.get_by_role("status").first.inner_text()  # ops.table_23 is hidden
    victor.shot("catalogue-01-datasets")

    victor.page.get_by_label("Domain").select_option("ops")
    victor.page.get_by_label("Sort by").select_option("name")
    victor.page.get_by_role("button", name="Show").click()
    victor.page.wait_for_url(re.compile(r".*/ui/datasets\?.*domain=ops"))
    assert _titles(victor.page)[0] == "ops.events" and len(_titles(victor.page)) == 20
    victor.page.get_by_role("link", name="Next →").click()
    victor.page.wait_for_url(re.compile(r".*/ui/datasets\?.*domain=ops.*&page=2$"))
    second = _titles(victor.page)
    assert second == [f"ops.table_{i:02d}" for i in range(19, 23)]
    assert "ops.table_23" not in victor.page.content()
    victor.shot("catalogue-02-page-2")

    victor.page.locator("ol.catalogue-list li").first.get_by_role("link", name="ops", exact=True).click()
    victor.page.wait_for_url("**/ui/domains/ops")
    assert victor.page.get_by_role("heading", level=1).inner_text() == "ops"
    victor.shot("catalogue-03-domain")
    victor.page.locator("#datasets").get_by_role("link", name="ops.events", exact=True).click()
    victor.page.wait_for_url("**/ui/datasets/ops.events")
    majors = victor.page.locator("#majors")
    assert "major v2" in majors.inner_text() and "major v1" in majors.inner_text()
    _loaded(victor.page)
    assert "No rows yet." in victor.page.locator("#samples").inner_text()  # the new major is empty

    majors.get_by_role("link", name="major v1").click()
    victor.page.wait_for_url(re.compile(r".*/ui/datasets/ops\.events\?major=1$"))
    assert "old major" in victor.page.locator(".page-head").inner_text()
    _loaded(victor.page)  # after the page: Spark reads ops.`events@v1`
    samples = victor.page.locator("#samples table.samples")
    assert samples.count() == 1, victor.page.locator("#samples").inner_text()
    header = samples.locator("thead").inner_text().lower()
    assert "note" in header  # the column the current major dropped
    assert samples.locator("tbody tr").count() == 10
    assert victor.page.locator("#samples [aria-busy]").count() == 0
    victor.shot("catalogue-04-old-major")

    victor.page.reload()  # warm: the rows come with the page
    assert victor.page.locator("#samples [data-load]").count() == 0
    assert victor.page.locator("#samples table.samples tbody tr").count() == 10
    victor.close()


PAGES = ["/ui/datasets", "/ui/datasets?domain=ops&page=2", "/ui/views", "/ui/metrics", "/ui/domains",
         "/ui/domains/ops", "/ui/domains/sales", "/ui/datasets/ops.events?major=1"]


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_catalogue_pages_read_well_on_laptop_and_phone(server: Served, browser: Any, viewport: dict[str, int]) -> None:
    person = Person(browser, server, "victor", viewport)
    person.sign_in()
    for path in PAGES:
        person.go(path)
        assert person.page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {viewport['width']} px"
        assert person.page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
        assert serious_accessibility_violations(person.page) == [], f"{path} at {viewport['width']} px"
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-").replace("=", "")
        person.shot(f"catalogue-page-{name}")
    person.close()
