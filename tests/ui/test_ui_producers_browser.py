"""Producer and subscriber pages in a real browser (Debian's Chromium through Playwright) against
a real server (uvicorn on a loopback port, the SQLite catalog, a local lake; no Spark needed).

The stories: a producer finds a quarantined batch from the dataset page, relaxes the contract over
the API and replays the batch from the quarantine page; a subscriber's owner suspends it from its
page and an admin resumes it; a reader is refused both pages. Each page is also opened at a laptop
and a phone width, checked for sideways overflow, labelled controls and axe-core's serious and
critical rules, and screenshotted into ``tests/ui/screenshots/`` (ignored by git), or
``$LAKEGATE_UI_SCREENSHOTS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from access import AccessControl
from access.subscribers import Subscribers, SubscriberStatus
from api.app import create_app
from lake.service import Lake
from lake.settings import Settings

from browser_harness import (
    OVERFLOW,
    PHONE,
    SMALL_LAPTOP,
    UNLABELLED,
    Person,
    Served,
    serious_accessibility_violations,
    serve,
)
from ui_world import ORDERS, build_world

pytestmark = [pytest.mark.slow]

QUARANTINE = "/ui/datasets/sales.orders/quarantine"
BATCH = (b"order_id,order_date,country,amount,email\n"
         b"901,2026-10-07,XX,12.50,zed@example.com\n"
         b"902,2026-10-07,US,-3.00,\n"
         b"903,2026-10-07,DE,8.00,\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over the UI world without views (no Spark), a quarantined batch and two subscribers."""
    lake = Lake(Settings(home=tmp_path_factory.mktemp("ui-producers") / "home"))
    try:
        access = AccessControl(lake, refresh_seconds=0)
        build_world(lake, access, with_views=False)
        lake.ingest("sales.orders", BATCH, "csv", actor="alice", on_error="quarantine", source_name="shop-export")
        subs = Subscribers(access)
        subs.create("etl", "emr", owner="alice", roles=["analyst"], description="Nightly Spark jobs.", actor="root")
        subs.create("warehouse", "redshift", owner="root", roles=["analyst"], actor="root")
        with serve(create_app(lake=lake), name="ui-producers-server") as base:
            yield Served(base, lake)
    finally:
        lake.close()


def test_a_quarantined_batch_is_replayed_from_the_page_after_the_contract_is_relaxed(
        served: Served, browser: Any) -> None:
    base, lake = served
    alice = Person(browser, served, "alice", SMALL_LAPTOP)
    alice.sign_in()
    alice.go(QUARANTINE)  # linked from the dataset page (tests/ui/test_ui_producers.py; its samples need Spark)
    rows = alice.page.locator("table.quarantine-rows tbody tr")
    assert rows.count() == 2
    assert "value not in allowed set" in rows.nth(0).inner_text() and "XX" in rows.nth(0).inner_text()
    assert "zed@example.com" not in alice.page.content()
    assert alice.page.locator("table.trend meter").count() == 2
    alice.shot("producers-01-quarantine")

    # The producer relaxes the contract over the API (the country XX is allowed now) ...
    token, _ = lake.users.create_token("alice", name="browser")
    relaxed = json.loads(json.dumps(ORDERS))
    relaxed["columns"][2]["allowed"] = ["US", "DE", "FR", "XX"]
    answer = alice.context.request.post(f"{base}/api/v1/datasets/sales.orders/contract",
                                        headers={"Authorization": f"Bearer {token}"}, data=relaxed)
    assert answer.status == 200, answer.text()
    before = lake.read("sales.orders").num_rows
    # ... and replays the quarantine from the page: the row that passes now lands, the other stays.
    alice.page.reload()
    alice.page.get_by_label("Why (recorded in the commit; optional)").fill("XX is a country now")
    alice.page.get_by_role("button", name="Replay 2 rows").click()
    alice.page.wait_for_url(f"{base}{QUARANTINE}?landed=1&left=1")
    assert "1 row landed; 1 row still breaks it" in alice.page.locator(".flash").inner_text()
    assert rows.count() == 1 and "value below minimum" in rows.nth(0).inner_text()
    assert lake.read("sales.orders").num_rows == before + 1
    assert lake.commits("sales.orders")[0]["reason"] == "XX is a country now"
    alice.shot("producers-02-replayed")
    alice.close()


def test_a_subscriber_is_suspended_and_resumed_from_its_page(served: Served, browser: Any) -> None:
    base, lake = served
    alice = Person(browser, served, "alice", SMALL_LAPTOP)
    alice.sign_in()
    alice.go("/ui")
    alice.page.get_by_role("navigation", name="Main").get_by_role("link", name="Subscribers").click()
    alice.page.get_by_role("link", name="etl").click()
    alice.page.wait_for_url(f"{base}/ui/subscribers/etl")
    assert "PII column email is masked" in alice.page.locator("#reads").inner_text()
    alice.page.get_by_role("button", name="Suspend etl").click()
    alice.page.wait_for_url(f"{base}/ui/subscribers/etl?done=suspended")
    assert alice.page.locator(".page-head .badge-bad").inner_text() == "suspended"
    assert "Only an admin may resume it." in alice.page.locator("#status").inner_text()
    assert alice.page.get_by_role("button", name="Resume etl").count() == 0
    alice.shot("subscribers-01-suspended-by-owner")
    alice.close()

    root = Person(browser, served, "root", SMALL_LAPTOP)
    root.sign_in()
    root.go("/ui/subscribers/etl")
    root.page.get_by_role("button", name="Resume etl").click()
    root.page.wait_for_url(f"{base}/ui/subscribers/etl?done=resumed")
    assert root.page.locator(".page-head .badge-ok").inner_text() == "active"
    root.close()
    assert Subscribers(AccessControl(lake)).get("etl").status is SubscriberStatus.ACTIVE


def test_a_reader_is_refused_the_quarantine_and_the_subscriber(served: Served, browser: Any) -> None:
    victor = Person(browser, served, "victor", SMALL_LAPTOP)
    victor.sign_in()
    victor.go(QUARANTINE, status=403)
    assert "only the dataset's producers" in victor.page.locator("main").inner_text()
    assert victor.page.get_by_role("button", name="Replay").count() == 0
    victor.go("/ui/subscribers/etl", status=403)
    assert "its owner (alice) or an admin may" in victor.page.locator("main").inner_text()
    assert victor.page.get_by_role("button", name="Suspend etl").count() == 0
    victor.shot("subscribers-02-refused")
    victor.close()


PAGES = {"alice": [QUARANTINE, "/ui/subscribers", "/ui/subscribers/etl", "/ui/search?q=orders"],
         "root": ["/ui/subscribers/warehouse"]}


@pytest.mark.parametrize("viewport", [SMALL_LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_pages_read_well_on_laptop_and_phone(served: Served, browser: Any,
                                                 viewport: dict[str, int]) -> None:
    for user, paths in PAGES.items():
        person = Person(browser, served, user, viewport)
        person.sign_in()
        for path in paths:
            person.go(path)
            assert person.page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {viewport['width']} px"
            assert person.page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
            assert serious_accessibility_violations(person.page) == [], f"{path} at {viewport['width']} px"
            person.shot("page-" + path.strip("/").replace("/", "-").replace("?", "-").replace("=", ""))
        person.close()
