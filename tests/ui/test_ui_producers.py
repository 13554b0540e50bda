"""Producer pages: a dataset's quarantine (rows, the rule each broke, the trend), its replay after the
contract is relaxed, freshness on the dataset page and in search results; one rule for who may see
and replay a quarantine, the same on the UI, the API and the CLI."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

from starlette.responses import HTMLResponse, Response
from typer.testing import CliRunner

from lake.service import Lake
from ui.routing import form_outcome

from ui_helpers import TestClient, csrf_of
from ui_world import ORDERS, PASSWORDS

PAGE = "/ui/datasets/sales.orders/quarantine"
BATCH = (b"order_id,order_date,country,amount,email\n"
         b"901,2026-10-07,XX,12.50,zed@example.com\n"   # a country the contract does not allow yet
         b"902,2026-10-07,US,-3.00,\n"                   # a negative amount
         b"903,2026-10-07,DE,8.00,\n")          # good


def _quarantine(lake: Lake) -> None:
    result = lake.ingest("sales.orders", BATCH, "csv", actor="alice", on_error="quarantine")
    assert (result.rows, result.rejected_rows) == (1, 2)


def _relax(lake: Lake, **extra: Any) -> None:
    doc = {**ORDERS, **extra, "columns": [dict(c) for c in ORDERS["columns"]]}
    doc["columns"][2]["allowed"] = ["US", "DE", "FR", "XX"]
    lake.evolve("sales.orders", doc, actor="alice")


def _token(lake: Lake, user: str) -> dict[str, str]:
    token, _ = lake.users.create_token(user, name="producer tests")
    return {"Authorization": f"Bearer {token}"}


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_owner_sees_rows_with_the_rule_each_broke_and_never_pii(world: TestClient, ui_lake: Lake,
                                                                    login: Callable[..., Any]) -> None:
    _quarantine(ui_lake)
    login(world, "alice", PASSWORDS["alice"])
    page = world.get(PAGE)
    assert page.status_code == 200
    text = _text(page.text)
    assert "2 rows" in text and "Replay 2 rows" in text
    assert "country : value not in allowed set ['US', 'DE', 'FR']" in text
    assert "amount : value below minimum 0" in text
    assert "zed@example.com" not in page.text  # PII stays encrypted in quarantine and is never shown
    assert re.search(r"<td>\d{4}-\d\d-\d\d</td><td><code>country</code></td>", page.text)  # the trend by day and rule
    dataset = world.get("/ui/datasets/sales.orders")
    assert f'href="{PAGE}"' in dataset.text and "Last landed" in dataset.text


def test_replay_from_the_page_lands_rows_that_pass_the_relaxed_contract(world: TestClient, ui_lake: Lake,
                                                                        login: Callable[..., Any]) -> None:
    _quarantine(ui_lake)
    login(world, "alice", PASSWORDS["alice"])
    before = ui_lake.read("sales.orders").num_rows
    r = world.post(f"{PAGE}/replay", data={"csrf_token": csrf_of(world.get(PAGE).text)})
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?landed=0&left=2")
    assert ui_lake.read("sales.orders").num_rows == before
    _relax(ui_lake)
    r = world.post(f"{PAGE}/replay", data={"csrf_token": csrf_of(world.get(PAGE).text), "reason": "XX is ok now"})
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?landed=1&left=1")
    assert ui_lake.read("sales.orders").num_rows == before + 1
    assert ui_lake.commits("sales.orders")[0]["reason"] == "XX is ok now"
    done = world.get(r.headers["location"])
    assert "Replay: 1 row landed; 1 row still breaks it and stays in quarantine." in _text(done.text)
    assert "Replay 1 row" in _text(done.text)


def test_a_reader_is_refused_on_the_ui_the_api_and_the_cli_alike(world: TestClient, ui_lake: Lake,
                                                                  login: Callable[..., Any]) -> None:
    _quarantine(ui_lake)
    login(world, "victor", PASSWORDS["victor"])  # reads the sales domain, writes nothing
    page = world.get(PAGE)
    assert page.status_code == 403
    assert "only the dataset's producers" in _text(page.text)
    assert "XX" not in re.sub(r"[A-Za-z0-9_\-]{30,}", "", page.text)  # the rejected value (not inside a random token)
    assert f'href="{PAGE}"' not in world.get("/ui/datasets/sales.orders").text
    refused = world.post(f"{PAGE}/replay", data={"csrf_token": csrf_of(world.get("/ui").text)})
    assert refused.status_code == 403
    api = world.get("/api/v1/datasets/sales.orders/quarantine", headers=_token(ui_lake, "victor"))
    assert (api.status_code, api.json()["error"]["code"]) == (403, "access_denied")
    replay = world.post("/api/v1/datasets/sales.orders/quarantine/replay", headers=_token(ui_lake, "victor"))
    assert replay.status_code == 403
    assert world.get("/ui/datasets/sales.nothing/quarantine").status_code == 404


def test_the_api_and_the_cli_list_and_replay_as_the_page_does(world: TestClient, ui_lake: Lake,
                                                              monkeypatch: Any) -> None:
    _quarantine(ui_lake)
    alice = _token(ui_lake, "alice")
    listed = world.get("/api/v1/datasets/sales.orders/quarantine", headers=alice).json()
    assert (listed["waiting"], [r["row_number"] for r in listed["rows"]]) == (2, [1, 2])
    assert listed["rows"][0]["reasons"][0]["column"] == "country" and "email" not in listed["rows"][0]["values"]
    trend = world.get("/api/v1/datasets/sales.orders/quarantine/trend", headers=alice).json()
    assert sorted((p["column"], p["rows"]) for p in trend) == [("amount", 1), ("country", 1)]
    _relax(ui_lake)
    dry = world.post("/api/v1/datasets/sales.orders/quarantine/replay?dry_run=true", headers=alice).json()
    assert (dry["landed"], dry["commit_id"], len(dry["still_failing"])) == (1, None, 1)

    from api.cli import app as cli
    from lake.settings import get_settings

    monkeypatch.setenv("LAKEGATE_HOME", str(ui_lake.settings.home))
    get_settings.cache_clear()
    runner = CliRunner()
    shown = runner.invoke(cli, ["quarantine", "sales.orders", "--as", "alice"])
    assert shown.exit_code == 0, shown.output
    assert "2 row(s) waiting" in shown.output and "country: value not in allowed set" in shown.output
    refused = runner.invoke(cli, ["quarantine", "sales.orders", "--replay", "--as", "victor"])
    assert refused.exit_code == 1 and "only the dataset's producers" in refused.output
    replayed = runner.invoke(cli, ["quarantine", "sales.orders", "--replay", "--as", "alice"])
    assert replayed.exit_code == 0 and "landed 1 of 2 quarantined row(s)" in replayed.output
    get_settings.cache_clear()
    after = world.get("/api/v1/datasets/sales.orders/quarantine", headers=alice).json()
    assert (after["waiting"], after["replayed"]) == (1, 1)


def test_freshness_against_the_promise_on_the_dataset_page_and_in_search(world: TestClient, ui_lake: Lake,
                                                                        login: Callable[..., Any]) -> None:
    login(world, "victor", PASSWORDS["victor"])
    page = _text(world.get("/ui/datasets/sales.orders").text)
    assert "Last landed landed just now" in page and "promised" not in page  # no promise by default
    _relax(ui_lake, freshness="1d")
    page = _text(world.get("/ui/datasets/sales.orders").text)
    assert "fresh landed just now ; promised every day" in page
    hits = _text(world.get("/ui/search?q=orders").text)
    assert "fresh landed just now" in hits


def test_a_form_may_say_where_its_success_goes_from_the_result() -> None:
    def refused(message: str, status: int) -> Response:
        return HTMLResponse(message, status_code=status)

    r = asyncio.run(form_outcome(lambda: 7, done=lambda n: f"/ui/x?n={n}", refused=refused))
    assert (r.status_code, r.headers["location"]) == (303, "/ui/x?n=7")
