"""Redshift grants, applied for real: the generated plan (rendered for PostgreSQL) runs on the
PostgreSQL server, and for every (role, view) pair ``has_table_privilege`` equals
Lakegate's decision; after grants change, the ``sync`` difference brings it in line again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers import RedshiftPlan, Subscribers, Target, raw_decision
from access.subscribers.policy_sync import policy_changed
from access.subscribers.settings import SubscriberSettings
from access.subscribers.tables import find_table
from lake.service import Lake
from lake.settings import Settings
from views.definition import Materialization, ViewDefinition
from views.registry import apply

from factories import contract_doc

pytestmark = pytest.mark.postgres

CAMPAIGNS = {
    "dataset": "ads.campaigns", "owner": "ads-team", "primary_key": ["campaign_id"],
    "columns": [{"name": "campaign_id", "type": "int64", "nullable": False},
                {"name": "name", "type": "string"},
                {"name": "budget", "type": "decimal(12,2)"}],
}
SALARIES = {
    "dataset": "hr.salaries", "owner": "hr-team", "primary_key": ["employee_id"],
    "columns": [{"name": "employee_id", "type": "int64", "nullable": False},
                {"name": "salary", "type": "decimal(12,2)"}],
}
ROLES = ("analyst", "marketing", "people", "auditor")
TABLES = ("ads.conversions", "ads.campaigns", "ads.campaign_names", "hr.salaries")


@dataclass
class PgWorld:
    lake: Lake
    access: AccessControl
    subs: Subscribers
    conn: Any
    prefix: str

    def apply(self, plan: RedshiftPlan) -> None:
        with self.conn.transaction():
            for statement in plan.statements:
                self.conn.execute(statement)

    def pg_role(self, role: str) -> str:
        return self.prefix + role


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[PgWorld]:
    import psycopg

    lake = Lake(Settings(home=tmp_path / "home"))
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.register(CAMPAIGNS, actor="admin")
    lake.register(SALARIES, actor="admin")
    apply(lake, [ViewDefinition("ads.campaign_names", "SELECT c.campaign_id, c.name FROM ads.campaigns AS c",
                                owner="ads-team", materialization=Materialization.VIRTUAL)],
          actor="admin", spark_check=False)
    lake.users.create("admin", roles=["admin"])
    access = AccessControl(lake)
    for role in ROLES:
        access.create_role(role)
    prefix = f"lg{uuid.uuid4().hex[:8]}_"
    access.add_change_listener(policy_changed)  # wired as the composition root does
    subs = Subscribers(access, settings=SubscriberSettings(redshift_role_prefix=prefix))
    conn = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    try:
        yield PgWorld(lake, access, subs, conn, prefix)
    finally:
        for schema in ("ads", "hr", "lake_ads", "lake_hr"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for role in ROLES:
            conn.execute(f'DROP ROLE IF EXISTS "{prefix}{role}"')
        conn.close()
        lake.close()


def _privileges(world: PgWorld) -> dict[tuple[str, str], bool]:
    """``has_table_privilege`` for every (role, view) pair in the Lakegate schemas."""
    views = [f"{s}.{n}" for s, n in world.conn.execute(
        "SELECT table_schema, table_name FROM information_schema.views WHERE table_schema IN ('ads', 'hr')")]
    out = {}
    for role in ROLES:
        for view in views:
            schema, name = view.split(".")
            row = world.conn.execute("SELECT has_table_privilege(%s, format('%%I.%%I', %s::text, %s::text), "
                                     "'SELECT')", (world.pg_role(role), schema, name)).fetchone()
            out[(role, view)] = bool(row[0])
    return out


def _decisions(world: PgWorld) -> dict[tuple[str, str], bool]:
    """Lakegate's decision for every (role, exposed table): may it read the table raw?"""
    exposed = {o.spec["schema"] + "." + o.spec["name"] for o in world.subs.redshift.wanted(
        world.subs.get("warehouse"), write_manifests=False)[0] if o.kind.value == "view"}
    out = {}
    for role in ROLES:
        for name in exposed:
            table = find_table(world.lake, name)
            out[(role, name)] = raw_decision(world.access, role, table, need_files=table.table_uri is not None).raw
    return out


