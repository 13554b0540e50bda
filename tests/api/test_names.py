"""Names are matched whole: a trailing newline makes a name invalid, not a look-alike."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from access.resources import Resource
from access.values import check_subject
from api.app import API_PREFIX as API
from lake.contracts import split_dataset_name
from lake.errors import LakegateError
from views.names import parse_view_name

Headers = dict[str, str]


def test_a_look_alike_user_with_a_trailing_newline_is_refused(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/users", json={"name": "root\n", "roles": ["admin"]}, headers=auth["root"])
    assert r.status_code == 422, r.text
    assert [u["name"] for u in client.get(f"{API}/users", headers=auth["root"]).json()].count("root") == 1


def test_a_grant_to_a_name_with_a_newline_is_refused_and_the_policy_round_trips(
        client: TestClient, auth: dict[str, Headers], orders: Any) -> None:
    r = client.post(f"{API}/access/grants", json={"subject": "evil\n", "action": "read",
                                                  "resource": "dataset:sales.orders"}, headers=auth["root"])
    assert r.status_code in (404, 422), r.text
    exported = client.get(f"{API}/access/policy", headers=auth["root"])
    assert exported.status_code == 200
    r = client.post(f"{API}/access/policy", content=exported.text,
                    headers={**auth["root"], "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text


def test_a_dataset_name_with_a_newline_is_not_found_and_names_no_path(client: TestClient, auth: dict[str, Headers],
                                                                      orders: Any, make_contract: Any) -> None:
    r = client.post(f"{API}/datasets", json=make_contract("sales.refunds\n"), headers=auth["alice"])
    assert r.status_code == 422, r.text
    for url in (f"{API}/datasets/sales.orders%0A", f"{API}/datasets/sales.orders%0A/history"):
        r = client.get(url, headers=auth["alice"])
        assert r.status_code in (403, 404, 422), r.text
        assert "/" not in r.json()["error"]["message"].replace("sales.orders", "")


@pytest.mark.parametrize("check", [
    lambda: split_dataset_name("sales.orders\n"),
    lambda: Resource.table("sales\n.orders"),
    lambda: check_subject("evil\n"),
    lambda: parse_view_name("sales.v@v1\n"),
])
def test_domain_name_checks_refuse_a_trailing_newline(check: Any) -> None:
    with pytest.raises(LakegateError):
        check()
