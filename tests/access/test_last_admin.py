"""The last administrator cannot be locked out: a change that would leave no active
user with ``admin`` on the lake is refused (409), through every way of removing it."""

from __future__ import annotations

import pytest

from access.policy import AccessControl
from access.resources import Action, Resource
from lake.errors import Conflict
from lake.service import Lake

LAKE = Resource.lake()


@pytest.fixture
def access(lake: Lake) -> AccessControl:
    lake.users.create("root", roles=["admin"])
    lake.users.create("ana")
    return AccessControl(lake)


def _admin_grant(access: AccessControl) -> int:
    [grant] = [g for g in access.policies.grants(resource=LAKE) if g.action is Action.ADMIN and g.subject == "admin"]
    assert grant.id is not None
    return grant.id


def test_the_last_admin_grant_cannot_be_revoked(access: AccessControl) -> None:
    with pytest.raises(Conflict, match="no active user with admin"):
        access.revoke(_admin_grant(access))
    assert access.can("root", Action.ADMIN, LAKE)


def test_nor_removed_by_deleting_the_role_a_membership_a_deny_or_an_import(access: AccessControl) -> None:
    with pytest.raises(Conflict):
        access.delete_role("admin")
    with pytest.raises(Conflict):
        access.remove_member("admin", "root")
    with pytest.raises(Conflict):
        access.deny("everyone", Action.ADMIN, LAKE)
    with pytest.raises(Conflict):  # the API needs discover on the lake too
        access.deny("root", Action.DISCOVER, LAKE)
    with pytest.raises(Conflict):
        access.import_csv("p, ana, lake, read, allow\n", replace=True)
    assert access.can("root", Action.ADMIN, LAKE)


def test_it_can_go_once_another_user_is_admin(access: AccessControl) -> None:
    access.grant("ana", Action.ADMIN, LAKE)
    access.revoke(_admin_grant(access))
    assert not access.can("root", Action.ADMIN, LAKE) and access.can("ana", Action.ADMIN, LAKE)
    [grant] = list(access.policies.grants(subject="ana", resource=LAKE))
    assert grant.id is not None
    with pytest.raises(Conflict):
        access.revoke(grant.id)


def test_a_lake_without_administrators_can_still_change(lake: Lake) -> None:
    lake.users.create("ana")
    access = AccessControl(lake)
    grant = access.grant("ana", Action.READ, LAKE)
    assert grant.id is not None
    access.revoke(grant.id)
