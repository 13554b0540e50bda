"""Two journeys in a real browser against a real server with its scheduler on
and a real SMTP server (aiosmtpd on loopback):

- an access request whose two notices arrive by e-mail: each person adds an
  e-mail address in their inbox settings, the analyst asks for access on the
  dataset page, the owner gets a mail, approves from the inbox, and the
  analyst gets the decision by mail;
- a view never goes dark: a new version of a view is applied (by its owner, as
  ``lakegate views apply --no-refresh`` would) while a reader keeps reading it
  in the SQL workspace: the reader gets the previous version's rows, marked
  stale; the owner sets a schedule on the view page; the schedule is made
  due (the test does not wait for the next whole minute), the server's
  scheduler refreshes the view, and the reader gets the new column.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lake.service import Lake
from lake.settings import GatewayLimits, MailSettings, Settings

from browser_harness import SLOW_PAGE_MS, Person, Served, serious_accessibility_violations, serve
from mail_fixtures import Mailbox, smtp_server
from ui_world import DAILY_REVENUE_V2_SQL, build_world

pytestmark = [pytest.mark.slow, pytest.mark.spark]

VIEW = "sales.daily_revenue"
#: Version 3 adds a column, so a reader can tell which version's rows they get.
DAILY_REVENUE_V3_SQL = DAILY_REVENUE_V2_SQL.replace("COUNT(*) AS orders", "COUNT(*) AS orders,\n  MAX(o.amount) AS largest")
#: How long a due refresh may take to run and show: the scheduler looks every second.
DUE_WITHIN_S = 150


@pytest.fixture(scope="module")
def mailed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Mailbox, Any]]:
    """The server (scheduler looking every second, mail through the SMTP server), its mailbox and its app."""
    from api.app import create_app
    from lake.spark import stop_spark

    with smtp_server() as (box, port):
        # No catalog cache in the gateway: a query right after the apply sees the new version (a server's
        # cache may lag a switch by its lifetime, two seconds by default).
        settings = Settings(home=tmp_path_factory.mktemp("ui-journeys") / "home", scheduler_interval_seconds=1,
                            gateway=GatewayLimits(catalog_cache_seconds=0),
                            mail=MailSettings(smtp_url=f"smtp+plain://127.0.0.1:{port}", sender="lakegate@example.com"))
        lake = Lake(settings)
        build_world(lake)
        app = create_app(lake=lake)
        try:
            with serve(app) as base:
                yield Served(base, lake), box, app
        finally:
            lake.close()
            stop_spark()


def _add_email(person: Person, address: str) -> None:
    person.go("/ui/inbox#settings")
    person.page.get_by_label("E-mail address").fill(address)
    person.page.get_by_role("button", name="Add e-mail address").click()
    person.page.wait_for_url("**/ui/inbox?done=channel*")
    assert address in person.page.locator("#settings").inner_text()


def test_an_access_request_and_its_decision_arrive_by_email(mailed: tuple[Served, Mailbox, Any], browser: Any) -> None:
    server, box, _app = mailed
    victor, alice = Person(browser, server, "victor"), Person(browser, server, "alice")
    for person in (victor, alice):
        person.sign_in()
        _add_email(person, f"{person.user}@example.com")
    alice.shot("journey-inbox-settings")

    victor.go("/ui/datasets/sales.orders")
    form = victor.page.locator("form[action$='/request-access']")
    form.get_by_label("Why do you need it?").fill("Checking refunds by country.")
    form.get_by_role("button", name="Request access").click()
    victor.page.wait_for_url("**/ui/datasets/sales.orders?requested=*", timeout=SLOW_PAGE_MS)
    request_id = int(re.search(r"requested=(\d+)", victor.page.url).group(1))  # type: ignore[union-attr]

    box.wait_for(1)
    [asked] = box.to("alice@example.com")
    # A subject that fits a line of its own is folded onto it whole; the parsed value keeps the fold's space.
    assert asked["Subject"].strip() == "victor asks to read sales.orders (columns email)"  # the masked column
    assert "Checking refunds by country." in asked.get_content()
    assert box.to("victor@example.com") == []

    alice.go("/ui/inbox")
    request = alice.page.locator("#requests article").filter(has_text="Checking refunds by country.")
    request.get_by_role("button", name="Approve request").click()
    alice.page.wait_for_url("**/ui/inbox?done=approved*")
    box.wait_for(2)
    [decided] = box.to("victor@example.com")
    assert decided["Subject"].strip() == (f"Your request #{request_id} to read sales.orders (columns email) "
                                          "was approved by alice")
    assert decided["X-Lakegate-Event"] == "access_decided"
    assert len(box.to("alice@example.com")) == 1  # one mail each, no repeats
    victor.go("/ui/inbox")
    assert "approved by alice" in victor.page.locator("#notices").inner_text()
    assert serious_accessibility_violations(victor.page) == []
    victor.shot("journey-access-decided")
    victor.close()
    alice.close()


def _run(person: Person, sql: str) -> tuple[list[str], str]:
    """Run ``sql`` in the workspace: the result's column names and the page's text."""
    person.go("/ui/workspace")
    editor = person.page.get_by_label("SQL", exact=False).first
    editor.fill(sql)
    editor.press("Control+Enter")
    person.page.wait_for_url("**/ui/workspace/run", timeout=SLOW_PAGE_MS)
    columns = [c.strip() for c in person.page.locator("table.result-table thead th").all_inner_texts()]
    return columns, person.page.locator("main").inner_text()


def test_a_reader_keeps_reading_a_view_while_its_new_version_waits_for_its_scheduled_refresh(
        mailed: tuple[Served, Mailbox, Any], browser: Any) -> None:
    from access import Action, Resource, registration
    from views import ViewDefinition, refreshes

    server, _box, app = mailed
    access = app.state.services.access
    # The owner team may write its view (the world made the view without going through the access layer).
    access.grant("sales", Action.WRITE, Resource.view(VIEW), reason="owner of the view", actor="root")
    victor, alice = Person(browser, server, "victor"), Person(browser, server, "alice")
    victor.sign_in()
    alice.sign_in()
    query = f"SELECT * FROM {VIEW} ORDER BY order_date, country"
    before, _ = _run(victor, query)
    assert "LARGEST" not in [c.upper() for c in before] and "REVENUE" in [c.upper() for c in before]

    v3 = ViewDefinition(name=VIEW, sql=DAILY_REVENUE_V3_SQL, owner="sales",
                        description="Revenue, orders and the largest order per day and country.")
    registration.apply_views(access, [v3], by="alice", refresh=False, message="largest order")

    during, text = _run(victor, query)
    assert during == before, "the reader gets the rows of the version that is built"
    assert f"{VIEW} answered from version 2 (version 3 is being built)" in text
    victor.go(f"/ui/views/{VIEW}")
    assert "stale" in victor.page.locator("#stale").inner_text()
    victor.shot("journey-view-stale")

    alice.go(f"/ui/views/{VIEW}")
    alice.page.get_by_label("Schedule (cron, UTC)").fill("* * * * *")
    alice.page.get_by_role("button", name="Save schedule").click()
    alice.page.wait_for_url(f"**/ui/views/{VIEW}?done=schedule*")
    assert "* * * * *" in alice.page.inner_text("main")
    saved = refreshes.get_schedule(server.lake, VIEW)
    now = dt.datetime.now(dt.UTC)
    assert saved.cron == "* * * * *" and saved.next_at is not None
    assert now < saved.next_at <= now + dt.timedelta(minutes=1)
    # A minute passes: the schedule as it would stand had it been saved a minute ago (due now), so the
    # test does not wait for the next whole minute; the server's scheduler runs the refresh itself.
    refreshes.set_schedule(server.lake, VIEW, saved.cron, now=now - dt.timedelta(minutes=1))

    deadline = time.monotonic() + DUE_WITHIN_S  # a bound on waiting for the scheduler, not a speed check
    while time.monotonic() < deadline:
        alice.go(f"/ui/views/{VIEW}")
        if alice.page.locator("#stale").count() == 0:
            break
        time.sleep(3)
    assert alice.page.locator("#stale").count() == 0, "the scheduled refresh did not run"
    runs = alice.page.locator("#runs").inner_text()
    assert "schedule" in runs and "succeeded" in runs
    alice.shot("journey-view-refreshed")

    after, text = _run(victor, query)
    assert "LARGEST" in [c.upper() for c in after] and "is being built" not in text
    victor.close()
    alice.close()