def test_every_role_view_pair_matches_lakegate(world: PgWorld) -> None:
    access, subs = world.access, world.subs
    ads = Resource.domain_("ads")
    campaigns, names = Resource.table("ads.campaigns"), Resource.view("ads.campaign_names")
    access.grant("analyst", Action.READ, ads)
    access.set_mask("analyst", ads, Mask(MaskKind.DECRYPT))  # PII of ads in clear
    access.grant("marketing", Action.READ, campaigns)
    access.set_row_filter("marketing", campaigns, "budget < 1000")  # filtered: no Redshift grant
    names_grant = access.grant("marketing", Action.READ, names)
    access.grant("people", Action.READ, Resource.table("hr.salaries"))
    access.grant("auditor", Action.READ, Resource.lake())
    access.set_mask("auditor", ads, Mask(MaskKind.HASH))  # PII hashed: no grant on conversions
    subs.create("warehouse", "redshift", owner="admin", roles=list(ROLES), actor="admin")

    first = subs.redshift_sync("warehouse", target=Target.POSTGRES)
    assert not first.skipped, first.skipped
    world.apply(first)
    expected = {
        ("analyst", "ads.conversions"): True, ("analyst", "ads.campaigns"): True,
        ("analyst", "ads.campaign_names"): True, ("analyst", "hr.salaries"): False,
        ("marketing", "ads.conversions"): False, ("marketing", "ads.campaigns"): False,
        ("marketing", "ads.campaign_names"): True, ("marketing", "hr.salaries"): False,
        ("people", "ads.conversions"): False, ("people", "ads.campaigns"): False,
        ("people", "ads.campaign_names"): False, ("people", "hr.salaries"): True,
        ("auditor", "ads.conversions"): False, ("auditor", "ads.campaigns"): True,
        ("auditor", "ads.campaign_names"): True, ("auditor", "hr.salaries"): True,
    }
    assert _decisions(world) == expected
    assert _privileges(world) == expected
    assert subs.redshift_sync("warehouse", target=Target.POSTGRES).statements == ()  # nothing changed

    # Grants change: the analyst loses clear PII (conversions leaves the cluster: no role,
    # not even the subscriber, may read it raw now), people gain campaigns, marketing
    # loses the view, the auditor's row filter on hr takes salaries away from it.
    access.remove_mask("analyst", ads)
    access.grant("people", Action.READ, campaigns)
    access.revoke(names_grant.id)  # type: ignore[arg-type]
    access.set_row_filter("auditor", Resource.domain_("hr"), "salary < 10")
    second = subs.redshift_sync("warehouse", target=Target.POSTGRES)
    assert not any(s.startswith(("CREATE ROLE", "DROP ROLE", "CREATE SCHEMA")) for s in second.statements)
    assert 'DROP VIEW IF EXISTS "ads"."conversions"' in second.statements
    assert 'GRANT SELECT ON TABLE "ads"."campaigns" TO "' + world.pg_role("people") + '"' in second.statements
    assert [s.table for s in second.skipped] == ["ads.conversions"]
    assert "PII column email is masked" in second.skipped[0].reason
    world.apply(second)
    decided = _decisions(world)
    assert decided == {
        ("analyst", "ads.campaigns"): True, ("analyst", "ads.campaign_names"): True,
        ("analyst", "hr.salaries"): False,
        ("marketing", "ads.campaigns"): False, ("marketing", "ads.campaign_names"): False,
        ("marketing", "hr.salaries"): False,
        ("people", "ads.campaigns"): True, ("people", "ads.campaign_names"): False,
        ("people", "hr.salaries"): True,
        ("auditor", "ads.campaigns"): True, ("auditor", "ads.campaign_names"): True,
        ("auditor", "hr.salaries"): False,
    }
    assert _privileges(world) == decided

    # Deleting the subscriber hands back the statements that remove it all.
    _, teardown = subs.delete("warehouse", actor="admin", target=Target.POSTGRES)
    assert teardown is not None
    world.apply(teardown)
    left = world.conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                              (world.prefix + "%",)).fetchone()
    assert left[0] == 0
    assert world.conn.execute("SELECT count(*) FROM information_schema.views "
                              "WHERE table_schema IN ('ads', 'hr')").fetchone()[0] == 0


