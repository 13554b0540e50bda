"""Dataset sample rows through the real gateway (Spark) and the sample cache:
a warm page does not query, and nothing one viewer's policy denies is served
to another from the cache — different masks and row filters, a policy change
and a new data version each make a new query."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from access import AccessControl, Action, AuditKind, Mask, MaskKind, Resource
from lake.service import Lake
from lake.settings import GatewayLimits
from ui import services

from ui_helpers import TestClient, app_request, sign_in
from ui_world import EMAILS, PASSWORDS, order_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ORDERS = Resource.table("sales.orders")
PAGE = "/ui/datasets/sales.orders"
SAMPLE = "/ui/datasets/sales.orders/sample"
EXTRA = {"vera": "vera-pass-1", "walt": "walt-pass-1"}


def _access(client: TestClient) -> AccessControl:
    return services.access(app_request(client))


def _as(client: TestClient, user: str) -> TestClient:
    password = EXTRA.get(user) or PASSWORDS[user]
    assert sign_in(client, user, password).status_code == 303
    return client


def _queries(client: TestClient) -> int:
    """Gateway queries of sales.orders so far (each one ran on Spark)."""
    return len(_access(client).audit.query(kind=AuditKind.QUERY, resource=ORDERS.key, limit=10_000))


def _cached(html: str) -> bool:
    """The page came with its sample rows (from the cache), not with a "loading" box."""
    return 'class="samples"' in html and "data-load=" not in html


def _countries(html: str) -> set[str]:
    return {c for c in ("US", "DE", "FR") if f"<td>{c}</td>" in html}


@pytest.fixture
def client(make_ui: Callable[..., TestClient]) -> TestClient:
    """The app with time for a first query on a busy machine (it starts Spark)."""
    return make_ui(gateway=GatewayLimits(default_timeout_seconds=240))


@pytest.fixture
def people(world: TestClient, ui_lake: Lake) -> TestClient:
    """vera reads like victor (an analyst); walt reads sales through a role limited to US orders."""
    control = _access(world)
    control.create_role("us_analyst", description="Reads US orders.", actor="root")
    control.grant("us_analyst", Action.READ, Resource.domain_("sales"), actor="root")
    control.set_row_filter("us_analyst", ORDERS, "country = 'US'", actor="root")
    for name, role in (("vera", "analyst"), ("walt", "us_analyst")):
        ui_lake.users.create(name, roles=[role], password=EXTRA[name], display_name=name.capitalize())
    control.sync_users()
    return world


def test_samples_are_cached_per_data_policy_and_viewers_access(people: TestClient, ui_lake: Lake) -> None:
    client = people
    control = _access(client)

    victor = _as(client, "victor")
    assert not _cached(victor.get(PAGE).text)  # cold: the page comes first, "loading" for the rows
    before = _queries(client)
    rows = victor.get(SAMPLE).text
    assert _queries(client) == before + 1
    assert "***" in rows and not any(e in rows for e in EMAILS) and _countries(rows) == {"US", "DE", "FR"}
    warm = victor.get(PAGE).text
    assert _cached(warm) and _queries(client) == before + 1  # warm: no query, rows in the page
    assert "***" in warm and not any(e in warm for e in EMAILS)

    # The same effective access (columns, masks, rows) shares the rows...
    vera = _as(client, "vera").get(PAGE).text
    assert _cached(vera) and _queries(client) == before + 1
    # ...a row filter does not: walt gets his own query, and only his rows.
    walt = _as(client, "walt")
    assert not _cached(walt.get(PAGE).text)
    walt_rows = walt.get(SAMPLE).text
    assert _queries(client) == before + 2 and _countries(walt_rows) == {"US"}
    assert _countries(walt.get(PAGE).text) == {"US"}
    assert _countries(_as(client, "victor").get(PAGE).text) == {"US", "DE", "FR"}

    # A policy change: victor may see e-mails in clear; vera, still masked, must not get his rows.
    control.grant("victor", Action.READ, ORDERS, actor="root")  # masks are of the grant's principal
    control.set_mask("victor", Resource.column_of(ORDERS, "email"), Mask(MaskKind.DECRYPT), actor="root")
    victor = _as(client, "victor")
    assert not _cached(victor.get(PAGE).text)
    clear = victor.get(SAMPLE).text
    assert any(e in clear for e in EMAILS)
    vera_page = _as(client, "vera").get(PAGE).text
    assert not any(e in vera_page for e in EMAILS)
    vera_rows = client.get(SAMPLE).text
    assert "***" in vera_rows and not any(e in vera_rows for e in EMAILS)

    # A deny on the column: its values leave victor's sample at once, cached or not.
    control.deny("victor", Action.READ, Resource.column_of(ORDERS, "email"), actor="root")
    victor = _as(client, "victor")
    page = victor.get(PAGE).text
    assert not any(e in page for e in EMAILS) and not _cached(page)
    denied = victor.get(SAMPLE).text
    assert not any(e in denied for e in EMAILS) and "Hidden from you: email" in denied
    assert '<th scope="col">email' not in denied

    # A new batch is a new data version: the next page reads it.
    queries = _queries(client)
    assert _cached(victor.get(PAGE).text)
    more = order_rows(days=8).slice(order_rows().num_rows)  # the orders after the first batch
    ui_lake.ingest_table("sales.orders", more, actor="alice", reason="more orders", source_name="shop-export")
    assert not _cached(victor.get(PAGE).text)
    victor.get(SAMPLE)
    assert _queries(client) == queries + 1
    assert _cached(victor.get(PAGE).text)


def test_without_script_the_page_reads_the_rows_itself(people: TestClient) -> None:
    victor = _as(people, "victor")
    page = victor.get(PAGE, params={"sample": "now"}).text
    assert _cached(page) and "***" in page
