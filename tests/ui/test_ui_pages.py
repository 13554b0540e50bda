"""UI pages over the real domain packages, without Spark: discovery limits,
access requests decided in the inbox, a metric proposal through its chain,
admin and audit."""

from __future__ import annotations

import re

from access import AccessControl, Action, MaskKind, Resource
from lake.service import Lake
from metrics_catalog import MetricCatalog
from ui import services
from ui.who import who_has_access

from ui_helpers import TestClient, app_request, csrf_of, sign_in
from ui_world import CHAIN, PASSWORDS

# A metric straight over the dataset (no view, so no Spark is needed to validate it).
DIRECT_METRIC = {
    "name": "sales.basket", "view": "sales.orders", "expression": "AVG(amount)", "time_dimension": "order_date",
    "dimensions": ["country"], "grains": ["day"], "description": "Average order value.", "owner": "alice",
    "unit": "EUR",
}


def _access(client: TestClient) -> AccessControl:
    return services.access(app_request(client))


def _metrics(client: TestClient) -> MetricCatalog:
    return services.metrics(app_request(client))


def _as(client: TestClient, user: str) -> TestClient:
    r = sign_in(client, user, PASSWORDS[user])
    assert r.status_code == 303, r.text
    return client


def _post(client: TestClient, path: str, data: dict[str, object], page: str = "/ui") -> object:
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)})


# -- discovery -------------------------------------------------------------------------------


def test_search_finds_what_the_viewer_may_discover_and_nothing_else(world: TestClient, ui_lake: Lake) -> None:
    ui_lake.register({"dataset": "sales.secret_deals", "owner": "sales", "description": "Deals under NDA.",
                      "columns": [{"name": "deal_id", "type": "int64"}]}, actor="alice")
    _access(world).deny("victor", Action.DISCOVER, Resource.table("sales.secret_deals"), actor="root")
    victor = _as(world, "victor")
    page = victor.get("/ui/search", params={"q": "deals"})
    assert page.status_code == 200
    assert "secret_deals" not in page.text and "0 results" in page.text
    hidden = victor.get("/ui/datasets/sales.secret_deals")
    missing = victor.get("/ui/datasets/sales.no_such_thing")
    assert hidden.status_code == missing.status_code == 404
    assert "that you can see" in hidden.text and "that you can see" in missing.text
    assert "secret_deals" not in victor.get("/ui").text
    alice = _as(world, "alice")
    assert "sales.secret_deals" in alice.get("/ui/search", params={"q": "deals"}).text


def test_search_filters_by_kind(world: TestClient) -> None:
    victor = _as(world, "victor")
    columns = victor.get("/ui/search", params={"q": "email", "kind": "column"}).text
    assert 'href="/ui/datasets/sales.orders#col-email"' in columns
    datasets = victor.get("/ui/search", params={"q": "email", "kind": "dataset"}).text
    assert "#col-email" not in datasets and 'href="/ui/datasets/sales.orders"' in datasets
    bad = victor.get("/ui/search", params={"q": "email", "kind": "table"})
    assert bad.status_code == 422 and "unknown kind" in bad.text


