"""Writing a metric and reviewing it in a meeting, in a real browser (Chromium
through Playwright) against a real server with Spark (the world of
:mod:`ui_world`, built and served as in ``test_ui_browser``).

The story: the author writes a metric over a view in the editor, is shown
the catalog's error with its caret, fixes it with the column list, saves and
proposes it; the tech approver schedules a review meeting, opens a session
(the proposal is on its agenda), approves it there and minutes it; the
business approver approves it on the metric page and it is certified. A
person without the right to write metrics is refused. The editor and the
meeting pages are checked at laptop and phone widths and screenshotted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings

from browser_harness import (
    LAPTOP,
    OVERFLOW,
    PHONE,
    SLOW_PAGE_MS,
    UNLABELLED,
    Person,
    Served,
    serious_accessibility_violations,
    serve,
)
from ui_world import build_world

pytestmark = [pytest.mark.slow, pytest.mark.spark]

METRIC = "sales.basket"  # the world lets the approvers approve it (ui_world.METRICS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API app with the UI, served by uvicorn in a thread, over a world built with Spark."""
    from lake.spark import stop_spark

    lake = Lake(Settings(home=tmp_path_factory.mktemp("ui-authoring") / "home"))
    try:
        build_world(lake)
        with serve(create_app(lake=lake), name="ui-authoring-server") as base:
            yield Served(base, lake)
    finally:
        lake.close()
        stop_spark()


def test_a_metric_is_written_proposed_reviewed_in_a_meeting_and_certified(server: Served,
                                                                          browser: Any) -> None:
    alice = Person(browser, server, "alice")
    alice.sign_in()
    alice.go("/ui/metrics/new")
    page = alice.page
    page.get_by_label("View or dataset", exact=True).select_option("sales.daily_revenue")  # shows its columns (script)
    page.wait_for_selector("button[data-insert='revenue']")
    assert "Columns of sales.daily_revenue v2" in page.locator(".columns-panel h2").inner_text()
    page.get_by_label("Name", exact=True).fill(METRIC)
    page.get_by_label("Expression", exact=True).fill("SUM(revenue) /\n  SUM(ordrs)")
    page.get_by_role("button", name="Check").click()
    page.wait_for_selector("#editor-error")
    error = page.locator("#editor-error").inner_text()
    assert "Not saved: expression, line 2, column 7." in error and "unknown column 'ordrs'" in error
    assert "    SUM(ordrs)\n        ^" in page.locator("#editor-error pre.caret").inner_text()
    focus = page.evaluate("() => [document.activeElement.id, document.activeElement.selectionStart]")
    assert focus == ["expression", len("SUM(revenue) /\n  SUM(")], focus  # the cursor is on the error
    alice.shot("authoring-01-caret")

    expression = page.get_by_label("Expression", exact=True)
    expression.fill("SUM(")
    page.locator("button[data-insert='revenue']").click()
    expression.press("End")
    expression.type(") / SUM(")
    page.locator("button[data-insert='orders']").click()
    expression.press("End")
    expression.type(")")
    assert expression.input_value() == "SUM(revenue) / SUM(orders)"
    assert page.get_by_label("Time dimension", exact=True).input_value() == "order_date"
    page.get_by_label("country", exact=True).check()
    page.get_by_label("month", exact=True).uncheck()
    page.get_by_label("Unit", exact=True).fill("EUR")
    page.get_by_label("Format", exact=True).select_option("currency")
    page.get_by_label("Description (Markdown; needed before it is proposed)", exact=True).fill(
        "Average order value: revenue over orders, in EUR.")
    page.get_by_role("button", name="Check").click()
    page.wait_for_selector("#editor-checked")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(f"**/ui/metrics/{METRIC}/edit?done=saved")
    alice.shot("authoring-02-saved")
    page.get_by_label("Note for the approvers (optional)", exact=True).fill("Ready for the Monday review.")
    page.get_by_role("button", name="Propose revision 1 for review").click()
    page.wait_for_url(f"**/ui/metrics/{METRIC}?done=propose*", timeout=SLOW_PAGE_MS)
    assert "proposed" in page.locator(".page-head").inner_text()
    alice.close()

    tina = Person(browser, server, "tina")
    tina.sign_in()
    tina.go("/ui/meetings")
    tina.page.get_by_role("link", name="sales").click()
    tina.page.wait_for_url("**/ui/meetings/sales")
    schedule = tina.page.locator("#schedule")
    schedule.get_by_label("Title", exact=True).fill("Sales tech review")
    schedule.get_by_label("Stage", exact=True).select_option("tech")
    schedule.get_by_label("Location", exact=True).fill("Room 4")
    schedule.get_by_role("button", name="Schedule").click()
    tina.page.wait_for_url("**/ui/meetings/sales?done=schedule")
    meeting = tina.page.locator("section.meeting").filter(has_text="Sales tech review")
    assert METRIC in meeting.locator("ul.plain").nth(1).inner_text()  # on the next agenda
    meeting.get_by_role("button", name="Open the next session").click()
    tina.page.wait_for_url("**/ui/meetings/sales?done=open*")
    session = tina.page.locator(".session-open")
    assert METRIC in session.inner_text() and "review started" in session.inner_text()
    session.get_by_label(f"Reason for {METRIC} (needed to reject or request changes)", exact=True).fill("Sums match the view.")
    session.get_by_role("button", name=f"Approve {METRIC}").click()
    tina.page.wait_for_url("**/ui/meetings/sales?done=decide*")
    minutes = tina.page.locator(".session-open .minutes").inner_text()
    assert f"{METRIC}: Sums match the view." in minutes and "approved" in minutes
    tina.page.get_by_label("Add to the minutes", exact=True).fill("Business stage next.")
    tina.page.get_by_role("button", name="Add note").click()
    tina.page.wait_for_url("**/ui/meetings/sales?done=note*")
    assert "Business stage next." in tina.page.locator(".session-open .minutes").inner_text()
    href = tina.page.get_by_role("link", name="Subscribe (.ics)").get_attribute("href")
    assert href == "/ui/meetings/sales/calendar.ics"
    ics = tina.context.request.get(server.base + href)
    assert ics.status == 200 and "SUMMARY:Sales tech review" in ics.text()
    tina.shot("authoring-03-meeting")
    tina.close()

    bruno = Person(browser, server, "bruno")
    bruno.sign_in()
    bruno.go(f"/ui/metrics/{METRIC}")
    bruno.page.get_by_role("button", name="Approve revision 1").click()
    bruno.page.wait_for_url(f"**/ui/metrics/{METRIC}?done=approve*", timeout=SLOW_PAGE_MS)
    head = bruno.page.locator(".page-head").inner_text()
    assert "approved" in head and "certified revision 1" in head
    chain = bruno.page.locator("#chain").inner_text()
    assert "tina" in chain and "bruno" in chain
    bruno.shot("authoring-04-certified")
    bruno.close()


