"""Views materialized by Spark into the S3 lake (moto): every object Spark
writes carries SSE-KMS under the key of the view's domain, object by object,
with one bucket for every domain (Lakegate's S3A interceptor names the key);
delta-rs reads what Spark wrote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lake.service import Lake
from lake.settings import Settings
from lake.spark import lake_bucket_settings, spark_session, stop_spark
from views.definition import ViewDefinition
from views.materialize import materialize, read_view
from views.registry import create_version

from factories import contract_doc
from s3_fixtures import bucket_objects

pytestmark = [pytest.mark.spark, pytest.mark.s3, pytest.mark.slow]

CSV = b"conversion_id,country,revenue,email\n1,US,1.50,ann@example.com\n2,DE,2.00,\n3,DE,4.25,bob@example.org\n"


@pytest.fixture(scope="module")
def s3_lake(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    import uuid

    stop_spark()
    home = tmp_path_factory.mktemp("views-s3")
    settings = Settings(home=home, storage_uri=f"s3://lake-{uuid.uuid4().hex[:16]}/lake", s3_endpoint_url=moto_server,
                        spark_master="local[2]")
    lake = Lake(settings)
    for name in ("ads.conversions", "subs.accounts"):
        lake.register(contract_doc(name), actor="alice")
        lake.ingest(name, CSV, "csv", actor="alice")
    for view, source in (("ads.revenue_by_country", "ads.conversions"), ("subs.revenue_by_country", "subs.accounts")):
        doc = {"view": view, "sql": f"SELECT country, sum(revenue) AS revenue, count(*) AS n FROM {source} "
                                    "GROUP BY country"}
        create_version(lake, ViewDefinition.from_mapping(doc), actor="alice")
    yield lake
    lake.close()
    stop_spark()


def test_engine_is_configured_for_the_lake_bucket(s3_lake: Lake) -> None:
    conf = lake_bucket_settings(s3_lake.settings)
    bucket = s3_lake.store.bucket  # type: ignore[attr-defined]
    assert conf[f"fs.s3a.bucket.{bucket}.audit.execution.interceptors"] == "io.lakegate.s3a.DomainKeyInterceptor"
    assert conf[f"fs.s3a.bucket.{bucket}.lakegate.prefix"] == "lake"
    assert lake_bucket_settings(Settings(home=s3_lake.settings.home)) == {}


def test_every_object_spark_writes_has_its_domains_key(s3_lake: Lake) -> None:
    runs = [materialize(s3_lake, view, actor="alice") for view in ("ads.revenue_by_country",
                                                                    "subs.revenue_by_country")]
    kms = s3_lake.store.kms_client()  # type: ignore[attr-defined]
    for run, domain in zip(runs, ("ads", "subs"), strict=True):
        assert run.table_uri is not None and run.table_uri.startswith("s3://")
        domain_key = kms.describe_key(KeyId=s3_lake.store.ensure_domain(domain))["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
        prefix = s3_lake.store.object_key(f"views/{run.view}/v{run.version}") + "/"  # type: ignore[attr-defined]
        objects = bucket_objects(s3_lake, prefix)
        assert any(o["Key"].endswith(".parquet") for o in objects), [o["Key"] for o in objects]
        assert any("/_delta_log/" in o["Key"] and o["Key"].endswith(".json") for o in objects)
        for o in objects:
            assert o["ServerSideEncryption"] == "aws:kms", o["Key"]
            named = kms.describe_key(KeyId=o["SSEKMSKeyId"])["KeyMetadata"]["KeyId"]
            assert named == domain_key, (o["Key"], o["SSEKMSKeyId"])


def test_delta_rs_reads_what_spark_wrote_to_s3(s3_lake: Lake) -> None:
    table = read_view(s3_lake, "subs.revenue_by_country")
    rows = sorted((r["country"], str(r["revenue"]), r["n"]) for r in table.to_pylist())
    assert rows == [("DE", "6.25", 2), ("US", "1.50", 1)]
    spark = spark_session(s3_lake.settings)
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
