"""The SQL workspace in a real browser (Debian's Chromium through Playwright)
against a real server (uvicorn, SQLite catalog, local lake, Spark).

The story: alice writes a query with the editor's completions, runs it, pages
through the rows, saves and shares it, downloads the rows as CSV, and reopens
it from her history; victor, whose e-mail mask differs from hers, opens the
share link and runs it as himself. The page is checked at laptop and phone
widths (no sideways scrolling, every control labelled) and screenshotted to
``tests/ui/screenshots/workspace-*``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from access import AccessControl, Mask, MaskKind, Resource
from api.app import create_app
from lake.service import Lake
from lake.settings import GatewayLimits, Settings

from browser_harness import (
    OVERFLOW,
    PHONE,
    SLOW_PAGE_MS,
    SMALL_LAPTOP,
    UNLABELLED,
    Person,
    Served,
    serious_accessibility_violations,
    serve,
)
from ui_world import EMAILS, ORDERS, make_policy, make_users, order_rows

pytestmark = [pytest.mark.slow, pytest.mark.spark]

EMAIL = Resource.column_of(Resource.table("sales.orders"), "email")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over the UI world's users and policy, with 20 days of orders (over a hundred rows) and
    no views; analysts (victor) see e-mails as ``partial:4``, alice ``redact``."""
    from lake.spark import spark_session, stop_spark

    # A loaded machine starts Spark slowly: a time limit that only a hung query reaches.
    lake = Lake(Settings(home=tmp_path_factory.mktemp("ui-workspace") / "home",
                         gateway=GatewayLimits(default_timeout_seconds=240, max_timeout_seconds=300)))
    try:
        access = AccessControl(lake, refresh_seconds=0)
        make_users(lake)
        lake.register(ORDERS, actor="alice")
        lake.ingest_table("sales.orders", order_rows(days=20), actor="alice", source_name="shop-export")
        make_policy(lake, access)
        spark_session(lake.settings)  # started here, as the world of test_ui_browser starts it building views
        access.set_mask("analyst", EMAIL, Mask(MaskKind.PARTIAL, 4), actor="root")
        with serve(create_app(lake=lake), name="ui-workspace-server") as base:
            yield Served(base, lake)
    finally:
        lake.close()
        stop_spark()


def _column(page: Any, index: int) -> list[str]:
    """The texts of one result column, over the rows the current page shows."""
    cells = page.locator(f"table.result-table tbody tr:not([hidden]) td:nth-child({index})")
    return [c.strip() for c in cells.all_inner_texts()]


def _completion(page: Any) -> list[str]:
    listbox = page.locator("#completions")
    listbox.wait_for(state="visible")
    return [t.split(" ", 1)[0] for t in listbox.locator("li code").all_inner_texts()]


