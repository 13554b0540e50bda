"""The demo roles decide as demo/personas.py says."""

from __future__ import annotations

from access import AccessControl, Action, Resource
from demo.definitions import DEMO_CONTRACTS
from demo.load import land_demo_access
from demo.personas import USERS
from lake.service import Lake


def _columns(lake: Lake, name: str) -> list[tuple[str, bool]]:
    return [(c.name, c.pii) for c in lake.datasets.get(name).contract.columns]


def test_demo_roles(lake: Lake, ac: AccessControl) -> None:
    for doc in DEMO_CONTRACTS:
        lake.register(doc, actor="admin")
    first = land_demo_access(lake, ac)
    assert first.added > 40 and first.users == USERS
    assert land_demo_access(lake, ac).added == 0  # idempotent

    subs = Resource.table("subscriptions.subscribers")
    cols = _columns(lake, "subscriptions.subscribers")

    def view(user: str) -> tuple[dict[str, str | None], str | None]:
        t = ac.table_access(user, subs, cols)
        assert t.allowed, (user, t.reason)
        return {c.name: (str(c.mask) if c.mask else None) for c in t.columns}, t.row_filter

    finn, rows = view("finn")
    assert finn["email"] == "decrypt" and finn["full_name"] == "decrypt" and rows is None
    mia, rows = view("mia")
    assert mia["email"] == "hash" and mia["full_name"] == "null" and rows == "`country` IN ('DE', 'FR')"
    ana, rows = view("ana")
    assert ana["email"] == "hash" and ana["full_name"] == "hash" and ana["country"] is None and rows is None
    dev, _ = view("dev")
    assert dev["email"] == "redact"

    titles = ac.table_access("mia", Resource.table("catalog.titles"), _columns(lake, "catalog.titles"))
    assert titles.allowed and titles.row_filter is None  # no country column, no filter there
    assert not ac.table_access("finn", Resource.table("playback.events"), _columns(lake, "playback.events")).allowed
    assert ac.can("dev", Action.WRITE, Resource.table("ads.conversions"))
    assert not ac.can("ana", Action.WRITE, Resource.table("ads.conversions"))
    assert ac.can("dev", Action.PROPOSE, Resource.domain_("ads"))
    assert first.owners["ads.conversions"]
    owner = first.owners["ads.conversions"]
    assert ac.can(owner, Action.ADMIN, Resource.table("ads.conversions"))
