"""Writing metrics in the UI and running review meetings, over the real app and
catalog (metrics straight over ``sales.orders``, so no Spark is needed).

The editor's refusals are the catalog's: the same message, field, line,
column and caret as the API's ``POST /metrics/validate``; who may write,
propose, withdraw, run a meeting or decide is the workflow's rule, through
the UI as through the API."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from access import AccessControl
from lake.service import Lake
from metrics_catalog import MetricCatalog
from ui import services

from ui_helpers import TestClient, app_request, csrf_of, sign_in
from ui_world import CHAIN, PASSWORDS

BASKET = {
    "name": "sales.basket", "view": "sales.orders", "expression": "AVG(amount)", "time_dimension": "order_date",
    "dimensions": ["country"], "grains": ["day", "week"], "unit": "EUR", "format": "currency",
    "description": "Average order value.", "filters": "amount > 0",
}


def _catalog(client: TestClient) -> MetricCatalog:
    return services.metrics(app_request(client))


def _access(client: TestClient) -> AccessControl:
    return services.access(app_request(client))


def _as(client: TestClient, user: str) -> TestClient:
    r = sign_in(client, user, PASSWORDS[user])
    assert r.status_code == 303, r.text
    return client


def _post(client: TestClient, path: str, data: dict[str, Any], page: str = "/ui/metrics/new") -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)})


def _chain(client: TestClient) -> None:
    _catalog(client).chains.set("sales", CHAIN, actor="root")


def test_the_editor_lists_the_views_columns_and_saves_a_draft(world: TestClient) -> None:
    alice = _as(world, "alice")
    page = alice.get("/ui/metrics/new?view=sales.orders")
    assert page.status_code == 200
    assert '<option value="sales.orders" selected>' in page.text
    for column in ("order_id", "order_date", "country", "amount"):
        assert f'data-insert="{column}"' in page.text
    assert 'data-insert="email"' not in page.text and "not usable" in page.text  # PII cannot be used

    shown = _post(alice, "/ui/metrics/new", {**BASKET, "view": "sales.orders", "intent": "columns"})
    assert shown.status_code == 200 and 'value="AVG(amount)"' not in shown.text
    assert ">AVG(amount)</textarea>" in shown.text  # what was typed stays

    checked = _post(alice, "/ui/metrics/new", {**BASKET, "intent": "check"})
    assert checked.status_code == 200 and "The definition is valid over sales.orders version 1" in checked.text
    assert _catalog(world).workflow.list() == []  # a check saves nothing

    saved = _post(alice, "/ui/metrics/new", {**BASKET, "intent": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == "/ui/metrics/sales.basket/edit?done=saved"
    info = _catalog(world).workflow.get("sales.basket")
    d = info.definition
    assert (info.status.value, info.revision, info.owner) == ("draft", 1, "alice")
    assert (d.expression, d.filters, d.dimensions, d.unit, d.format.value) == (
        "AVG(amount)", ("amount > 0",), ("country",), "EUR", "currency")
    assert [g.value for g in d.grains] == ["day", "week"] and d.view_version == 1

    edit = alice.get(saved.headers["location"])
    assert "Saved. Propose it" in edit.text and "Propose revision 1 for review" in edit.text


def test_a_refused_definition_shows_the_catalogs_message_with_its_caret(world: TestClient, ui_lake: Lake) -> None:
    token, _ = ui_lake.users.create_token("alice", name="api")
    bad = {**BASKET, "expression": "AVG(amount) +\n  SUM(amout)"}
    api = world.post("/api/v1/metrics/validate", headers={"Authorization": f"Bearer {token}"},
                     json={k: v for k, v in bad.items() if k != "filters"} | {"filters": ["amount > 0"]})
    assert api.status_code == 422
    error = api.json()["error"]
    assert error["details"]["line"] == 2 and error["details"]["column"] == 7

    alice = _as(world, "alice")
    for intent in ("check", "save"):
        page = _post(alice, "/ui/metrics/new", {**bad, "intent": intent})
        assert page.status_code == 422
        assert error["message"] in html.unescape(page.text)  # the API's message, caret and all
        assert "  SUM(amout)\n        ^" in html.unescape(page.text)
        assert "Not saved: expression, line 2, column 7." in page.text
        assert 'data-line="2" data-column="7"' in page.text and 'aria-invalid="true"' in page.text
        assert ">AVG(amount) +\n  SUM(amout)</textarea>" in page.text  # kept for the fix
    assert _catalog(world).workflow.list() == []

    missing = _post(alice, "/ui/metrics/new", {**BASKET, "time_dimension": "", "intent": "save"})
    assert missing.status_code == 422 and "Not saved: time dimension" in missing.text


def test_edit_propose_and_withdraw_follow_the_workflow(world: TestClient) -> None:
    _chain(world)
    alice = _as(world, "alice")
    _post(alice, "/ui/metrics/new", {**BASKET, "intent": "save"})
    edit = "/ui/metrics/sales.basket/edit"
    page = alice.get(edit)
    assert "Save revision 2" in page.text and ">AVG(amount)</textarea>" in page.text

    same = _post(alice, edit, {**BASKET, "intent": "save"}, edit)
    assert same.status_code == 422 and "the edit changes nothing" in same.text
    r = _post(alice, edit, {**BASKET, "expression": "SUM(amount) / COUNT(*)", "message": "plain mean",
                            "intent": "save"}, edit)
    assert r.status_code == 303
    info = _catalog(world).workflow.get("sales.basket")
    assert info.revision == 2 and info.definition.expression == "SUM(amount) / COUNT(*)"

    r = _post(alice, "/ui/metrics/sales.basket/propose", {"message": "ready"}, edit)
    assert r.status_code == 303 and r.headers["location"] == "/ui/metrics/sales.basket?done=propose#chain"
    assert _catalog(world).workflow.get("sales.basket").status.value == "proposed"
    again = _post(alice, "/ui/metrics/sales.basket/propose", {}, edit)
    assert again.status_code == 409 and "allowed actions" in again.text  # the lifecycle's refusal
    r = _post(alice, "/ui/metrics/sales.basket/withdraw", {"reason": "more data first"}, edit)
    assert r.status_code == 303
    assert _catalog(world).workflow.get("sales.basket").status.value == "draft"


def test_a_person_without_the_right_is_refused_and_sees_nothing_hidden(world: TestClient, ui_lake: Lake) -> None:
    _chain(world)
    _post(_as(world, "alice"), "/ui/metrics/new", {**BASKET, "intent": "save"})

    victor = _as(world, "victor")  # reads sales, may not propose metrics
    refused = _post(victor, "/ui/metrics/new", {**BASKET, "name": "sales.mine", "intent": "save"})
    assert refused.status_code == 403 and "victor may not propose metric sales.mine" in refused.text
    page = victor.get("/ui/metrics/sales.basket")
    assert page.status_code == 200 and 'action="/ui/metrics/sales.basket/propose"' not in page.text
    edit = "/ui/metrics/sales.basket/edit"
    r = _post(victor, edit, {**BASKET, "expression": "MAX(amount)", "intent": "save"}, edit)
    assert r.status_code == 403 and "only its authors, its owner or an admin may" in r.text
    r = _post(victor, "/ui/metrics/sales.basket/propose", {}, "/ui/metrics/sales.basket")
    assert r.status_code == 403
    assert _catalog(world).workflow.get("sales.basket").revision == 1

    zoe = _zoe(world, ui_lake)  # may not discover sales: not offered, and answered as missing
    page = zoe.get("/ui/metrics/new")
    assert "sales.orders" not in page.text
    hidden = _post(zoe, "/ui/metrics/new", {**BASKET, "name": "sales.x", "expression": "SUM(nope)",
                                             "intent": "check"})
    assert hidden.status_code == 422 and "no view or dataset named sales.orders that you can see" in hidden.text
    assert "order_date" not in hidden.text.replace('value="order_date"', "")  # no column of the hidden dataset


def _zoe(client: TestClient, lake: Lake) -> TestClient:
    """A signed-in person who may not discover anything in the sales domain."""
    from access import Action, Resource

    lake.users.create("zoe", roles=["outsider"], password="zoe-pass-12", display_name="Zoe")
    control = _access(client)
    control.sync_users()
    control.deny("outsider", Action.DISCOVER, Resource.domain_("sales"), reason="test", actor="root")
    assert sign_in(client, "zoe", "zoe-pass-12").status_code == 303
    return client


def _meeting_world(world: TestClient) -> None:
    _chain(world)
    alice = _as(world, "alice")
    _post(alice, "/ui/metrics/new", {**BASKET, "intent": "save"})
    _post(alice, "/ui/metrics/sales.basket/propose", {}, "/ui/metrics/sales.basket/edit")


def test_a_meeting_is_scheduled_opened_minuted_and_closed(world: TestClient) -> None:
    _meeting_world(world)
    tina = _as(world, "tina")
    r = _post(tina, "/ui/meetings/sales", {"title": "Sales tech review", "stage": "tech",
                                            "starts_at": "2030-01-07T15:00", "frequency": "weekly",
                                            "interval": "1", "duration_minutes": "45", "location": "Room 4"},
              "/ui/meetings/sales")
    assert r.status_code == 303, r.text
    page = tina.get("/ui/meetings/sales").text
    assert "Sales tech review" in page and "2030-01-07 15:00 UTC" in page and "2030-01-14 15:00 UTC" in page
    assert "On the next agenda" in page and "sales.basket" in page
    meeting = _catalog(world).meetings.list(domain="sales")[0]

    victor = _as(world, "victor")
    assert "Open the next session" not in victor.get("/ui/meetings/sales").text
    r = _post(victor, f"/ui/meetings/sales/{meeting.id}/open", {}, "/ui/meetings/sales")
    assert r.status_code == 403 and "a domain admin or an approver of the meeting" in r.text

    tina = _as(world, "tina")
    r = _post(tina, f"/ui/meetings/sales/{meeting.id}/open", {}, "/ui/meetings/sales")
    assert r.status_code == 303
    session = _catalog(world).meetings.sessions(meeting.id)[0]
    assert _catalog(world).workflow.get("sales.basket").status.value == "in_review"
    page = tina.get("/ui/meetings/sales").text
    assert "Approve sales.basket" in page and "review started" in page

    bruno = _as(world, "bruno")  # not his stage: no form, and a posted decision is refused
    assert "Approve sales.basket" not in bruno.get("/ui/meetings/sales").text
    r = _post(bruno, f"/ui/meetings/sales/sessions/{session.id}/decisions",
              {"metric": "sales.basket", "decision": "approve"}, "/ui/meetings/sales")
    assert r.status_code == 403
    victor = _as(world, "victor")
    r = _post(victor, f"/ui/meetings/sales/sessions/{session.id}/close", {}, "/ui/meetings/sales")
    assert r.status_code == 403

    tina = _as(world, "tina")
    r = _post(tina, f"/ui/meetings/sales/sessions/{session.id}/decisions",
              {"metric": "sales.basket", "decision": "approve", "reason": "numbers match"}, "/ui/meetings/sales")
    assert r.status_code == 303
    info = _catalog(world).workflow.get("sales.basket")
    assert info.status.value == "in_review" and info.stage == "business"
    r = _post(tina, f"/ui/meetings/sales/sessions/{session.id}/notes", {"text": "look at FR next time"},
              "/ui/meetings/sales")
    assert r.status_code == 303
    page = tina.get("/ui/meetings/sales").text
    assert "numbers match" in page and "look at FR next time" in page
    r = _post(tina, f"/ui/meetings/sales/sessions/{session.id}/close", {}, "/ui/meetings/sales")
    assert r.status_code == 303
    page = tina.get("/ui/meetings/sales").text
    assert "Held sessions" in page and "session closed" in page

    ics = tina.get("/ui/meetings/sales/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Sales tech review" in ics.text and "RRULE:FREQ=WEEKLY;INTERVAL=1" in ics.text
    assert _as(world, "victor").get("/ui/meetings/nosuch-domain!").status_code == 404


def test_agenda_items_hidden_from_the_viewer_are_left_out(world: TestClient, ui_lake: Lake) -> None:
    _meeting_world(world)
    catalog = _catalog(world)
    meeting = catalog.meetings.create("sales", title="Tech", stage="tech", actor="tina",
                                      starts_at=dt.datetime(2030, 1, 7, 15, tzinfo=dt.UTC))
    catalog.meetings.open_session(meeting.id, actor="tina")
    assert "sales.basket" in _as(world, "tina").get("/ui/meetings/sales").text
    page = _zoe(world, ui_lake).get("/ui/meetings/sales")
    assert page.status_code == 200 and "Tech" in page.text
    assert "sales.basket" not in page.text and "(a metric you cannot see)" in page.text
    ics = world.get("/ui/meetings/sales/calendar.ics")  # the feed leaves it out too (the API's does as well)
    assert ics.status_code == 200 and "SUMMARY:Tech" in ics.text and "sales.basket" not in ics.text
    assert "sales.basket" in _as(world, "tina").get("/ui/meetings/sales/calendar.ics").text