def test_write_run_save_download_reopen_and_share_to_someone_with_other_masks(server: Served, browser: Any,
                                                                            tmp_path: Path) -> None:
    alice = Person(browser, server, "alice")
    alice.sign_in()
    alice.go("/ui/workspace")
    editor = alice.page.get_by_label("SQL", exact=False).first
    editor.click()
    # Completions: a table name, then a column through its alias; Enter takes the first.
    alice.page.keyboard.type("SELECT o.order_id, o.country, o.email FROM sales.ord")
    assert _completion(alice.page) == ["sales.orders"]
    alice.page.keyboard.press("Enter")
    alice.page.keyboard.type(" o WHERE o.cou")
    assert _completion(alice.page) == ["country"]
    alice.page.keyboard.press("Enter")
    alice.page.keyboard.type(" <> 'XX' ORDER BY o.order_id")
    sql = editor.input_value()
    assert sql == "SELECT o.order_id, o.country, o.email FROM sales.orders o WHERE o.country <> 'XX' ORDER BY o.order_id"
    highlighted = alice.page.locator(".editor-highlight")
    assert highlighted.locator(".kw", has_text="SELECT").count() == 1
    assert highlighted.locator(".str").first.inner_text() == "'XX'"
    alice.shot("workspace-01-written")

    alice.page.keyboard.press("Control+Enter")  # runs it
    alice.page.wait_for_url("**/ui/workspace/run", timeout=SLOW_PAGE_MS)
    status = alice.page.locator(".page-status")
    assert status.inner_text().startswith("Rows 1\u201350 of ")
    total = int(status.inner_text().split(" of ")[1].split(" ")[0])
    assert total > 100
    assert len(_column(alice.page, 1)) == 50
    assert set(_column(alice.page, 3)) == {"***"}  # alice: e-mails redacted
    alice.page.get_by_role("button", name="Next").click()
    assert status.inner_text().startswith("Rows 51\u2013100 of ")
    assert _column(alice.page, 1)[0] != "1"
    alice.shot("workspace-02-result")

    alice.page.get_by_label("Name", exact=True).fill("Order pairs by country")
    alice.page.get_by_label("Share by link").check()
    alice.page.get_by_role("button", name="Save", exact=True).click()
    alice.page.wait_for_url("**/ui/workspace/saved/*?saved=1")
    link = alice.page.locator("code.share-link").inner_text()
    assert link.startswith(f"{server.base}/ui/workspace/saved/")
    assert editor.input_value() == sql

    alice.page.get_by_role("button", name="Run").click()
    alice.page.wait_for_url("**/ui/workspace/run", timeout=SLOW_PAGE_MS)
    with alice.page.expect_download(timeout=SLOW_PAGE_MS) as info:
        alice.page.get_by_role("button", name="CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("query-") and download.suggested_filename.endswith(".csv")
    saved_to = tmp_path / "alice.csv"
    download.save_as(str(saved_to))
    with saved_to.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == total and {r["email"] for r in rows} == {"***"}

    alice.go("/ui/workspace")
    editor.fill("")
    assert "Order pairs by country" in alice.page.locator("#saved").inner_text()
    alice.page.locator("#history li").first.get_by_role("link", name="Open").click()
    alice.page.wait_for_url("**/ui/workspace/history/*")
    assert editor.input_value() == sql
    alice.close()

    victor = Person(browser, server, "victor")
    victor.sign_in()
    victor.page.goto(link, timeout=SLOW_PAGE_MS)
    assert "It runs as you" in victor.page.locator("#runs-as").inner_text()
    assert victor.page.get_by_label("SQL", exact=False).first.input_value() == sql
    assert victor.page.get_by_role("button", name="Stop sharing").count() == 0
    victor.page.get_by_role("button", name="Run").click()
    victor.page.wait_for_url("**/ui/workspace/run", timeout=SLOW_PAGE_MS)
    emails = _column(victor.page, 3)
    assert len(emails) == 50 and all(e.endswith(".com") and "@" not in e for e in emails), emails  # partial:4
    assert not any(e in victor.page.content() for e in EMAILS)
    assert "It runs as you" in victor.page.locator("#runs-as").inner_text()
    victor.shot("workspace-03-shared-run-as-victor")
    assert victor.page.locator("#history li").count() == 1  # his own run only, not alice's
    victor.close()


@pytest.mark.parametrize("viewport", [SMALL_LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_workspace_reads_well_on_laptop_and_phone(server: Served, browser: Any, viewport: dict[str, int]) -> None:
    victor = Person(browser, server, "victor", viewport)
    victor.sign_in()
    victor.go("/ui/workspace")
    victor.page.get_by_label("SQL", exact=False).first.fill(
        "SELECT order_id, order_date, country, amount, email\nFROM sales.orders\nORDER BY order_id")
    victor.page.get_by_role("button", name="Run").click()
    victor.page.wait_for_url("**/ui/workspace/run", timeout=SLOW_PAGE_MS)
    assert victor.page.locator("table.result-table tbody tr").count() > 100
    assert victor.page.evaluate(OVERFLOW) <= 0, f"the workspace scrolls sideways at {viewport['width']} px"
    assert victor.page.evaluate(UNLABELLED) == [], "the workspace has controls without a label"
    assert serious_accessibility_violations(victor.page) == [], f"the workspace at {viewport['width']} px"
    victor.shot("workspace-page")
    victor.close()