def test_a_person_without_the_right_is_refused(server: Served, browser: Any) -> None:
    victor = Person(browser, server, "victor")
    victor.sign_in()
    victor.go("/ui/metrics/new?view=sales.daily_revenue")
    page = victor.page
    page.get_by_label("Name", exact=True).fill("sales.victors_sum")
    page.get_by_label("Expression", exact=True).fill("SUM(revenue)")
    page.get_by_label("Description (Markdown; needed before it is proposed)", exact=True).fill("Mine.")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state()
    assert "victor may not propose metric sales.victors_sum" in page.locator(".flash-bad").inner_text()
    assert page.get_by_label("Expression", exact=True).input_value() == "SUM(revenue)"  # nothing typed is lost
    victor.shot("authoring-05-refused")
    victor.go("/ui/meetings/sales")
    assert page.get_by_role("button", name="Open the next session").count() == 0
    assert page.get_by_role("button", name="Add note").count() == 0
    victor.close()


PAGES = ["/ui/metrics/new?view=sales.daily_revenue", f"/ui/metrics/{METRIC}/edit", "/ui/meetings",
         "/ui/meetings/sales"]


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_authoring_and_meeting_pages_read_well_on_laptop_and_phone(server: Served, browser: Any,
                                                                  viewport: dict[str, int]) -> None:
    alice = Person(browser, server, "alice", viewport)
    alice.sign_in()
    for path in PAGES:
        alice.go(path)
        assert alice.page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {viewport['width']} px"
        assert alice.page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
        assert serious_accessibility_violations(alice.page) == [], f"{path} at {viewport['width']} px"
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "")
        alice.shot(f"page-alice-{name}")
    alice.close()
