"""The SQL workspace through the app: completions of what the person may read,
runs and refusals with where the SQL went wrong, history from the audit log
(each person their own), saved queries shared by link (run as the opener),
and the same saved queries over ``/api/v1/queries``.

Runs and downloads that reach Spark are marked ``spark``; the rest plan and
refuse without it (the gateway refuses before any engine starts).
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pyarrow.parquet as pq
import pytest

from access import Mask, MaskKind, Resource
from lake.service import Lake

from ui_helpers import TestClient, app_request, csrf_of, sign_in
from ui_world import PASSWORDS

EMAIL = Resource.column_of(Resource.table("sales.orders"), "email")
ORDERS_SQL = "SELECT order_id, country, email\nFROM sales.orders\nORDER BY order_id"


def _as(client: TestClient, user: str) -> str:
    """Sign ``user`` in; the CSRF token of their workspace page."""
    sign_in(client, user, PASSWORDS[user])
    page = client.get("/ui/workspace")
    assert page.status_code == 200
    return csrf_of(page.text)


def _schema(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="workspace-schema">(.*?)</script>', html, re.S)
    assert found, "the page has no completion data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _error(html: str) -> str:
    found = re.search(r'id="query-error" role="alert">(.*?)</p>', html, re.S)
    assert found, "the page shows no query error"
    return found.group(1)


def _saved_id(location: str) -> str:
    found = re.fullmatch(r"/ui/workspace/saved/([0-9a-f]{32})\?saved=1", location)
    assert found, location
    return found.group(1)


def test_completions_list_only_what_the_person_may_read_with_their_masks(world: TestClient) -> None:
    _as(world, "victor")
    schema = _schema(world.get("/ui/workspace").text)
    tables = {t["name"]: t for t in schema["tables"]}
    assert set(tables) == {"sales.orders"}
    columns = {c["name"]: c for c in tables["sales.orders"]["columns"]}
    assert list(columns) == ["order_id", "order_date", "country", "amount", "email"]
    assert columns["email"]["mask"] == "redact" and columns["amount"]["mask"] is None
    assert columns["amount"]["type"] == "decimal(12,2)"
    assert "SELECT" in schema["keywords"] and "FROM" in schema["keywords"]

    _as(world, "tina")  # no read grant anywhere: nothing to complete, nothing named
    page = world.get("/ui/workspace")
    assert _schema(page.text)["tables"] == []
    assert "sales.orders" not in page.text
    assert "You may not read any table yet" in page.text


def test_a_refused_query_shows_the_gateways_message_and_where(world: TestClient) -> None:
    csrf = _as(world, "victor")
    page = world.post("/ui/workspace/run", data={"csrf_token": csrf, "sql": "SELECT order_id\nFROM sales.orders\nWHERE = 1"})
    assert page.status_code == 422
    assert "syntax error" in _error(page.text) and "(line 3, column 9)" in _error(page.text)
    assert 'data-error-line="3" data-error-col="9"' in page.text
    assert "WHERE = 1</textarea>" in page.text  # the text stays in the editor

    denied = world.post("/ui/workspace/run", data={"csrf_token": csrf, "sql": "SELECT * FROM hr.salaries"})
    assert denied.status_code == 403
    assert "does not exist or you have no read access" in _error(denied.text)

    no_csrf = world.post("/ui/workspace/run", data={"sql": "SELECT 1"})
    assert no_csrf.status_code == 403 and "query-error" not in no_csrf.text


def test_history_is_each_persons_own_and_reopens_in_the_editor(world: TestClient) -> None:
    csrf = _as(world, "victor")
    world.post("/ui/workspace/run", data={"csrf_token": csrf, "sql": "SELECT secret FROM hr.victors_query"})
    page = world.get("/ui/workspace")
    links = re.findall(r'href="/ui/workspace/history/([0-9a-f]{32})"', page.text)
    assert len(links) == 1
    assert "hr.victors_query" in page.text
    reopened = world.get(f"/ui/workspace/history/{links[0]}")
    assert reopened.status_code == 200
    assert "SELECT secret FROM hr.victors_query</textarea>" in reopened.text
    assert "Reopened from your history" in reopened.text

    _as(world, "alice")
    mine = world.get("/ui/workspace")
    assert "victors_query" not in mine.text
    assert re.findall(r'href="/ui/workspace/history/', mine.text) == []
    other = world.get(f"/ui/workspace/history/{links[0]}")
    assert other.status_code == 404 and "victors_query" not in other.text

    api = world.get("/api/v1/queries/history", headers=_token(world, "alice"))
    assert api.status_code == 200 and api.json() == []
    api = world.get("/api/v1/queries/history", headers=_token(world, "victor"))
    assert [h["query_id"] for h in api.json()] == links and api.json()[0]["outcome"] == "access_denied"


def _token(client: TestClient, user: str) -> dict[str, str]:
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    token, _ = lake.users.create_token(user, name="test")
    return {"Authorization": f"Bearer {token}"}


def test_saved_queries_are_private_until_shared_and_only_the_owner_changes_them(world: TestClient) -> None:
    csrf = _as(world, "alice")
    saved = world.post("/ui/workspace/save", data={"csrf_token": csrf, "sql": ORDERS_SQL, "name": "Orders by id"})
    assert saved.status_code == 303
    query_id = _saved_id(saved.headers["location"])
    page = world.get(saved.headers["location"])
    assert "Saved as “Orders by id”." in page.text and 'value="Orders by id"' in page.text
    assert "ORDER BY order_id</textarea>" in page.text
    assert "Share link" not in page.text  # private

    again = world.post("/ui/workspace/save", data={"csrf_token": csrf, "sql": ORDERS_SQL + " DESC",
                                                   "name": "  Orders by id "})
    assert _saved_id(again.headers["location"]) == query_id  # the same name: the same query, new text
    bad = world.post("/ui/workspace/save", data={"csrf_token": csrf, "sql": ORDERS_SQL, "name": "   "})
    assert bad.status_code == 422 and "name: a saved query needs a name" in bad.text

    csrf_v = _as(world, "victor")
    assert world.get(f"/ui/workspace/saved/{query_id}").status_code == 404  # private: as if missing
    assert world.get("/ui/workspace/saved/" + "0" * 32).status_code == 404

    csrf = _as(world, "alice")
    assert world.post(f"/ui/workspace/saved/{query_id}/share",
                      data={"csrf_token": csrf, "shared": "1"}).status_code == 303
    shared_page = world.get(f"/ui/workspace/saved/{query_id}")
    assert f"http://testserver/ui/workspace/saved/{query_id}" in shared_page.text

    csrf_v = _as(world, "victor")
    opened = world.get(f"/ui/workspace/saved/{query_id}")
    assert opened.status_code == 200
    assert "It runs as you" in opened.text and "ORDER BY order_id DESC</textarea>" in opened.text
    assert "Stop sharing" not in opened.text and 'value="Orders by id"' not in opened.text
    refused = world.post(f"/ui/workspace/saved/{query_id}/delete", data={"csrf_token": csrf_v})
    assert refused.status_code == 403 and "only its owner (alice)" in refused.text
    assert "Orders by id" not in world.get("/ui/workspace").text.split('id="saved"')[1]  # not in victor's list

    csrf = _as(world, "alice")
    assert world.post(f"/ui/workspace/saved/{query_id}/delete", data={"csrf_token": csrf}).status_code == 303
    assert world.get(f"/ui/workspace/saved/{query_id}").status_code == 404


def test_saved_queries_over_the_api_follow_the_same_rules(world: TestClient) -> None:
    alice, victor = _token(world, "alice"), _token(world, "victor")
    created = world.post("/api/v1/queries/saved", json={"name": "by country", "sql": "SELECT country FROM sales.orders"},
                         headers=alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["shared"] is False and body["link"] == f"/ui/workspace/saved/{body['id']}"
    assert world.get(f"/api/v1/queries/saved/{body['id']}", headers=victor).status_code == 404
    assert world.patch(f"/api/v1/queries/saved/{body['id']}", json={"shared": True},
                       headers=victor).status_code == 404
    assert world.patch(f"/api/v1/queries/saved/{body['id']}", json={"shared": True},
                       headers=alice).json()["shared"] is True
    assert world.get(f"/api/v1/queries/saved/{body['id']}", headers=victor).json()["sql"] == body["sql"]
    assert world.delete(f"/api/v1/queries/saved/{body['id']}", headers=victor).status_code == 403
    assert [q["name"] for q in world.get("/api/v1/queries/saved", headers=alice).json()] == ["by country"]
    assert world.get("/api/v1/queries/saved", headers=victor).json() == []
    empty = world.post("/api/v1/queries/saved", json={"name": "x", "sql": "  "}, headers=alice)
    assert empty.status_code == 422 and "sql: the query is empty" in empty.text
    assert world.delete(f"/api/v1/queries/saved/{body['id']}", headers=alice).status_code == 204
    assert world.get("/api/v1/queries/saved/nonsense", headers=alice).status_code == 404


# -- with Spark: runs and downloads ---------------------------------------------------------


def _analysts_see_partial(client: TestClient) -> None:
    """Victor's e-mail mask (his role's) differs from alice's: ``partial:4`` against the default ``redact``."""
    from ui import services

    services.access(app_request(client)).set_mask("analyst", EMAIL, Mask(MaskKind.PARTIAL, 4), actor="root")


