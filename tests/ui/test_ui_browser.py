"""The UI in a real browser (Debian's Chromium through Playwright) against a
real server: uvicorn on a free loopback port, the SQLite catalog, a local
lake with rows, a materialized view, an approval chain and metrics
(:mod:`ui_world`), Spark for samples and metric values.

The stories: a person signs in, searches, opens a dataset and sees masked
samples, requests access; the owner approves it from their inbox; the first
person now sees the data. A metric proposal is approved through its
two-stage chain from the approvers' inboxes. Every page is also opened at a
laptop and a phone width, checked for sideways overflow, labelled controls,
axe-core's serious and critical accessibility rules and a visible keyboard
focus, and screenshotted.

Screenshots go to ``tests/ui/screenshots/`` (ignored by git), or to
``$LAKEGATE_UI_SCREENSHOTS``.
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
from ui_world import EMAILS, build_world

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API app with the UI, served by uvicorn in a thread, over a world built with Spark."""
    from lake.spark import stop_spark

    lake = Lake(Settings(home=tmp_path_factory.mktemp("ui-browser") / "home"))
    try:
        build_world(lake)
        with serve(create_app(lake=lake)) as base:  # the app mounts the UI
            yield Served(base, lake)
    finally:
        lake.close()
        stop_spark()


def _rows(page: Any, selector: str = "table.samples tbody tr") -> list[list[str]]:
    page.locator("table.samples").wait_for()  # sample rows not in the cache yet arrive after the page
    return [[c.strip() for c in row.locator("td").all_inner_texts()] for row in page.locator(selector).all()]


def test_a_person_finds_data_sees_masked_samples_and_gets_access(server: Served, browser: Any) -> None:
    victor = Person(browser, server, "victor")
    victor.go("/ui/datasets/sales.orders")  # not signed in: the sign-in page, coming back here afterwards
    assert victor.page.url.startswith(f"{server.base}/ui/login?next=")
    victor.shot("00-sign-in")
    victor.sign_in()
    victor.shot("01-home")

    victor.page.get_by_role("searchbox", name="Search datasets, views, metrics and columns").fill("orders")
    victor.page.get_by_role("button", name="Search", exact=True).first.click()
    victor.page.wait_for_url("**/ui/search?q=orders")
    results = victor.page.locator("ol.hits li")
    assert results.count() >= 2
    assert "sales.orders" in results.all_inner_texts()[0] or "sales.orders" in " ".join(results.all_inner_texts())
    victor.shot("02-search")

    victor.page.locator("a.hit-title", has_text="sales.orders").first.click()
    victor.page.wait_for_url("**/ui/datasets/sales.orders", timeout=SLOW_PAGE_MS)
    header = victor.page.locator("table.samples thead").inner_text()
    assert "EMAIL" in header.upper() and "REDACT" in header.upper()
    rows = _rows(victor.page)
    assert len(rows) == 10
    emails = [r[-1] for r in rows]
    assert set(emails) == {"***"}, emails
    assert not any(e in victor.page.content() for e in EMAILS)
    victor.shot("03-dataset-masked")

    form = victor.page.locator("form[action$='/request-access']")
    assert form.get_by_label("email").is_checked()  # the masked column is pre-selected
    form.get_by_label("Why do you need it?").fill("Following up on failed deliveries.")
    form.get_by_label("For how long").select_option("7")
    form.get_by_role("button", name="Request access").click()
    victor.page.wait_for_url("**/ui/datasets/sales.orders?requested=*", timeout=SLOW_PAGE_MS)
    assert "was sent" in victor.page.locator(".flash").first.inner_text()
    assert "pending" in victor.page.locator("#access").inner_text()
    victor.shot("04-access-requested")

    alice = Person(browser, server, "alice")
    alice.sign_in()
    alice.go("/ui/inbox")
    request = alice.page.locator("#requests article").filter(has_text="Following up on failed deliveries.")
    assert request.count() == 1
    request.get_by_label("Show the PII columns (email) in clear, not masked").check()
    alice.shot("05-inbox-access-request")
    request.get_by_role("button", name="Approve request").click()
    alice.page.wait_for_url("**/ui/inbox?done=approved*")
    assert "approved" in alice.page.locator(".flash").first.inner_text()
    assert alice.page.locator("#requests article").filter(has_text="Following up").count() == 0
    alice.close()

    victor.go("/ui/datasets/sales.orders")
    rows = _rows(victor.page)
    emails = {r[-1] for r in rows}
    assert emails and emails <= set(EMAILS), emails
    assert "REDACT" not in victor.page.locator("table.samples thead").inner_text().upper()
    assert "approved" in victor.page.locator("#access").inner_text()
    victor.shot("06-dataset-granted")
    victor.close()