def test_apply_runs_the_plan_and_records_it_only_after_success(world: PgWorld, pg_url: str) -> None:
    from access.subscribers.errors import RedshiftApplyFailed

    access, subs = world.access, world.subs
    access.grant("people", Action.READ, Resource.table("hr.salaries"))
    subs.create("warehouse", "redshift", owner="admin", roles=["people"], actor="admin")
    planned = subs.redshift_sync("warehouse", target=Target.POSTGRES, commit=False)
    assert planned.statements

    # A failing statement: a table where the plan creates a view. Nothing is applied
    # (one transaction on PostgreSQL) and nothing recorded.
    world.conn.execute('CREATE SCHEMA IF NOT EXISTS "hr"')
    world.conn.execute('CREATE TABLE "hr"."salaries" (x int)')
    with pytest.raises(RedshiftApplyFailed, match=r"statement \d+ of \d+ for warehouse failed: .*rolled back"):
        subs.redshift_apply("warehouse", pg_url, target=Target.POSTGRES)
    assert subs.redshift.applied("warehouse") == {}
    assert world.conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                              (world.pg_role("people"),)).fetchone()[0] == 0
    world.conn.execute('DROP TABLE "hr"."salaries"')

    applied = subs.redshift_apply("warehouse", pg_url, target=Target.POSTGRES)
    assert applied.statements == planned.statements
    allowed = world.conn.execute("SELECT has_table_privilege(%s, 'hr.salaries', 'SELECT')",
                                 (world.pg_role("people"),)).fetchone()[0]
    assert allowed is True
    assert set(subs.redshift.applied("warehouse")) == {o.key for o in applied.objects}
    assert subs.redshift_sync("warehouse", target=Target.POSTGRES, commit=False).statements == ()

    with pytest.raises(RedshiftApplyFailed, match="cannot connect"):
        subs.redshift_apply("warehouse", "postgresql://nobody:wrong@127.0.0.1:1/none", target=Target.POSTGRES)


def test_the_cli_applies_to_the_cluster_of_the_setting(world: PgWorld, pg_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from api.commands import subscribers as cli
    from lake.settings import get_settings

    world.access.grant("people", Action.READ, Resource.table("hr.salaries"))
    world.subs.create("warehouse", "redshift", owner="admin", roles=["people"], actor="admin")
    monkeypatch.setenv("LAKEGATE_HOME", str(world.lake.settings.home))
    monkeypatch.setenv("LAKEGATE_SUBSCRIBERS_REDSHIFT_URL", pg_url)
    monkeypatch.setenv("LAKEGATE_SUBSCRIBERS_REDSHIFT_ROLE_PREFIX", world.prefix)
    get_settings.cache_clear()
    try:
        planned = CliRunner().invoke(cli.app, ["redshift", "plan", "warehouse", "--target", "postgres"])
        assert planned.exit_code == 0, planned.output
        assert world.subs.redshift.applied("warehouse") == {}  # a plan records nothing
        applied = CliRunner().invoke(cli.app, ["redshift", "apply", "warehouse", "--target", "postgres"])
        assert applied.exit_code == 0, applied.output
        assert "applied on the cluster and recorded" in applied.output
        assert pg_url.split("@")[0] not in applied.output  # the password never prints
    finally:
        get_settings.cache_clear()
    allowed = world.conn.execute("SELECT has_table_privilege(%s, 'hr.salaries', 'SELECT')",
                                 (world.pg_role("people"),)).fetchone()[0]
    assert allowed is True
    assert world.subs.redshift.applied("warehouse") != {}
