"""The subscriber registry on SQLite and PostgreSQL catalogs (local mode: policies are
computed and recorded, vending is refused): principals, bindings, suspension, deletion,
the policy change hook, and the records of vended credentials."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from access import AccessControl, Action, Resource
from access.subscribers import Subscribers, SubscriberStatus, SubscriberSuspended, VendingUnavailable
from access.subscribers.models import CredentialRow, SubscriberRow
from access.subscribers.policy_sync import policy_changed
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, AlreadyExists, AuthenticationError, InvalidInput, NotFound
from lake.service import Lake

from factories import contract_doc

CLICKS = {
    "dataset": "ads.clicks", "owner": "ads-team", "primary_key": ["click_id"],
    "columns": [{"name": "click_id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}],
}


@pytest.fixture
def subs(any_lake: Lake) -> Subscribers:
    any_lake.register(contract_doc("ads.conversions"), actor="admin")
    any_lake.register(CLICKS, actor="admin")
    any_lake.users.create("admin", roles=["admin"])
    any_lake.users.create("olga")
    access = AccessControl(any_lake)
    for role in ("analyst", "data-eng"):
        access.create_role(role)
    access.add_member("data-eng", "olga")
    access.add_change_listener(policy_changed)  # wired as the composition root does
    return Subscribers(access)


def test_create_list_and_refusals(subs: Subscribers) -> None:
    sub = subs.create("etl", "emr", owner="data-eng", roles=["analyst"], description="nightly", actor="admin")
    assert (sub.name, sub.kind.value, sub.subject, sub.owner, sub.roles) == (
        "etl", "emr", "sub.etl", "data-eng", ("analyst",))
    assert subs.lake.users.get("sub.etl").kind.value == "service"
    assert subs.access.roles_of("sub.etl") == {"analyst", "everyone"}
    assert [s.name for s in subs.list()] == ["etl"]
    with pytest.raises(AlreadyExists, match="subscriber etl already exists"):
        subs.create("etl", "emr", owner="data-eng", actor="admin")
    with pytest.raises(InvalidInput, match="kind 'spark'; expected one of: redshift, emr, sagemaker"):
        subs.create("x", "spark", owner="data-eng")
    with pytest.raises(InvalidInput, match=r"invalid subscriber name 'Bad\.Name'"):
        subs.create("Bad.Name", "emr", owner="data-eng")
    with pytest.raises(NotFound, match="nobody"):
        subs.create("x", "emr", owner="nobody")
    with pytest.raises(NotFound, match="no-such-role"):
        subs.create("x", "emr", owner="data-eng", roles=["no-such-role"])
    assert [s.name for s in subs.list()] == ["etl"]  # the refused ones left nothing behind
    subs.lake.users.create("sub.taken")
    with pytest.raises(AlreadyExists, match=r"principal sub\.taken exists"):
        subs.create("taken", "emr", owner="data-eng")


def test_who_may_act_for_a_subscriber(subs: Subscribers) -> None:
    sub = subs.create("etl", "emr", owner="data-eng", actor="admin")
    subs.lake.users.create("vic")
    assert subs.registry.may_act_for("olga", sub)  # holds the owner role
    assert subs.registry.may_act_for("sub.etl", sub)
    assert subs.registry.may_act_for("admin", sub)
    assert not subs.registry.may_act_for("vic", sub)


def test_policy_follows_grants_through_the_change_hook(subs: Subscribers) -> None:
    access = subs.access
    subs.create("etl", "emr", owner="data-eng", roles=["analyst"], actor="admin")
    assert subs.get("etl").policy_tables == ()
    grant = access.grant("analyst", Action.READ, Resource.domain_("ads"))
    assert subs.get("etl").policy_tables == ("dataset:ads.clicks@v1",)  # conversions has PII: redacted
    plan = subs.plan_policy("etl")
    assert [(d.table.name, d.reasons) for d in plan.governed] == [
        ("ads.conversions", ("PII column email is masked (redact)",))]
    access.set_row_filter("analyst", Resource.table("ads.clicks"), "country = 'DE'")
    assert subs.get("etl").policy_tables == ()
    access.remove_row_filter("analyst", Resource.table("ads.clicks"))
    assert subs.get("etl").policy_tables == ("dataset:ads.clicks@v1",)
    subs.unbind("etl", "analyst", actor="admin")
    assert subs.get("etl").policy_tables == () and subs.get("etl").roles == ()
    subs.bind("etl", "analyst", actor="admin")
    assert subs.get("etl").policy_tables == ("dataset:ads.clicks@v1",)
    with pytest.raises(VendingUnavailable, match="needs the lake in S3"):
        subs.vend("etl", ["ads.clicks"], actor="admin")
    access.revoke(grant.id)  # type: ignore[arg-type]
    assert subs.get("etl").policy_tables == ()
    with pytest.raises(AccessDenied, match=r"may not read table ads\.clicks"):
        subs.vend("etl", ["ads.clicks"], actor="admin")


def test_policy_valid_until_the_first_expiry(subs: Subscribers) -> None:
    access = subs.access
    soon = utcnow().replace(microsecond=0) + dt.timedelta(hours=2)
    access.grant("analyst", Action.READ, Resource.table("ads.clicks"), expires_at=soon)
    subs.create("etl", "emr", owner="data-eng", roles=["analyst"], actor="admin")
    subs.create("bi", "sagemaker", owner="data-eng", actor="admin")
    assert subs.get("etl").policy_valid_until == soon
    assert subs.get("bi").policy_valid_until is None
    assert subs.sync_policies(due_only=True) == []
    with subs.lake.catalog.session() as s:  # as if the grant's expiry had passed
        s.execute(update(SubscriberRow).where(SubscriberRow.name == "etl")
                  .values(policy_valid_until=utcnow() - dt.timedelta(seconds=1)))
    assert [p.plan.subscriber.name for p in subs.sync_policies(due_only=True)] == ["etl"]


def test_suspend_resume_delete(subs: Subscribers) -> None:
    access, lake = subs.access, subs.lake
    subs.create("etl", "emr", owner="data-eng", roles=["analyst"], actor="admin")
    access.grant("analyst", Action.READ, Resource.table("ads.clicks"))
    direct = access.grant("sub.etl", Action.READ, Resource.table("ads.conversions"))
    token, _ = lake.users.create_token("sub.etl")
    assert lake.users.authenticate(token).name == "sub.etl"

    sub = subs.suspend("etl", actor="admin")
    assert sub.status is SubscriberStatus.SUSPENDED and sub.policy_tables == ()
    with pytest.raises(AuthenticationError):
        lake.users.authenticate(token)
    with pytest.raises(SubscriberSuspended, match="subscriber etl is suspended"):
        subs.export("etl", "ads.clicks", actor="admin")
    access.grant("analyst", Action.READ, Resource.table("ads.conversions"))  # the hook skips it
    assert subs.get("etl").policy_tables == ()
    sub = subs.resume("etl", actor="admin")
    assert sub.active and sub.policy_tables == ("dataset:ads.clicks@v1",)
    assert lake.users.authenticate(token).name == "sub.etl"

    subs.delete("etl", actor="admin")
    with pytest.raises(NotFound):
        subs.get("etl")
    with pytest.raises(AuthenticationError):
        lake.users.authenticate(token)
    assert access.roles_of("sub.etl") == frozenset()
    assert all(g.id != direct.id for g in access.policies.grants(subject="sub.etl"))
    again = subs.create("etl", "sagemaker", owner="data-eng", actor="admin")  # the name is free again
    assert again.kind.value == "sagemaker" and again.roles == ()


def test_active_credentials_never_include_expired_ones(subs: Subscribers) -> None:
    subs.create("etl", "emr", owner="data-eng", actor="admin")
    now = utcnow()
    with subs.lake.catalog.session() as s:
        for i, (issued, lasts) in enumerate([(-3600, 900), (-600, 900), (-10, 5), (0, 3600)]):
            s.add(CredentialRow(subscriber="etl", tables=["dataset:ads.clicks@v1"], role_arn="arn:x",
                                access_key_prefix=f"ASIA000{i}", session_name=f"s{i}", issued_by="admin",
                                issued_at=now + dt.timedelta(seconds=issued),
                                expires_at=now + dt.timedelta(seconds=issued + lasts)))
    active = subs.credentials("etl")
    assert [c.access_key_prefix for c in active] == ["ASIA0003", "ASIA0001"]
    assert all(c.expires_at > utcnow() for c in active)
    assert len(subs.credentials("etl", include_inactive=True)) == 4
    subs.suspend("etl", actor="admin")
    assert subs.credentials("etl") == []
    revoked = [c for c in subs.credentials("etl", include_inactive=True) if c.revoked_at is not None]
    assert sorted(c.access_key_prefix for c in revoked) == ["ASIA0001", "ASIA0003"]
