"""Access requests: ask, decide, expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from access import AccessControl, Action, AuditKind, Resource
from access.errors import RequestNotPending
from access.requests import RequestStatus
from lake.errors import AccessDenied, InvalidInput, NotFound
from lake.service import Lake

T = Resource.table("ads.conversions")
COLS = [("conversion_id", False), ("country", False), ("revenue", False), ("email", True),
        ("converted_at", False)]


@pytest.fixture
def setup(lake: Lake, ac: AccessControl, make_dataset: Any) -> AccessControl:
    info = make_dataset("ads.conversions")  # owner: ads-team
    for name, roles in (("sam", []), ("olga", ["ads-team"]), ("appr", []), ("eve", [])):
        lake.users.create(name, roles=roles)
        ac.ensure_subject(name, roles)
    ac.grant_owner(info)
    ac.create_role("approvers")
    ac.add_member("approvers", "appr")
    ac.grant("approvers", Action.APPROVE, Resource.domain_("ads"))
    return ac


def test_a_request_approved_by_the_owner_grants_columns_until_it_expires(setup: AccessControl, clock: Any) -> None:
    ac = setup
    req = ac.requests.create("sam", T, columns=["country", "Revenue"], reason="weekly report",
                             duration=dt.timedelta(hours=2))
    assert req.status is RequestStatus.PENDING and req.columns == ("country", "revenue")
    assert not ac.table_access("sam", T, COLS).allowed
    done = ac.requests.approve(req.id, "olga", note="ok")  # olga holds ads-team, the owner
    assert done.status is RequestStatus.APPROVED and done.decided_by == "olga" and done.expires_at is not None
    access = ac.table_access("sam", T, COLS)
    assert [c.name for c in access.columns] == ["country", "revenue"]
    clock.advance(2 * 3600 + 1)
    assert not ac.table_access("sam", T, COLS).allowed  # nobody revoked anything
    assert ac.requests.get(req.id).expired(done.expires_at + dt.timedelta(seconds=1))  # type: ignore[operator]


def test_an_approver_may_decide_and_shorten(setup: AccessControl) -> None:
    req = setup.requests.create("sam", T, reason="debugging", duration=dt.timedelta(days=30))
    done = setup.requests.approve(req.id, "appr", duration=dt.timedelta(days=1))
    assert done.duration == dt.timedelta(days=1)
    assert setup.can("sam", Action.READ, T)
    grants = setup.policies.grants(subject="sam")
    assert len(grants) == 1 and grants[0].request_id == req.id and grants[0].expires_at == done.expires_at


def test_every_decision_is_dated_by_the_access_clock(setup: AccessControl, clock: Any) -> None:
    clock.advance(3 * 86400)  # the access layer's time, three days ahead of the wall clock
    on_clock = dt.datetime.fromtimestamp(clock(), dt.UTC)
    approved = setup.requests.approve(setup.requests.create("sam", T, reason="a").id, "appr")
    rejected = setup.requests.reject(setup.requests.create("sam", T, reason="b").id, "appr")
    cancelled = setup.requests.cancel(setup.requests.create("sam", T, reason="c").id, "sam")
    assert [r.decided_at for r in (approved, rejected, cancelled)] == [on_clock] * 3


def test_who_may_decide(setup: AccessControl) -> None:
    req = setup.requests.create("sam", T, reason="x")
    with pytest.raises(AccessDenied, match="own request"):
        setup.requests.approve(req.id, "sam")
    with pytest.raises(AccessDenied, match="only the owner"):
        setup.requests.approve(req.id, "eve")
    setup.requests.reject(req.id, "appr", note="use the aggregate view")
    with pytest.raises(RequestNotPending):
        setup.requests.approve(req.id, "olga")
    assert not setup.can("sam", Action.READ, T)
    assert setup.requests.get(req.id).decision_note == "use the aggregate view"


def test_cancel_and_listing(setup: AccessControl) -> None:
    a = setup.requests.create("sam", T, reason="a")
    b = setup.requests.create("eve", T, reason="b")
    with pytest.raises(AccessDenied):
        setup.requests.cancel(a.id, "eve")
    assert setup.requests.cancel(a.id, "sam").status is RequestStatus.CANCELLED
    assert [r.id for r in setup.requests.list(status=RequestStatus.PENDING)] == [b.id]
    assert [r.id for r in setup.requests.list(requester="sam")] == [a.id]
    trail = setup.audit.query(kind=AuditKind.ACCESS_REQUEST, limit=10)
    assert [e.action for e in trail][:3] == ["cancel", "request", "request"]


def test_requests_are_validated(setup: AccessControl) -> None:
    with pytest.raises(InvalidInput, match="no column"):
        setup.requests.create("sam", T, columns=["salary"], reason="x")
    with pytest.raises(InvalidInput, match="reason"):
        setup.requests.create("sam", T, reason=" ")
    with pytest.raises(InvalidInput, match="duration"):
        setup.requests.create("sam", T, reason="x", duration=dt.timedelta(days=400))
    with pytest.raises(InvalidInput, match="cannot be requested"):
        setup.requests.create("sam", T, reason="x", action=Action.ADMIN)
    with pytest.raises(NotFound):
        setup.requests.create("sam", Resource.table("ads.nothing"), reason="x")
    with pytest.raises(NotFound):
        setup.requests.get(999)


def test_approving_twice_does_not_shorten_a_longer_grant(setup: AccessControl) -> None:
    long = setup.requests.create("sam", T, reason="x", duration=dt.timedelta(days=10))
    setup.requests.approve(long.id, "appr")
    short = setup.requests.create("sam", T, reason="y", duration=dt.timedelta(days=1))
    setup.requests.approve(short.id, "appr")
    (grant,) = setup.policies.grants(subject="sam")
    assert grant.request_id == long.id


def test_owners_hear_of_a_request_and_the_requester_of_its_decision_and_expiry(setup: AccessControl,
                                                                               clock: Any) -> None:
    ac = setup
    inbox = ac.notifier.inbox
    req = ac.requests.create("sam", T, reason="weekly report", duration=dt.timedelta(hours=2))
    # The owner team (ads-team: olga) is told; appr may decide too but owns nothing; nobody else.
    assert [n.kind.value for n in inbox.list("olga", open_only=True)] == ["access_requested"]
    assert inbox.list("appr") == [] and inbox.list("eve") == [] and inbox.list("sam") == []
    ac.requests.approve(req.id, "appr", note="fine")
    assert inbox.list("olga", open_only=True) == [] and inbox.list("olga")[0].done
    [decided] = inbox.list("sam")
    assert (decided.payload["decision"], decided.payload["by"], decided.about) == ("approved", "appr", T.key)
    assert ac.requests.notice_expired() == []  # not expired yet
    clock.advance(2 * 3600 + 1)
    assert ac.requests.notice_expired() == [req.id]
    assert ac.requests.notice_expired() == []  # told once
    assert [n.payload["decision"] for n in inbox.list("sam")] == ["expired", "approved"]
    # A request nobody owns goes to those who may decide it.
    other = ac.requests.create("sam", Resource.domain_("ads"), reason="everything in ads")
    assert [n.payload["request"] for n in inbox.list("appr", open_only=True)] == [other.id]
    ac.requests.cancel(other.id, "sam")
    assert inbox.list("appr", open_only=True) == []
    assert inbox.list("sam")[0].payload["decision"] == "cancelled"