@pytest.mark.spark
def test_runs_and_downloads_go_through_the_gateway_with_the_persons_masks(world: TestClient) -> None:
    _analysts_see_partial(world)
    csrf = _as(world, "victor")
    page = world.post("/ui/workspace/run", data={"csrf_token": csrf, "sql": ORDERS_SQL})
    assert page.status_code == 200, _error(page.text)
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w\w)</td><td>([^<]*)</td></tr>", page.text)
    assert len(rows) == 36 and rows[0][0] == "1"
    assert all(r[2].endswith(".com") and "@" not in r[2] for r in rows)
    assert 'data-page-rows="50"' in page.text and "36 rows" in page.text

    files = {}
    for fmt in ("csv", "parquet"):
        got = world.post("/ui/workspace/download", data={"csrf_token": csrf, "sql": ORDERS_SQL, "format": fmt})
        assert got.status_code == 200
        assert got.headers["content-disposition"].startswith('attachment; filename="query-')
        files[fmt] = got.content
    as_csv = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    as_parquet = pq.read_table(io.BytesIO(files["parquet"])).to_pylist()
    assert len(as_csv) == len(as_parquet) == 36
    assert [r["email"] for r in as_csv] == [r["email"] for r in as_parquet] == [r[2] for r in rows]
    assert not any("@" in r["email"] for r in as_csv)

    alice_csrf = _as(world, "alice")
    alice_csv = world.post("/ui/workspace/download", data={"csrf_token": alice_csrf, "sql": ORDERS_SQL,
                                                           "format": "csv"})
    alice_emails = [r["email"] for r in csv.DictReader(io.StringIO(alice_csv.text))]
    assert len(alice_emails) == 36 and set(alice_emails) == {"***"}  # her own mask (redact), not victor's

    tina = _as(world, "tina")
    denied = world.post("/ui/workspace/download", data={"csrf_token": tina, "sql": ORDERS_SQL, "format": "csv"})
    assert denied.status_code == 403 and "content-disposition" not in denied.headers
    assert "@example.com" not in denied.text
    unknown = world.post("/ui/workspace/download", data={"csrf_token": tina, "sql": ORDERS_SQL, "format": "xlsx"})
    assert unknown.status_code == 422 and "unknown download format &#39;xlsx&#39;" in unknown.text


