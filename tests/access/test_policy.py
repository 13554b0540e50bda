"""AccessControl: decisions over the resource hierarchy, deny override, masks,
row filters, expiry, keeping several processes current."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest

from access import AccessControl, Action, Effect, Mask, MaskKind, Resource, RoleKind
from access.audit import AuditKind
from access.errors import InvalidRowFilter
from access.masks import MaskKind as MK
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, AlreadyExists, Conflict, InvalidInput, NotFound
from lake.service import Lake

T = Resource.table("ads.conversions")
COLS = [("conversion_id", False), ("country", False), ("revenue", False), ("email", True), ("phone", True)]


def col(name: str) -> Resource:
    return Resource.column_of(T, name)


@pytest.fixture
def people(lake: Lake, ac: AccessControl) -> AccessControl:
    for name in ("ann", "bob", "cid"):
        lake.users.create(name)
        ac.ensure_subject(name)
    for role in ("analyst", "marketing", "finance"):
        ac.create_role(role)
    return ac


def names(access: object) -> list[str]:
    return [c.name for c in access.columns]  # type: ignore[attr-defined]


def masks(access: object) -> dict[str, str | None]:
    return {c.name: (str(c.mask) if c.mask else None) for c in access.columns}  # type: ignore[attr-defined]


def test_a_grant_covers_everything_below_it(people: AccessControl) -> None:
    ac = people
    ac.add_member("analyst", "ann")
    ac.grant("analyst", Action.READ, Resource.domain_("ads"))
    assert ac.can("ann", Action.READ, T)
    assert ac.can("ann", Action.READ, col("email"))
    assert ac.can("ann", Action.READ, Resource.view("ads.daily"))
    assert not ac.can("ann", Action.READ, Resource.table("hr.salaries"))
    assert not ac.can("ann", Action.WRITE, T)
    assert not ac.can("bob", Action.READ, T)


def test_deny_overrides_allow_at_every_level(people: AccessControl) -> None:
    ac = people
    ac.add_member("analyst", "ann")
    ac.grant("analyst", Action.READ, Resource.lake())
    ac.deny("ann", Action.READ, Resource.domain_("ads"))
    assert not ac.can("ann", Action.READ, T)
    assert not ac.can("ann", Action.READ, col("country"))
    assert ac.can("ann", Action.READ, Resource.table("hr.salaries"))
    # a deny on a role reaches its members; an allow on the user itself does not beat it
    ac.deny("analyst", Action.READ, Resource.table("hr.salaries"))
    ac.grant("ann", Action.READ, Resource.table("hr.salaries"))
    assert not ac.can("ann", Action.READ, Resource.table("hr.salaries"))


def test_admin_covers_every_action_and_a_deny_of_admin_denies_all(people: AccessControl) -> None:
    ac = people
    ac.grant("ann", Action.ADMIN, Resource.domain_("ads"))
    assert all(ac.can("ann", a, T) for a in Action)
    ac.deny("ann", Action.ADMIN, T)
    assert not any(ac.can("ann", a, col("country")) for a in Action)
    assert ac.can("ann", Action.READ, Resource.table("ads.impressions"))


def test_column_grants_and_column_denies(people: AccessControl) -> None:
    ac = people
    ac.grant("ann", Action.READ, col("country"))
    ac.grant("ann", Action.READ, col("revenue"))
    access = ac.table_access("ann", T, COLS)
    assert access.allowed and names(access) == ["country", "revenue"]
    assert not ac.can("ann", Action.READ, T)  # the table itself is not granted, only columns
    ac.grant("bob", Action.READ, T)
    ac.deny("bob", Action.READ, col("email"))
    assert names(ac.table_access("bob", T, COLS)) == ["conversion_id", "country", "revenue", "phone"]


def test_pii_is_redacted_unless_a_mask_rule_says_otherwise(people: AccessControl) -> None:
    ac = people
    ac.add_member("finance", "ann")
    ac.grant("finance", Action.READ, T)
    assert masks(ac.table_access("ann", T, COLS)) == {
        "conversion_id": None, "country": None, "revenue": None, "email": "redact", "phone": "redact"}
    # a rule on the domain covers its PII columns; a column rule of the same principal wins over it
    ac.set_mask("finance", Resource.domain_("ads"), Mask(MaskKind.DECRYPT))
    ac.set_mask("finance", col("phone"), Mask(MaskKind.PARTIAL, 2))
    ac.set_mask("finance", col("revenue"), Mask(MaskKind.NULL))
    assert masks(ac.table_access("ann", T, COLS)) == {
        "conversion_id": None, "country": None, "revenue": "null", "email": "decrypt", "phone": "partial:2"}


def test_documented_combination_rules(people: AccessControl) -> None:
    """The rules of access/README.md, "How grants combine"."""
    ac = people
    ac.add_member("marketing", "ann")
    ac.grant("marketing", Action.READ, T)
    ac.set_row_filter("marketing", Resource.domain_("ads"), "country IN ('DE', 'FR')")
    ac.set_mask("marketing", col("email"), Mask(MaskKind.HASH))
    only_marketing = ac.table_access("ann", T, COLS)
    assert only_marketing.row_filter == "`country` IN ('DE', 'FR')"
    assert masks(only_marketing)["email"] == "hash"

    # a second filtered grant: rows are the union, masks the most restrictive of the two
    ac.grant("ann", Action.READ, T)
    ac.set_row_filter("ann", T, "country = 'US'")
    ac.set_mask("ann", col("email"), Mask(MaskKind.PARTIAL, 4))
    both = ac.table_access("ann", T, COLS)
    assert both.row_filter == "`country` = 'US' OR `country` IN ('DE', 'FR')"
    assert masks(both)["email"] == "redact"  # hash (marketing) meets partial (ann): neither reveals the other

    # an unfiltered grant covers every row: its masks decide, for every row
    ac.add_member("analyst", "ann")
    ac.grant("analyst", Action.READ, T)
    ac.set_mask("analyst", col("email"), Mask(MaskKind.NULL))
    with_all = ac.table_access("ann", T, COLS)
    assert with_all.row_filter is None
    assert masks(with_all)["email"] == "null"
    assert "analyst" in with_all.reason


def test_a_row_filter_that_cannot_apply_gives_no_rows(people: AccessControl) -> None:
    ac = people
    ac.grant("ann", Action.READ, Resource.domain_("ads"))
    ac.set_row_filter("ann", Resource.domain_("ads"), "region = 'EU'")
    access = ac.table_access("ann", T, COLS)
    assert not access.allowed and "row filters naming columns this table lacks: ann" in access.reason
    assert ac.table_access("ann", Resource.table("ads.regions"), [("region", False), ("x", False)]).allowed


def test_row_filters_are_validated(people: AccessControl) -> None:
    with pytest.raises(InvalidRowFilter, match="subqueries"):
        people.set_row_filter("ann", T, "country IN (SELECT country FROM hr.salaries)")
    with pytest.raises(InvalidInput, match="datasets, views, domains"):
        people.set_row_filter("ann", col("email"), "country = 'DE'")


def test_nothing_granted_is_denied_with_a_reason(people: AccessControl) -> None:
    access = people.table_access("cid", T, COLS)
    assert not access.allowed and access.columns == () and "no grant allows reading" in access.reason
    people.grant("analyst", Action.READ, T)
    people.add_member("analyst", "cid")
    people.deny("cid", Action.READ, T)
    denied = people.table_access("cid", T, COLS)
    assert not denied.allowed and "denied by cid" in denied.reason
    people.grant("bob", Action.READ, T)
    for name, _ in COLS:
        people.deny("bob", Action.READ, col(name))
    assert people.table_access("bob", T, COLS).reason == "every column of dataset:ads.conversions is denied to bob"
    people.grant("ann", Action.READ, col("country"))
    people.set_row_filter("ann", T, "country = 'DE'")
    people.grant("finance", Action.READ, col("revenue"))
    people.add_member("finance", "ann")
    people.set_row_filter("finance", T, "country = 'FR'")
    split = people.table_access("ann", T, COLS)
    assert not split.allowed and "cover different rows" in split.reason


def test_require_raises_and_audits_both_answers(people: AccessControl) -> None:
    people.grant("ann", Action.WRITE, T)
    people.require("ann", Action.WRITE, T)
    with pytest.raises(AccessDenied) as err:
        people.require("bob", Action.WRITE, T)
    assert "bob may not write dataset:ads.conversions" in str(err.value)
    entries = people.audit.query(kind=AuditKind.DECISION, limit=2)
    assert [(e.actor, e.decision.value) for e in entries] == [("bob", "deny"), ("ann", "allow")]


def test_expiring_grants_stop_working_without_anyone_acting(people: AccessControl, clock: object) -> None:
    ac = people
    soon = utcnow() + dt.timedelta(minutes=10)
    ac.grant("ann", Action.READ, T, expires_at=soon)
    ac.add_member("analyst", "bob", expires_at=soon)
    ac.grant("analyst", Action.READ, T)
    assert ac.can("ann", Action.READ, T) and ac.can("bob", Action.READ, T)
    clock.advance(11 * 60)  # type: ignore[attr-defined]
    assert not ac.can("ann", Action.READ, T) and not ac.can("bob", Action.READ, T)
    assert not ac.table_access("ann", T, COLS).allowed
    with pytest.raises(InvalidInput, match="in the past"):
        ac.grant("cid", Action.READ, T, expires_at=utcnow() - dt.timedelta(seconds=1))


def test_another_process_sees_changes_after_refresh(lake: Lake, people: AccessControl) -> None:
    other = AccessControl(Lake(lake.settings), refresh_seconds=0)
    try:
        assert not other.can("ann", Action.READ, T)
        people.grant("ann", Action.READ, T)
        assert other.can("ann", Action.READ, T)
        people.add_member("finance", "ann")
        people.set_mask("finance", col("email"), Mask(MaskKind.DECRYPT))
        people.grant("finance", Action.READ, T)
        assert masks(other.table_access("ann", T, COLS))["email"] == "decrypt"
        people.delete_role("finance")
        assert masks(other.table_access("ann", T, COLS))["email"] == "redact"
        assert other.version == people.version
    finally:
        other.lake.close()


def test_memberships_are_checked(people: AccessControl) -> None:
    ac = people
    ac.add_member("analyst", "marketing")
    with pytest.raises(Conflict, match="cycle"):
        ac.add_member("marketing", "analyst")
    with pytest.raises(NotFound, match="neither a user"):
        ac.add_member("analyst", "zed")
    with pytest.raises(AlreadyExists, match="namespace"):
        ac.create_role("ann")
    chain = [f"level{i}" for i in range(10)]
    for r in chain:
        ac.create_role(r)
    ac.add_member("level0", "ann")
    for member, role in itertools.pairwise(chain[:9]):
        ac.add_member(role, member)  # ann -> level0 -> ... -> level8: nine links, Casbin's limit
    assert "level8" in ac.roles_of("ann")
    with pytest.raises(Conflict, match="chain of 10"):
        ac.add_member("level9", "level8")


def test_new_users_join_everyone_once(lake: Lake, ac: AccessControl) -> None:
    lake.users.create("dee", roles=["producer", "sales"])
    ac.ensure_subject("dee", ["producer", "sales"])
    assert ac.roles_of("dee") == {"everyone", "producer", "sales"}
    assert ac.can("dee", Action.DISCOVER, T) and ac.can("dee", Action.PROPOSE, Resource.domain_("ads"))
    assert ac.policies.role("sales").kind is RoleKind.GROUP
    ac.remove_member("sales", "dee")
    ac.ensure_subject("dee", ["producer", "sales"])  # seen before: the record's roles are not re-added
    assert "sales" not in ac.roles_of("dee")


def test_two_processes_meeting_a_new_user_at_once(lake: Lake, ac: AccessControl) -> None:
    lake.users.create("neo", roles=["crew"])
    others = [AccessControl(Lake(lake.settings), sync_users=False) for _ in range(3)]
    errors: list[Exception] = []

    def meet(access: AccessControl) -> None:
        try:
            access.ensure_subject("neo", ["crew"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=meet, args=(o,)) for o in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in others:
        o.lake.close()
    assert errors == []
    ac.refresh(force=True)
    assert ac.roles_of("neo") == {"everyone", "crew"}


def test_grants_need_known_subjects_and_are_listed(people: AccessControl) -> None:
    with pytest.raises(NotFound):
        people.grant("nobody", Action.READ, T)
    g = people.grant("ann", Action.READ, col("email"), reason="audit")
    with pytest.raises(AlreadyExists):
        people.grant("ann", Action.READ, col("email"))
    assert g in people.policies.grants(resource=T)
    assert g in people.policies.grants(resource=Resource.domain_("ads"))
    assert g not in people.policies.grants(resource=Resource.table("ads.other"))
    w = people.grant("ann", Action.WRITE, T)
    for resource in (T, Resource.domain_("ads"), None):  # the domain's own query and the one of its children
        assert people.policies.grants(resource=resource, action=Action.WRITE) == [w]
        assert people.policies.grants(resource=resource, subject="ann", action=Action.READ) == [g]
    assert people.revoke(w.id or 0) == w
    assert people.revoke(g.id or 0) == g
    assert not people.can("ann", Action.READ, col("email"))
    changes = people.audit.query(kind=AuditKind.POLICY_CHANGE, resource=col("email").key)
    assert [e.action for e in changes] == ["remove grant", "add grant"]


def test_hash_keys_are_per_table_stable_and_secret(lake: Lake, ac: AccessControl, make_dataset: object) -> None:
    make_dataset("ads.conversions")  # type: ignore[operator]
    make_dataset("ads.impressions")  # type: ignore[operator]
    k1 = ac.hash_key(T)
    assert len(k1) == 32 and k1 == ac.hash_key(T)
    assert k1 != ac.hash_key(Resource.table("ads.impressions"))
    info = lake.datasets.get("ads.conversions")
    assert k1 != lake.datasets.data_key(info)  # derived, not the data key itself
    view = Resource.view("ads.daily")
    kv = ac.hash_key(view)
    other = AccessControl(Lake(lake.settings))
    try:
        assert other.hash_key(view) == kv and other.hash_key(T) == k1
    finally:
        other.lake.close()
    with pytest.raises(InvalidInput):
        ac.hash_key(Resource.domain_("ads"))


def test_grant_owner(lake: Lake, ac: AccessControl, make_dataset: object) -> None:
    info = make_dataset("ads.conversions")  # type: ignore[operator]
    lake.users.create("ada", roles=["ads-team"])
    ac.ensure_subject("ada", ["ads-team"])
    assert not ac.can("ada", Action.WRITE, T)
    grant = ac.grant_owner(info)
    assert grant is not None and grant.subject == "ads-team" and grant.effect is Effect.ALLOW
    assert ac.can("ada", Action.WRITE, T) and ac.can("ada", Action.GRANT, T)
    assert ac.grant_owner(info) is None


def test_a_tables_column_keys_are_the_keys_of_its_column_resources() -> None:
    for table in (Resource.table("ads.conversions"), Resource.view("ads.daily")):
        assert table.column_key("Email") == Resource.column_of(table, "email").key
        assert table.lineage_keys == tuple(r.key for r in table.lineage())
        column = Resource.column_of(table, "email")
        assert column.lineage_keys == (table.column_key("email"), *table.lineage_keys)


def test_mask_parsing() -> None:
    assert Mask.parse("partial:3") == Mask(MK.PARTIAL, 3)
    assert Mask.parse("HASH") == Mask(MK.HASH)
    with pytest.raises(InvalidInput, match="expected one of"):
        Mask.parse("scramble")
    with pytest.raises(InvalidInput, match="1 to 64"):
        Mask(MK.PARTIAL, 0)
