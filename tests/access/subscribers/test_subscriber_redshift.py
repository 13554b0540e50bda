"""The Redshift plan as Redshift SQL: external schema and tables over Delta symlink
manifests, partitions, late-binding views, transpiled virtual views, grants per role,
and ``sync`` emitting only differences."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from deltalake import DeltaTable

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers import Subscribers, WrongSubscriberKind
from access.subscribers.manifests import write_manifest
from access.subscribers.redshift_sql import Target
from access.subscribers.tables import find_table
from lake.service import Lake
from views.definition import Materialization, ViewDefinition
from views.registry import apply

from factories import contract_doc

CSV = b"conversion_id,country,revenue,email\n1,US,1.50,a@x.example\n2,DE,2.00,\n3,DE,4.00,c@x.example\n"


@pytest.fixture
def subs(lake: Lake) -> Subscribers:
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.ingest("ads.conversions", CSV, "csv", actor="admin")
    apply(lake, [ViewDefinition("ads.by_country", "SELECT c.country, COUNT(*) AS n FROM ads.conversions AS c "
                                "GROUP BY c.country", materialization=Materialization.VIRTUAL)],
          actor="admin", spark_check=False)
    lake.users.create("admin", roles=["admin"])
    access = AccessControl(lake)
    access.create_role("analyst")
    access.grant("analyst", Action.READ, Resource.domain_("ads"))
    access.set_mask("analyst", Resource.domain_("ads"), Mask(MaskKind.DECRYPT))
    return Subscribers(access)


def test_manifest_lists_the_snapshot_files_per_partition(subs: Subscribers, lake: Lake) -> None:
    table = find_table(lake, "ads.conversions")
    manifest = write_manifest(lake, table)
    assert table.table_uri is not None
    files = sorted(DeltaTable(table.table_uri).file_uris())
    listed = []
    for part in manifest.partitions:
        lines = (Path(part.location) / "manifest").read_text().splitlines()
        assert all(f"/country={dict(part.values)['country']}/" in line for line in lines)
        listed += lines
    assert sorted(listed) == files and manifest.files == len(files)
    assert {dict(p.values)["country"] for p in manifest.partitions} == {"US", "DE"}
    assert manifest.location == table.table_uri + "/_symlink_format_manifest/"


def test_redshift_statements(subs: Subscribers, lake: Lake) -> None:
    subs.create("dwh", "redshift", owner="admin", roles=["analyst"], actor="admin")
    plan = subs.redshift_sync("dwh")
    root = lake.dataset("ads.conversions").table_uri
    stmts = list(plan.statements)
    assert stmts[:2] == [
        'CREATE ROLE "lakegate_analyst"',
        ('CREATE EXTERNAL SCHEMA IF NOT EXISTS "lake_ads" FROM DATA CATALOG DATABASE \'lakegate_ads\' '
         "IAM_ROLE default CREATE EXTERNAL DATABASE IF NOT EXISTS"),
    ]
    assert ('CREATE EXTERNAL TABLE "lake_ads"."conversions" ("conversion_id" BIGINT, "revenue" DECIMAL(12, 2), '
            '"email" VARBYTE, "converted_at" TIMESTAMP) PARTITIONED BY ("country" VARCHAR(65535)) '
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' "
            "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat' "
            "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat' "
            f"LOCATION '{root}/_symlink_format_manifest/'") in stmts
    assert (f'ALTER TABLE "lake_ads"."conversions" ADD IF NOT EXISTS PARTITION("country" = \'DE\') '
            f"LOCATION '{root}/_symlink_format_manifest/country=DE/'") in stmts
    assert ('CREATE VIEW "ads"."conversions" AS SELECT "conversion_id", "country", "revenue", "email", '
            '"converted_at" FROM "lake_ads"."conversions" WITH NO SCHEMA BINDING') in stmts
    virtual = next(s for s in stmts if s.startswith('CREATE VIEW "ads"."by_country"'))
    assert virtual.endswith("WITH NO SCHEMA BINDING") and "ads.conversions" in virtual.replace('"', "")
    assert stmts[-3] == 'GRANT USAGE ON SCHEMA "ads" TO ROLE "lakegate_analyst"'
    assert set(stmts[-2:]) == {'GRANT SELECT ON TABLE "ads"."by_country" TO ROLE "lakegate_analyst"',
                               'GRANT SELECT ON TABLE "ads"."conversions" TO ROLE "lakegate_analyst"'}
    for statement in stmts:  # what is not a sqlglot-native node still reads as SQL to Redshift's parser
        assert sqlglot.parse_one(statement, read="redshift") is not None
    assert plan.grants == {"lakegate_analyst": ("ads.by_country", "ads.conversions")}

    assert subs.redshift_sync("dwh").statements == ()
    lake.ingest("ads.conversions", b"conversion_id,country\n9,FR\n", "csv", actor="admin")
    assert subs.redshift_sync("dwh").statements == (
        (f'ALTER TABLE "lake_ads"."conversions" ADD IF NOT EXISTS PARTITION("country" = \'FR\') '
         f"LOCATION '{root}/_symlink_format_manifest/country=FR/'"),)

    # A dry run shows the difference and records nothing.
    subs.access.set_row_filter("analyst", Resource.table("ads.conversions"), "country = 'DE'")
    dry = subs.redshift_sync("dwh", commit=False)
    assert dry.statements[0] == 'REVOKE SELECT ON TABLE "ads"."by_country" FROM ROLE "lakegate_analyst"'
    assert subs.redshift_sync("dwh", commit=False).statements == dry.statements
    assert {s.table for s in dry.skipped} == {"ads.conversions", "ads.by_country"}
    full = subs.redshift_sync("dwh", full=True, commit=False)
    assert full.statements == ('CREATE ROLE "lakegate_analyst"',)


def test_redshift_sync_is_for_redshift_subscribers(subs: Subscribers) -> None:
    subs.create("etl", "emr", owner="admin", roles=["analyst"], actor="admin")
    with pytest.raises(WrongSubscriberKind, match="etl is a emr subscriber; redshift sync is for redshift"):
        subs.redshift_sync("etl")


def test_postgres_rendering_has_no_spectrum_clauses(subs: Subscribers) -> None:
    subs.create("dwh", "redshift", owner="admin", roles=["analyst"], actor="admin")
    plan = subs.redshift_sync("dwh", target=Target.POSTGRES, commit=False)
    text = plan.script()
    for word in ("EXTERNAL", "PARTITION", "ROLE \"lakegate_analyst\"\n", "SCHEMA BINDING", "TO ROLE"):
        assert word not in text
    assert 'CREATE TABLE "lake_ads"."conversions"' in text