def test_unknown_ui_pages_are_404_pages(world: TestClient) -> None:
    r = _as(world, "victor").get("/ui/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


# -- access requests -----------------------------------------------------------------------------


def test_access_request_is_approved_in_the_owners_inbox_with_pii_in_clear(world: TestClient) -> None:
    control = _access(world)
    table = Resource.table("sales.orders")
    columns = [("order_id", False), ("order_date", False), ("country", False), ("amount", False), ("email", True)]
    before = control.table_access("victor", table, columns).column("email")
    assert before is not None and before.mask is not None and before.mask.kind is MaskKind.REDACT

    victor = _as(world, "victor")
    r = _post(victor, "/ui/datasets/sales.orders/request-access",
              {"reason": "Customer follow-up", "columns": ["email"], "duration_days": "7"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    [request] = control.requests.list()

    tina = _as(world, "tina")  # not the owner: the request is not hers to decide
    assert "Customer follow-up" not in tina.get("/ui/inbox").text
    refused = _post(tina, f"/ui/inbox/requests/{request.id}/approve", {"note": "ok"}, "/ui/inbox")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert control.requests.get(request.id).status.value == "pending"

    alice = _as(world, "alice")  # the sales team owns sales.orders
    inbox = alice.get("/ui/inbox").text
    assert "Customer follow-up" in inbox and "covers PII: email" in inbox
    r = _post(alice, f"/ui/inbox/requests/{request.id}/approve",
              {"note": "for the follow-up", "reveal_pii": "true"}, "/ui/inbox")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert control.requests.get(request.id).status.value == "approved"
    after = control.table_access("victor", table, columns).column("email")
    assert after is not None and after.mask is not None and after.mask.kind is MaskKind.DECRYPT
    [rule] = control.policies.masks(subject="victor")  # PII in clear ends with the grant
    assert rule.expires_at is not None and rule.expires_at == control.requests.get(request.id).expires_at

    mine = _as(world, "victor").get("/ui/inbox").text
    assert re.search(r"approved.*for the follow-up", mine, re.DOTALL)


def test_rejecting_a_request_leaves_no_grant(world: TestClient) -> None:
    control = _access(world)
    victor = _as(world, "victor")
    _post(victor, "/ui/datasets/sales.orders/request-access", {"reason": "curious", "duration_days": "30"})
    [request] = control.requests.list()
    alice = _as(world, "alice")
    r = _post(alice, f"/ui/inbox/requests/{request.id}/reject", {"note": "not needed"}, "/ui/inbox")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert control.requests.get(request.id).status.value == "rejected"
    assert not list(control.policies.grants(subject="victor"))
    again = _post(alice, f"/ui/inbox/requests/{request.id}/approve", {}, "/ui/inbox")
    assert again.status_code == 409 and "not pending" in again.text  # type: ignore[attr-defined]


# -- a metric proposal through its chain, from the inbox --------------------------------------


def test_metric_proposal_is_approved_through_its_chain_from_the_inbox(world: TestClient, ui_lake: Lake) -> None:
    catalog = MetricCatalog(ui_lake, access=_access(world), deliver=False)
    catalog.chains.set("sales", CHAIN, actor="root")
    catalog.workflow.create(DIRECT_METRIC, actor="alice")
    catalog.workflow.propose("sales.basket", actor="alice")

    decide_form = 'action="/ui/metrics/sales.basket/decision"'
    assert decide_form not in _as(world, "bruno").get("/ui/inbox").text  # not at his stage yet
    tina = _as(world, "tina")
    inbox = tina.get("/ui/inbox").text
    assert "Start review of sales.basket" in inbox
    r = _post(tina, "/ui/metrics/sales.basket/start-review", {"back": "inbox"}, "/ui/inbox")
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/inbox")  # type: ignore[attr-defined]
    r = _post(tina, "/ui/metrics/sales.basket/decision",
              {"decision": "approve", "revision": "1", "back": "inbox"}, "/ui/inbox")
    assert r.status_code == 303  # type: ignore[attr-defined]
    info = catalog.workflow.get("sales.basket")
    assert info.status.value == "in_review" and info.stage == "business"
    assert decide_form not in tina.get("/ui/inbox").text  # one stage per person

    alice = _as(world, "alice")  # the author may not approve, even by posting the form
    refused = _post(alice, "/ui/metrics/sales.basket/decision",
                    {"decision": "approve", "revision": "1", "back": "inbox"}, "/ui/inbox")
    assert refused.status_code == 403 and "authors of a metric may not decide" in refused.text  # type: ignore[attr-defined]

    bruno = _as(world, "bruno")
    assert decide_form in bruno.get("/ui/inbox").text
    no_reason = _post(bruno, "/ui/metrics/sales.basket/decision",
                      {"decision": "reject", "revision": "1", "back": "inbox"}, "/ui/inbox")
    assert no_reason.status_code == 422 and "reason is required" in no_reason.text  # type: ignore[attr-defined]
    r = _post(bruno, "/ui/metrics/sales.basket/decision",
              {"decision": "approve", "revision": "1", "back": "inbox"}, "/ui/inbox")
    assert r.status_code == 303  # type: ignore[attr-defined]
    info = catalog.workflow.get("sales.basket")
    assert info.status.value == "approved" and info.certified_revision == 1
    notices = _as(world, "alice").get("/ui/inbox").text
    assert "sales.basket revision 1 is approved and certified" in notices


def test_comments_from_the_inbox_reach_the_thread(world: TestClient, ui_lake: Lake) -> None:
    catalog = MetricCatalog(ui_lake, access=_access(world), deliver=False)
    catalog.chains.set("sales", CHAIN, actor="root")
    catalog.workflow.create(DIRECT_METRIC, actor="alice")
    catalog.workflow.propose("sales.basket", actor="alice")
    tina = _as(world, "tina")
    r = _post(tina, "/ui/metrics/sales.basket/comments", {"body": "Which currency?", "back": "inbox"}, "/ui/inbox")
    assert r.status_code == 303  # type: ignore[attr-defined]
    [comment] = catalog.comments.list("sales.basket")
    assert comment.author == "tina" and comment.body == "Which currency?"
    assert "tina commented on sales.basket" in _as(world, "alice").get("/ui/inbox").text


# -- admin and audit -------------------------------------------------------------------------


def test_admin_and_audit_need_admin(world: TestClient) -> None:
    victor = _as(world, "victor")
    assert victor.get("/ui/admin").status_code == 403
    assert victor.get("/ui/audit").status_code == 403
    assert 'href="/ui/admin"' not in victor.get("/ui").text


def test_admin_grants_through_the_form_and_the_audit_log_verifies(world: TestClient) -> None:
    root = _as(world, "root")
    page = root.get("/ui/admin")
    assert page.status_code == 200 and "analyst" in page.text
    r = _post(root, "/ui/admin/grants", {"subject": "tina", "action": "read", "resource": "dataset:sales.orders",
                                         "effect": "allow", "days": "3", "reason": "review"}, "/ui/admin")
    assert r.status_code == 303  # type: ignore[attr-defined]
    [grant] = _access(world).policies.grants(subject="tina", resource=Resource.table("sales.orders"))
    assert grant.action is Action.READ and grant.expires_at is not None and grant.reason == "review"
    bad = _post(root, "/ui/admin/grants", {"subject": "tina", "action": "peek", "resource": "lake"}, "/ui/admin")
    assert bad.status_code == 422 and "unknown action" in bad.text  # type: ignore[attr-defined]
    audit = root.get("/ui/audit", params={"kind": "policy_change"})
    assert audit.status_code == 200
    assert "Verified." in audit.text and "dataset:sales.orders" in audit.text


def test_admin_grants_are_filtered_paged_and_a_revoke_keeps_the_filter(world: TestClient) -> None:
    import datetime as dt

    DASH = "\N{EN DASH}"  # the page writes ranges as "1 to 50" with it

    control = _access(world)
    for n in range(1, 56):
        control.create_role(f"reader{n:02d}", actor="root")
        control.grant(f"reader{n:02d}", Action.READ, Resource.table("sales.orders"), reason="bulk", actor="root")
    control.grant("reader01", Action.READ, Resource.domain_("sales"), actor="root",
                  expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    root = _as(world, "root")
    first = root.get("/ui/admin", params={"resource": "dataset:sales.orders", "action": "read"})
    assert first.status_code == 200
    ids = re.findall(r'action="/ui/admin/grants/(\d+)/revoke"', first.text)
    assert len(ids) == 50 and f"Grants 1{DASH}50 of" in first.text and "matching the filter" in first.text
    total = int(re.search(rf"Grants 1{DASH}50 of (\d+)", first.text).group(1))  # type: ignore[union-attr]
    assert total >= 55 and 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = root.get("/ui/admin", params={"resource": "dataset:sales.orders", "action": "read", "page": "2"})
    more = re.findall(r'action="/ui/admin/grants/(\d+)/revoke"', second.text)
    assert len(more) == total - 50 and not set(more) & set(ids) and f"Grants 51{DASH}{total} of {total}" in second.text

    beyond = root.get("/ui/admin", params={"resource": "dataset:sales.orders", "action": "read", "page": "9999"})
    assert beyond.status_code == 200 and f"There is no page 9999: {total} grants fill 2 pages" in beyond.text
    assert 'rel="next"' not in beyond.text and "Back to the first page of grants" in beyond.text

    one = root.get("/ui/admin", params={"subject": "reader07"})
    rows = re.findall(r'<th scope="row">(\w+)</th>', one.text.split('id="grants"')[1].split('id="masks"')[0])
    assert rows == ["reader07"] and f"Grants 1{DASH}1 of 1" in one.text

    import time
    time.sleep(1.1)  # reader01's grant on the domain expires
    hidden = root.get("/ui/admin", params={"subject": "reader01"})
    assert f"Grants 1{DASH}1 of 1" in hidden.text and "1 expired not shown" in hidden.text
    shown = root.get("/ui/admin", params={"subject": "reader01", "expired": "1"})
    assert f"Grants 1{DASH}2 of 2" in shown.text and ">expired<" in shown.text

    [grant_id] = re.findall(r'action="/ui/admin/grants/(\d+)/revoke"', one.text)
    back = re.search(r'name="back" value="([^"]*)"', one.text).group(1)  # type: ignore[union-attr]
    r = _post(root, f"/ui/admin/grants/{grant_id}/revoke", {"back": back.replace("&amp;", "&")},
              "/ui/admin?subject=reader07")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert r.headers["location"] == "/ui/admin?subject=reader07&done=revoke#grants"  # type: ignore[attr-defined]
    assert control.policies.grants(subject="reader07") == []

    for params, named in (({"resource": "dataset:"}, "dataset"), ({"action": "peek"}, "unknown action 'peek'")):
        bad = root.get("/ui/admin", params=params)
        assert bad.status_code == 422 and "Grant filter:" in bad.text and named in bad.text.replace("&#39;", "'")
        assert 'id="roles"' in bad.text  # the rest of the page works


def test_audit_page_reports_a_tampered_log(world: TestClient, ui_lake: Lake) -> None:
    from sqlalchemy import update

    from access.models import AuditEntryRow

    root = _as(world, "root")
    with ui_lake.catalog.session() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2).values(actor="mallory"))
    page = root.get("/ui/audit")
    assert page.status_code == 200
    assert "does not verify" in page.text and "Entry 2 (edited)" in page.text


def test_dataset_page_without_read_access_offers_a_request_and_hides_role_members(world: TestClient) -> None:
    tina = _as(world, "tina")  # may discover sales.orders, may not read it
    page = tina.get("/ui/datasets/sales.orders")
    assert page.status_code == 200
    assert "You cannot read rows of this dataset yet" in page.text
    assert 'action="/ui/datasets/sales.orders/request-access"' in page.text
    assert "analyst" in page.text and ">Members<" not in page.text  # who has access, without the people
    assert 'id="col-email"' in page.text and "Customer e-mail address." in page.text
    control = _access(world)
    lines = {w.subject: w for w in who_has_access(control, Resource.table("sales.orders"))}
    assert lines["analyst"].members == ("victor",) and lines["sales"].scope == "this dataset"
    hidden = {w.subject: w for w in who_has_access(control, Resource.table("sales.orders"), with_members=False)}
    assert hidden["analyst"].members == ()