def test_a_metric_proposal_is_approved_through_its_chain_from_the_inbox(server: Served, browser: Any) -> None:
    tina = Person(browser, server, "tina")
    tina.sign_in()
    tina.go("/ui/inbox")
    proposal = tina.page.locator("#proposals article").filter(has_text="sales.order_count")
    assert proposal.count() == 1
    tina.shot("07-inbox-proposal")
    proposal.get_by_role("button", name="Start review of sales.order_count").click()
    tina.page.wait_for_url("**/ui/inbox?done=start_review*")
    proposal = tina.page.locator("#proposals article").filter(has_text="sales.order_count")
    proposal.get_by_label("Reason or comment for sales.order_count").fill("Counts match the shop export.")
    proposal.get_by_role("button", name="Approve", exact=True).click()
    tina.page.wait_for_url("**/ui/inbox?done=approve*")
    assert tina.page.locator("#proposals article").filter(has_text="sales.order_count").count() == 0
    tina.close()

    bruno = Person(browser, server, "bruno")
    bruno.sign_in()
    bruno.go("/ui/inbox")
    proposal = bruno.page.locator("#proposals article").filter(has_text="sales.order_count")
    assert "stage business" in proposal.inner_text()
    proposal.get_by_role("button", name="Approve", exact=True).click()
    bruno.page.wait_for_url("**/ui/inbox?done=approve*")
    bruno.go("/ui/metrics/sales.order_count")
    head = bruno.page.locator(".page-head").inner_text()
    assert "approved" in head and "certified revision 1" in head
    chain = bruno.page.locator("#chain").inner_text()
    assert "tina" in chain and "bruno" in chain
    bruno.close()

    victor = Person(browser, server, "victor")
    victor.sign_in()
    victor.go("/ui/metrics/sales.order_count")
    chart = victor.page.locator("#values .chart-wide svg")
    assert chart.count() == 1 and chart.locator("circle").count() == 6  # six days of orders
    victor.page.get_by_label("Add a comment").fill("Does this count cancelled orders?")
    victor.page.get_by_role("button", name="Post comment").click()
    victor.page.wait_for_url("**/ui/metrics/sales.order_count?done=comment*")
    thread = victor.page.locator("#comments .comments")
    assert "Does this count cancelled orders?" in thread.inner_text()
    victor.shot("08-metric-certified")
    victor.close()

    alice = Person(browser, server, "alice")
    alice.sign_in()
    alice.go("/ui/inbox")
    assert "victor commented on sales.order_count" in alice.page.locator("#notices").inner_text()
    alice.go("/ui/metrics/sales.order_count")
    alice.page.locator("#comments summary", has_text="Reply").first.click()
    alice.page.get_by_label("Reply to victor").fill("No: only placed orders.")
    alice.page.get_by_role("button", name="Post reply").click()
    alice.page.wait_for_url("**/ui/metrics/sales.order_count?done=comment*")
    reply = alice.page.locator("#comments .comments li li")
    assert reply.count() == 1 and "No: only placed orders." in reply.inner_text()
    alice.shot("09-metric-comments")
    alice.close()


PAGES = {
    "victor": ["/ui", "/ui/search?q=revenue", "/ui/datasets/sales.orders", "/ui/views/sales.daily_revenue",
               "/ui/views/sales.daily_revenue/diff?from=1&to=2", "/ui/metrics/sales.revenue",
               "/ui/metrics/sales.revenue?dimension=country&from=2026-10-02", "/ui/inbox"],
    "root": ["/ui/admin", "/ui/audit"],
}

@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_pages_read_well_on_laptop_and_phone(server: Served, browser: Any, viewport: dict[str, int]) -> None:
    shots = 0
    stranger = Person(browser, server, "nobody", viewport)
    stranger.go("/ui/login")
    assert stranger.page.evaluate(OVERFLOW) <= 0 and stranger.page.evaluate(UNLABELLED) == []
    assert serious_accessibility_violations(stranger.page) == [], f"/ui/login at {viewport['width']} px"
    stranger.close()
    for user, paths in PAGES.items():
        person = Person(browser, server, user, viewport)
        person.sign_in(with_token=user == "root")
        for path in paths:
            person.go(path)
            assert person.page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {viewport['width']} px"
            assert person.page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
            assert serious_accessibility_violations(person.page) == [], f"{path} at {viewport['width']} px"
            if "/metrics/" in path:  # the chart drawn for this screen size is the one shown
                shown = ".chart-narrow" if viewport is PHONE else ".chart-wide"
                hidden = ".chart-wide" if viewport is PHONE else ".chart-narrow"
                assert person.page.locator(f"{shown} svg").is_visible()
                assert person.page.locator(f"{hidden} svg").is_hidden()
            name = path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-").replace("=", "") or "ui"
            person.shot(f"page-{user}-{name}")
            shots += 1
        person.close()
    assert shots == sum(len(p) for p in PAGES.values())


def test_keyboard_reaches_the_skip_link_search_and_forms_with_a_visible_focus(server: Served, browser: Any) -> None:
    victor = Person(browser, server, "victor")
    victor.sign_in()
    victor.go("/ui/datasets/sales.orders")
    victor.page.keyboard.press("Tab")
    focused = victor.page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    victor.page.keyboard.press("Enter")
    assert victor.page.evaluate("() => document.activeElement.id") == "main"
    # Collapsed parts open from the keyboard (victor reads everything now, so the request form is folded).
    summary = victor.page.locator("summary", has_text="Ask for access anyway")
    summary.focus()
    victor.page.keyboard.press("Enter")
    assert victor.page.get_by_label("Why do you need it?").is_visible()
    # From the search field, Tab reaches the search button, and the focus ring shows.
    victor.go("/ui/search?q=orders")
    victor.page.locator("#q").focus()
    victor.page.keyboard.press("Tab")
    style = victor.page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [document.activeElement.textContent.trim(), s.outlineStyle, s.outlineWidth]; }""")
    assert style == ["Search", "solid", "3px"], style
    victor.close()