@pytest.mark.spark
def test_the_query_api_answers_csv_and_parquet_with_the_same_masks(world: TestClient) -> None:
    victor = _token(world, "victor")
    as_json = world.post("/api/v1/query", json={"sql": ORDERS_SQL}, headers=victor).json()
    as_csv = world.post("/api/v1/query", json={"sql": ORDERS_SQL}, headers={**victor, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    as_parquet = world.post("/api/v1/query", json={"sql": ORDERS_SQL},
                            headers={**victor, "Accept": "application/vnd.apache.parquet"})
    emails = [row[2] for row in as_json["rows"]]
    assert [r["email"] for r in csv.DictReader(io.StringIO(as_csv.text))] == emails
    assert [r["email"] for r in pq.read_table(io.BytesIO(as_parquet.content)).to_pylist()] == emails
    assert not any("@" in e for e in emails)


def test_the_demo_saves_its_shared_queries_once(ui_lake: Lake) -> None:
    from access.saved import SavedQueries
    from demo import personas
    from demo.load import land_demo_queries

    saved = SavedQueries(ui_lake.catalog)
    first = land_demo_queries(saved)
    again = land_demo_queries(saved)
    assert [q.id for q in first] == [q.id for q in again] and all(q.shared for q in again)
    assert {q.name for q in saved.mine("finn")} == {name for _, name, _ in personas.SAVED_QUERIES}
    assert saved.get("ana", first[0].id).sql == personas.SAVED_QUERIES[0][2]  # shared: anyone with the link
