"""Mask rules and row filters that expire, and approving an access request with
PII shown in clear (``reveal_pii``): decrypt masks that expire with the grants,
written in one transaction with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from access import AccessControl, Action, AuditKind, Mask, MaskKind, Resource
from access.models import AccessMask
from access.requests import RequestStatus
from api.authz import access_for
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, Conflict, InvalidInput
from lake.service import Lake

API = "/api/v1"
T = Resource.table("ads.conversions")
COLS = [("conversion_id", False), ("country", False), ("revenue", False), ("email", True),
        ("converted_at", False)]
DECRYPT = Mask(MaskKind.DECRYPT)


def col(name: str) -> Resource:
    return Resource.column_of(T, name)


def shown(ac: AccessControl, subject: str) -> dict[str, str | None]:
    access = ac.table_access(subject, T, COLS)
    return {c.name: (str(c.mask) if c.mask else None) for c in access.columns}


@pytest.fixture
def people(lake: Lake, ac: AccessControl) -> AccessControl:
    for name in ("ann", "bob"):
        lake.users.create(name)
        ac.ensure_subject(name)
    return ac


@pytest.fixture
def setup(lake: Lake, ac: AccessControl, make_dataset: Any) -> AccessControl:
    """ads.conversions (owner: the ads-team role, which olga holds), a requester
    sam, an approver appr (approve on the domain, not admin) and an admin."""
    info = make_dataset("ads.conversions")
    for name, roles in (("sam", []), ("olga", ["ads-team"]), ("appr", []), ("root", ["admin"])):
        lake.users.create(name, roles=roles)
        ac.ensure_subject(name, roles)
    ac.grant_owner(info)
    ac.create_role("approvers")
    ac.add_member("approvers", "appr")
    ac.grant("approvers", Action.APPROVE, Resource.domain_("ads"))
    return ac


# -- expiring mask rules and row filters -----------------------------------------------------


def test_an_expiring_decrypt_mask_applies_until_it_expires(people: AccessControl, clock: Any) -> None:
    ac = people
    ac.grant("ann", Action.READ, T)
    soon = utcnow() + dt.timedelta(minutes=10)
    rule = ac.set_mask("ann", col("email"), DECRYPT, expires_at=soon)
    assert rule.expires_at == soon
    assert shown(ac, "ann")["email"] == "decrypt"
    version = ac.version
    clock.advance(11 * 60)
    assert shown(ac, "ann")["email"] == "redact"  # nobody acted
    assert ac.version == version
    with pytest.raises(InvalidInput, match="in the past"):
        ac.set_mask("ann", col("email"), DECRYPT, expires_at=utcnow() - dt.timedelta(seconds=1))


def test_an_expired_rule_falls_back_to_the_next_most_specific(people: AccessControl, clock: Any) -> None:
    ac = people
    ac.grant("ann", Action.READ, T)
    soon = utcnow() + dt.timedelta(minutes=10)
    ac.set_mask("ann", T, Mask(MaskKind.HASH))  # the PII columns of the table, for good
    ac.set_mask("ann", col("email"), DECRYPT, expires_at=soon)
    ac.set_mask("ann", col("revenue"), Mask(MaskKind.NULL), expires_at=soon)  # a non-PII column
    before = shown(ac, "ann")
    assert (before["email"], before["revenue"]) == ("decrypt", "null")
    clock.advance(11 * 60)
    after = shown(ac, "ann")
    assert (after["email"], after["revenue"]) == ("hash", None)


def test_an_expiring_row_filter_stops_applying(people: AccessControl, clock: Any) -> None:
    ac = people
    ac.grant("ann", Action.READ, T)
    soon = utcnow() + dt.timedelta(minutes=10)
    rule = ac.set_row_filter("ann", T, "country = 'DE'", expires_at=soon)
    assert rule.expires_at == soon
    assert ac.table_access("ann", T, COLS).row_filter == "`country` = 'DE'"
    clock.advance(11 * 60)
    assert ac.table_access("ann", T, COLS).row_filter is None


def test_other_processes_load_and_replay_the_expiry(lake: Lake, people: AccessControl, clock: Any) -> None:
    ac = people
    ac.grant("ann", Action.READ, T)
    ac.grant("bob", Action.READ, T)
    soon = utcnow() + dt.timedelta(minutes=10)
    replaying = AccessControl(Lake(lake.settings), refresh_seconds=0, clock=clock)
    try:
        ac.set_mask("ann", col("email"), DECRYPT, expires_at=soon)
        ac.set_row_filter("bob", T, "country = 'FR'", expires_at=soon)
        loading = AccessControl(Lake(lake.settings), refresh_seconds=0, clock=clock)
        try:
            for other in (replaying, loading):
                assert shown(other, "ann")["email"] == "decrypt"
                assert other.table_access("bob", T, COLS).row_filter == "`country` = 'FR'"
            clock.advance(11 * 60)
            for other in (replaying, loading):
                assert shown(other, "ann")["email"] == "redact"
                assert other.table_access("bob", T, COLS).row_filter is None
        finally:
            loading.lake.close()
    finally:
        replaying.lake.close()


def test_setting_a_mask_without_expiry_makes_it_permanent(people: AccessControl, clock: Any) -> None:
    ac = people
    ac.grant("ann", Action.READ, T)
    ac.set_mask("ann", col("email"), DECRYPT, expires_at=utcnow() + dt.timedelta(minutes=10))
    ac.set_mask("ann", col("email"), Mask(MaskKind.HASH))
    clock.advance(11 * 60)
    assert shown(ac, "ann")["email"] == "hash"
    (rule,) = ac.policies.masks(subject="ann")
    assert rule.expires_at is None


def test_listings_and_csv_leave_out_expired_rules_and_round_trip_expiring_ones(people: AccessControl) -> None:
    ac = people
    later = utcnow() + dt.timedelta(days=2)
    ac.set_mask("ann", col("email"), DECRYPT, expires_at=later)
    ac.set_row_filter("ann", T, "country = 'DE'", expires_at=later)
    ac.set_mask("bob", col("email"), DECRYPT, expires_at=utcnow() + dt.timedelta(minutes=5))
    with ac.lake.catalog.session() as s:  # bob's rule has expired (a past expiry cannot be set)
        s.execute(update(AccessMask).where(AccessMask.subject == "bob")
                  .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    assert [m.subject for m in ac.policies.masks()] == ["ann"]
    assert {m.subject for m in ac.policies.masks(include_expired=True)} == {"ann", "bob"}

    text = ac.export_csv()
    assert '"expires_at"' in text and '"subject": "bob"' not in text
    ac.remove_mask("ann", col("email"))
    ac.remove_row_filter("ann", T)
    counts = ac.import_csv(text)
    assert counts["masks"] == 1 and counts["row_filters"] == 1
    (mask,) = ac.policies.masks()
    assert (mask.subject, mask.mask, mask.expires_at) == ("ann", DECRYPT, later)
    (row_filter,) = ac.policies.row_filters()
    assert (row_filter.predicate, row_filter.expires_at) == ("`country` = 'DE'", later)

    past = (utcnow() - dt.timedelta(days=1)).isoformat()
    stale = ('# lakegate {"mask": {"subject": "bob", "resource": "dataset:ads.conversions.email", '
             f'"mask": "decrypt", "expires_at": "{past}"}}}}\n')
    assert ac.import_csv(stale)["masks"] == 0


# -- approving with PII in clear --------------------------------------------------------------


def test_reveal_pii_shows_the_column_in_clear_until_the_grants_expire(setup: AccessControl, clock: Any) -> None:
    ac = setup
    req = ac.requests.create("sam", T, columns=["country", "email"], reason="follow-up",
                             duration=dt.timedelta(hours=2))
    assert [c.key for c in ac.requests.pii_columns(req)] == [col("email").key]
    done = ac.requests.approve(req.id, "olga", reveal_pii=True)  # olga holds ads-team, the owner (admin)
    assert done.status is RequestStatus.APPROVED
    assert shown(ac, "sam") == {"country": None, "email": "decrypt"}
    (rule,) = ac.policies.masks(subject="sam")
    assert (rule.resource, rule.mask, rule.expires_at) == (col("email"), DECRYPT, done.expires_at)
    assert all(g.expires_at == done.expires_at for g in ac.policies.grants(subject="sam"))
    entry = ac.audit.query(kind=AuditKind.ACCESS_REQUEST, limit=1)[0]
    assert entry.action == "approve" and entry.detail["reveal_pii"] == [col("email").key]
    changes = [e.action for e in ac.audit.query(kind=AuditKind.POLICY_CHANGE, limit=3)]
    assert "add mask" in changes

    clock.advance(2 * 3600 + 1)  # nobody revokes anything
    assert not ac.table_access("sam", T, COLS).allowed
    ac.grant("sam", Action.READ, T, actor="root")  # a later, separate grant (no PII in clear)
    assert shown(ac, "sam") == {"conversion_id": None, "country": None, "revenue": None, "email": "redact",
                                "converted_at": None}


def test_reveal_pii_on_a_whole_table_covers_its_pii_columns(setup: AccessControl) -> None:
    ac = setup
    req = ac.requests.create("sam", T, reason="all of it", duration=dt.timedelta(days=1))
    ac.requests.approve(req.id, "olga", reveal_pii=True)
    assert [(m.resource, m.mask) for m in ac.policies.masks(subject="sam")] == [(col("email"), DECRYPT)]
    assert shown(ac, "sam")["email"] == "decrypt"


def test_without_reveal_pii_the_column_stays_masked(setup: AccessControl) -> None:
    ac = setup
    req = ac.requests.create("sam", T, columns=["email"], reason="x", duration=dt.timedelta(days=1))
    ac.requests.approve(req.id, "olga")
    assert shown(ac, "sam") == {"email": "redact"}
    assert ac.policies.masks(subject="sam") == []
    assert "reveal_pii" not in ac.audit.query(kind=AuditKind.ACCESS_REQUEST, limit=1)[0].detail


def _nothing_written(ac: AccessControl, request_id: int, version: int) -> None:
    assert ac.requests.get(request_id).status is RequestStatus.PENDING
    assert ac.policies.grants(subject="sam", include_expired=True) == []
    assert ac.policies.masks(subject="sam", include_expired=True) == []
    assert ac.version == version and ac.policies.version() == version
    assert not ac.table_access("sam", T, COLS).allowed


def test_an_approver_without_admin_cannot_reveal_and_nothing_is_written(setup: AccessControl) -> None:
    ac = setup
    req = ac.requests.create("sam", T, columns=["email"], reason="x", duration=dt.timedelta(days=1))
    version = ac.version
    with pytest.raises(AccessDenied, match="appr may not admin"):
        ac.requests.approve(req.id, "appr", reveal_pii=True)  # may decide (approve), may not show PII
    _nothing_written(ac, req.id, version)
    denied = ac.audit.query(kind=AuditKind.DECISION, limit=1)[0]
    assert (denied.actor, denied.action, denied.decision.value) == ("appr", "admin", "deny")
    ac.requests.approve(req.id, "appr")  # without PII in clear, appr may
    assert shown(ac, "sam") == {"email": "redact"}


def test_a_failure_inside_the_transaction_writes_neither_grants_nor_masks(
        setup: AccessControl, monkeypatch: pytest.MonkeyPatch) -> None:
    ac = setup
    req = ac.requests.create("sam", T, columns=["country", "email"], reason="x", duration=dt.timedelta(days=1))
    version = ac.version

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the catalog went away")

    monkeypatch.setattr(ac.policies, "set_mask", broken)  # after the decision and the grants
    with pytest.raises(RuntimeError, match="went away"):
        ac.requests.approve(req.id, "olga", reveal_pii=True)
    _nothing_written(ac, req.id, version)


def test_a_different_mask_of_the_requester_is_not_replaced(setup: AccessControl) -> None:
    ac = setup
    ac.set_mask("sam", col("email"), Mask(MaskKind.NULL), actor="root")
    req = ac.requests.create("sam", T, columns=["email"], reason="x", duration=dt.timedelta(days=1))
    version = ac.version
    with pytest.raises(Conflict, match="own null mask"):
        ac.requests.approve(req.id, "olga", reveal_pii=True)
    assert ac.requests.get(req.id).status is RequestStatus.PENDING
    assert ac.policies.grants(subject="sam") == [] and ac.version == version
    assert [str(m.mask) for m in ac.policies.masks(subject="sam")] == ["null"]


def test_a_longer_decrypt_mask_is_kept_and_a_shorter_one_extended(setup: AccessControl) -> None:
    ac = setup
    ac.set_mask("sam", col("email"), DECRYPT, actor="root")  # for good
    req = ac.requests.create("sam", T, columns=["email"], reason="x", duration=dt.timedelta(days=1))
    ac.requests.approve(req.id, "olga", reveal_pii=True)
    assert [m.expires_at for m in ac.policies.masks(subject="sam")] == [None]

    ac.set_mask("sam", col("email"), DECRYPT, expires_at=utcnow() + dt.timedelta(hours=1), actor="root")
    req = ac.requests.create("sam", T, columns=["email"], reason="y", duration=dt.timedelta(days=2))
    done = ac.requests.approve(req.id, "olga", reveal_pii=True)
    assert [m.expires_at for m in ac.policies.masks(subject="sam")] == [done.expires_at]


def test_reveal_pii_needs_a_read_request(setup: AccessControl) -> None:
    ac = setup
    req = ac.requests.create("sam", T, reason="x", action=Action.WRITE, duration=dt.timedelta(days=1))
    version = ac.version
    with pytest.raises(InvalidInput, match="only a read request"):
        ac.requests.approve(req.id, "olga", reveal_pii=True)
    assert ac.requests.get(req.id).status is RequestStatus.PENDING and ac.version == version


def test_rejecting_or_cancelling_adds_nothing(setup: AccessControl) -> None:
    ac = setup
    a = ac.requests.create("sam", T, columns=["email"], reason="a", duration=dt.timedelta(days=1))
    b = ac.requests.create("sam", T, columns=["email"], reason="b", duration=dt.timedelta(days=1))
    version = ac.version
    ac.requests.reject(a.id, "olga")
    ac.requests.cancel(b.id, "sam")
    assert ac.policies.masks(subject="sam", include_expired=True) == []
    assert ac.policies.grants(subject="sam", include_expired=True) == []
    assert ac.version == version


def test_the_api_approves_with_reveal_pii(api: TestClient, tokens: Callable[..., dict[str, str]]) -> None:
    lake: Lake = api.app.state.services.lake  # type: ignore[attr-defined]
    h = {"sal": tokens("sal", ["sales"]), "vic": tokens("vic")}
    info = lake.register({"dataset": "sales.orders", "owner": "sales", "primary_key": ["order_id"],
                          "columns": [{"name": "order_id", "type": "int64", "nullable": False},
                                      {"name": "email", "type": "string", "pii": True}]}, actor="sal")
    access_for(api.app, lake).grant_owner(info)
    body = {"resource": "dataset:sales.orders", "reason": "follow-up", "duration_days": 1}
    rid = api.post(f"{API}/access/requests", json=body, headers=h["vic"]).json()["id"]
    r = api.post(f"{API}/access/requests/{rid}/approve", json={"reveal_pii": True}, headers=h["sal"])
    assert r.status_code == 200, r.text
    masks = api.get(f"{API}/access/masks", params={"subject": "vic"}, headers=h["sal"]).json()
    assert [(m["resource"], m["mask"], m["expires_at"] is not None) for m in masks] == [
        ("dataset:sales.orders.email", "decrypt", True)]
    cols = api.get(f"{API}/access/datasets/sales.orders", headers=h["vic"]).json()["columns"]
    assert {c["name"]: c["mask"] for c in cols}["email"] == "decrypt"
