"""Search through the API (``GET /api/v1/search``) and the web UI's search page:
the same hits, in the same order, and never one the person may not discover,
nor a count or a correction that would tell of it; pages, groups by kind,
typo tolerance."""

from __future__ import annotations

import re
from typing import Any

import pytest

from access import Action, Resource
from lake.service import Lake
from ui import services

from ui_helpers import TestClient, app_request, sign_in
from ui_world import PASSWORDS

API = "/api/v1"
HIDDEN = ("sales.deal_03", "sales.deal_07", "sales.secret_deals")


@pytest.fixture
def deals(world: TestClient, ui_lake: Lake) -> TestClient:
    """30 sales deals and a secret one; victor may not discover three of them."""
    for i in range(30):
        ui_lake.register({"dataset": f"sales.deal_{i:02d}", "owner": "sales", "description": f"Deal number {i}.",
                          "columns": [{"name": "deal_id", "type": "int64"}]}, actor="alice")
    ui_lake.register({"dataset": "sales.secret_deals", "owner": "sales",
                      "description": "Deals under a confidentiality agreement.",
                      "columns": [{"name": "deal_id", "type": "int64"}]}, actor="alice")
    access = services.access(app_request(world))
    for name in HIDDEN:
        access.deny("victor", Action.DISCOVER, Resource.table(name), actor="root")
    return world


def _token(lake: Lake, user: str) -> dict[str, str]:
    token, _ = lake.users.create_token(user, name="search tests")
    return {"Authorization": f"Bearer {token}"}


def _api_pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    keys: list[str] = []
    offset = 0
    while True:
        r = client.get(f"{API}/search", params={**params, "limit": 10, "offset": offset}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        keys += [h["key"] for h in body["hits"]]
        if not body["has_more"]:
            return keys
        offset += 10


def _ui_pages(client: TestClient, **params: Any) -> list[str]:
    keys: list[str] = []
    page = 1
    while True:
        html = client.get("/ui/search", params={**params, "page": page}).text
        keys += [m.replace("#col-", ".") for m in re.findall(r'class="hit-title" href="/ui/(?:datasets|views|metrics)/([^"]+)"',
                                                               html)]
        if 'rel="next"' not in html:
            return keys
        page += 1


def test_api_and_ui_show_the_same_hits_and_none_hidden(deals: TestClient, ui_lake: Lake) -> None:
    victor_api = _token(ui_lake, "victor")
    sign_in(deals, "victor", PASSWORDS["victor"])
    for kind in ("dataset", "column"):
        from_api = _api_pages(deals, victor_api, q="deal", kind=kind)
        from_ui = _ui_pages(deals, q="deal", kind=kind)
        assert from_api == from_ui  # one rule, one order
        assert len(from_api) == 28
        assert not any(key == h or key.startswith(h + ".") for key in from_api for h in HIDDEN)
    # As many visible hits as one page holds: no next page, though hidden ones match too.
    exact = deals.get(f"{API}/search", params={"q": "deal", "kind": "dataset", "limit": 28}, headers=victor_api)
    assert exact.json()["has_more"] is False
    # The owner sees all of them, through both.
    alice_api = _token(ui_lake, "alice")
    assert len(_api_pages(deals, alice_api, q="deal", kind="dataset")) == 31
    sign_in(deals, "alice", PASSWORDS["alice"])
    assert "sales.secret_deals" in _ui_pages(deals, q="deal", kind="dataset")


def test_a_typo_finds_the_dataset_and_a_hidden_word_is_not_suggested(deals: TestClient, ui_lake: Lake) -> None:
    victor_api = _token(ui_lake, "victor")
    r = deals.get(f"{API}/search", params={"q": "ordrs"}, headers=victor_api).json()
    assert r["hits"][0]["key"] == "sales.orders"
    assert r["corrections"] == [{"word": "ordrs", "alternatives": ["orders"]}]
    sign_in(deals, "victor", PASSWORDS["victor"])
    page = deals.get("/ui/search", params={"q": "ordrs"}).text
    assert 'href="/ui/datasets/sales.orders"' in page and "also showing matches for “orders”" in page
    # "confidentiality" is a word of the secret dataset only: no hit, and no correction naming it.
    hidden = deals.get(f"{API}/search", params={"q": "confidentialty"}, headers=victor_api).json()
    assert hidden["hits"] == [] and hidden["corrections"] == [] and hidden["has_more"] is False
    page = deals.get("/ui/search", params={"q": "confidentialty"}).text
    assert "confidentiality" not in page and "0 results" in page
    alice = deals.get(f"{API}/search", params={"q": "confidentialty"}, headers=_token(ui_lake, "alice")).json()
    assert [h["key"] for h in alice["hits"]] == ["sales.secret_deals"]


def test_the_first_page_groups_hits_by_kind(deals: TestClient) -> None:
    sign_in(deals, "victor", PASSWORDS["victor"])
    html = deals.get("/ui/search", params={"q": "deal"}).text
    headings = re.findall(r'<h3 id="group-(\w+)"', html)
    assert headings == ["dataset", "column"]  # datasets first, though there are as many columns
    datasets = html.split('id="group-dataset"')[1].split('id="group-column"')[0]
    assert datasets.count('class="hit"') == 5 and 'href="/ui/search?q=deal&amp;kind=dataset"' in datasets
    assert "secret_deals" not in html
    assert "+" not in re.search(r'<h2 id="results-title">(.*?)</h2>', html).group(1)  # no "25+" dead end
    # The hits are in the page's main part, under the search form, not in its title.
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<" not in title and "deal" in title
    main = html.split('<main', 1)[1]
    assert main.index('role="search"') < main.index('id="group-dataset"')
    # Each kind's checkbox says which kind it is.
    boxes = re.findall(r'<input type="checkbox" name="kind" value="(\w+)"[^>]*> ([^<]+)</label>', html)
    assert boxes == [("dataset", "Datasets"), ("view", "Views"), ("metric", "Metrics"), ("column", "Columns")]


def test_bad_search_input_is_refused_with_where(deals: TestClient, ui_lake: Lake) -> None:
    headers = _token(ui_lake, "victor")
    r = deals.get(f"{API}/search", params={"q": "deal", "kind": "table"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("query.kind")
    r = deals.get(f"{API}/search", params={"q": "deal", "offset": 5000}, headers=headers)
    assert r.status_code == 422 and "offset" in r.json()["error"]["message"]
    sign_in(deals, "victor", PASSWORDS["victor"])
    assert deals.get("/ui/search", params={"q": "deal", "kind": "dataset", "page": 0}).status_code == 422
