"""The policy as Casbin CSV: an export loads into casbin.Enforcer and decides as
Lakegate does; an import restores it."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.enforcer import casbin_enforcer
from access.errors import InvalidPolicy
from lake.catalog.models import utcnow
from lake.service import Lake

T = Resource.table("ads.conversions")


@pytest.fixture
def policy(lake: Lake, ac: AccessControl, make_dataset: Any) -> AccessControl:
    make_dataset("ads.conversions")
    for name in ("ann", "bob"):
        lake.users.create(name)
        ac.ensure_subject(name)
    ac.create_role("analyst")
    ac.create_role("marketing")
    ac.add_member("analyst", "marketing")
    ac.add_member("marketing", "ann")
    ac.add_member("analyst", "bob", expires_at=utcnow() + dt.timedelta(days=1))
    ac.grant("analyst", Action.READ, Resource.domain_("ads"))
    ac.deny("marketing", Action.READ, Resource.column_of(T, "email"))
    ac.grant("ann", Action.WRITE, T, expires_at=utcnow() + dt.timedelta(days=2))
    ac.set_mask("analyst", Resource.domain_("ads"), Mask(MaskKind.HASH))
    ac.set_row_filter("marketing", T, "country IN ('DE', 'FR') AND revenue > 0")
    return ac


def test_casbin_decides_like_lakegate_on_the_export(policy: AccessControl, make_dataset: Any) -> None:
    make_dataset("hr.pay")  # every dataset's columns are in the export's resource hierarchy (g2)
    enforcer = casbin_enforcer(policy.export_csv())
    resources = [Resource.lake(), Resource.domain_("ads"), T, Resource.table("hr.pay"),
                 Resource.column_of(Resource.table("hr.pay"), "email"),
                 *(Resource.column_of(T, c) for c in ("email", "country", "revenue"))]
    subjects = ["ann", "bob", "analyst", "marketing", "admin", "nobody"]
    checked = 0
    for sub, res, act in itertools.product(subjects, resources, list(Action)):
        assert policy.can(sub, act, res) == enforcer.enforce(sub, res.key, act.value), (sub, res.key, act)
        checked += 1
    assert checked == 6 * 8 * 7
    assert not enforcer.enforce("ann", Resource.column_of(T, "email").key, "read")
    assert enforcer.enforce("ann", Resource.column_of(T, "country").key, "read")


def test_import_restores_the_policy_in_another_lake(policy: AccessControl, tmp_path: Any) -> None:
    from lake.settings import Settings

    text = policy.export_csv()
    other_lake = Lake(Settings(home=tmp_path / "other"))
    try:
        for name in ("ann", "bob"):
            other_lake.users.create(name)
        other = AccessControl(other_lake)
        counts = other.import_csv(text, actor="admin")
        assert counts["grants"] >= 3 and counts["masks"] == 1 and counts["row_filters"] == 1
        cols = [("country", False), ("email", True), ("revenue", False)]
        assert other.table_access("ann", T, cols) == policy.table_access("ann", T, cols)
        assert {(g.line, g.expires_at) for g in other.policies.grants()} == \
            {(g.line, g.expires_at) for g in policy.policies.grants()}
        assert other.import_csv(text, actor="admin")["grants"] == 0  # nothing new the second time
    finally:
        other_lake.close()


def test_import_with_replace_drops_what_the_file_does_not_list(policy: AccessControl) -> None:
    text = "\n".join(line for line in policy.export_csv().splitlines() if "dataset:ads.conversions.email" not in line)
    counts = policy.import_csv(text, replace=True, actor="admin")
    assert counts["removed"] == 1
    assert policy.can("ann", Action.READ, Resource.column_of(T, "email"))


@pytest.mark.parametrize(("line", "message"), [
    ("p, ann, dataset:ads.conversions, read", "line 2: a p line"),
    ("p, ann, dataset:ads.conversions, fly, allow", "line 2: unknown action 'fly'"),
    ("p, Ann, dataset:ads.conversions, read, allow", "line 2: invalid subject name"),
    ("p, ann, table:ads.conversions, read, allow", "line 2: unknown resource kind"),
    ("g2, dataset:ads.conversions, domain:hr", "line 2: dataset:ads.conversions lies under domain:ads"),
    ("x, ann, bob", "line 2: unknown policy type 'x'"),
    ("# lakegate {not json", "line 2: the lakegate note is not JSON"),
    ('# lakegate {"row_filter": {"subject": "ann", "resource": "dataset:ads.x", "predicate": "(select 1)"}}',
     "line 2: row filter"),
])
def test_bad_lines_are_refused_with_their_line_number(policy: AccessControl, line: str, message: str) -> None:
    before = policy.version
    with pytest.raises(InvalidPolicy, match=message.replace("(", r"\(")):
        policy.import_csv("p, ann, dataset:ads.conversions, read, allow\n" + line, actor="admin")
    assert policy.version == before  # nothing of the file was applied
