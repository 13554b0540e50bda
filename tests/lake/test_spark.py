"""Spark reads Delta tables written by delta-rs: same rows, same types.

One classic ``local[2]`` session serves the whole module. The Spark Connect
variant of these checks is in ``test_spark_connect.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, TableFeatures, write_deltalake

from lake.crypto import encrypt_array
from lake.errors import ConfigError, InvalidInput, NotFound, StorageError
from lake.settings import Settings
from lake.spark import (
    DELTA_EXTENSION,
    engine_jars,
    read_delta,
    register_delta,
    s3a_settings,
    spark_path,
    spark_session,
    sql_with_args,
    stop_spark,
    write_delta,
)

from delta_spark_cases import CASES, Case, assert_matches, case_partitioned_timestamp, check_case, snapshot

REPO = Path(__file__).resolve().parents[2]

spark_mark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    stop_spark()  # a session another module left behind would have other settings
    settings = Settings(home=tmp_path_factory.mktemp("home"), spark_master="local[2]", spark_remote=None)
    session = spark_session(settings)
    yield session
    stop_spark()


# --------------------------------------------------------------------------- session


def test_importing_lake_spark_does_not_import_pyspark() -> None:
    code = "import sys, lake.spark; assert 'pyspark' not in sys.modules, 'pyspark imported'; print('ok')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@spark_mark
def test_session_is_cached_and_configured(spark: Any, tmp_path: Path) -> None:
    again = spark_session(Settings(home=tmp_path, spark_master="local[2]", spark_remote=None))
    assert again is spark
    assert type(spark).__module__ == "pyspark.sql.session"  # classic
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.sparkContext.master == "local[2]"
    assert spark.sparkContext.uiWebUrl is None  # UI disabled


@spark_mark
def test_session_for_other_settings_is_refused_while_one_runs(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stop_spark"):
        spark_session(Settings(home=tmp_path, spark_master="spark://elsewhere:7077", spark_remote=None))
    # Another local thread count is served by the running local engine.
    assert spark_session(Settings(home=tmp_path, spark_master="local[1]", spark_remote=None)) is spark


@spark_mark
def test_session_loads_delta_spark_and_hadoop_aws(spark: Any) -> None:
    assert spark.conf.get("spark.sql.extensions") == DELTA_EXTENSION
    assert spark.conf.get("spark.sql.catalog.spark_catalog").endswith("DeltaCatalog")
    assert spark.conf.get("spark.driver.maxResultSize") == "512m"
    jvm = spark.sparkContext._jvm
    for cls in ("org.apache.spark.sql.delta.sources.DeltaDataSource", "org.apache.hadoop.fs.s3a.S3AFileSystem",
                "software.amazon.awssdk.services.s3.S3Client"):
        jvm.java.lang.Class.forName(cls, False, jvm.Thread.currentThread().getContextClassLoader())


@spark_mark
def test_parameterized_sql_binds_with_the_delta_extension(spark: Any) -> None:
    """delta-spark's parser drops Spark 4.2's parameters unless the analyzer binds them."""
    assert spark.sql("SELECT :a + 1 AS x", args={"a": 41}).collect()[0]["x"] == 42
    assert spark.newSession().sql("SELECT ? AS y", args=["z"]).collect()[0]["y"] == "z"
    got = sql_with_args(spark, "SELECT hex(:k) AS k, '{x}' AS t", {"k": b"\x01\xff"}).collect()
    assert [tuple(r) for r in got] == [("01FF", "{x}")]


def test_missing_jars_name_the_bootstrap(tmp_path: Path) -> None:
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    settings = Settings(home=tmp_path, spark_jars_dir=tmp_path / "jars")
    with pytest.raises(ConfigError, match=r"delta-storage, hadoop-aws, bundle.*scripts/bootstrap.sh"):
        engine_jars(settings)
    with pytest.raises(ConfigError, match=r"scripts/bootstrap\.sh"):
        engine_jars(Settings(home=tmp_path, spark_jars_dir=tmp_path / "nowhere"))
    assert any("delta-spark_" in j for j in engine_jars(Settings(home=tmp_path)))  # the project's jvm/jars


def test_missing_jars_refuse_to_start_a_session(tmp_path: Path) -> None:
    code = (
        "import sys; from lake.settings import Settings; from lake.spark import spark_session\n"
        "from lake.errors import ConfigError\n"
        "try:\n"
        f"    spark_session(Settings(home={str(tmp_path)!r}, spark_jars_dir={str(tmp_path)!r}, spark_master='local[1]'))\n"
        "except ConfigError as exc:\n"
        "    print(exc); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "scripts/bootstrap.sh" in out.stdout


def test_spark_paths() -> None:
    assert spark_path("s3://lake/sales/orders/v1") == "s3a://lake/sales/orders/v1"
    assert spark_path("s3a://lake/x") == "s3a://lake/x"
    assert spark_path("file:///tmp/lake%20dir/t") == "/tmp/lake dir/t"
    assert spark_path("/tmp/lake dir 100%/t") == "/tmp/lake dir 100%/t"
    with pytest.raises(InvalidInput, match="neither a local path nor s3"):
        spark_path("gs://bucket/t")


def test_s3a_settings_from_storage_options() -> None:
    options = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "TOKEN", "AWS_SERVER_SIDE_ENCRYPTION": "aws:kms",
        "AWS_SSE_KMS_KEY_ID": "key-ads", "AWS_ALLOW_HTTP": "true",
    }
    got = s3a_settings("lake", options)
    p = "fs.s3a.bucket.lake."
    assert got == {
        p + "endpoint": "http://127.0.0.1:5000", p + "path.style.access": "true",
        p + "connection.ssl.enabled": "false", p + "endpoint.region": "eu-west-1",
        p + "access.key": "AKID", p + "secret.key": "SECRET", p + "session.token": "TOKEN",
        p + "aws.credentials.provider": "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
        p + "encryption.algorithm": "SSE-KMS", p + "encryption.key": "key-ads",
    }
    assert s3a_settings("lake", None) == {}


# --------------------------------------------------------------------------- same rows as delta-rs


@spark_mark
@pytest.mark.parametrize("name", sorted(CASES))
def test_spark_reads_what_delta_rs_reads(spark: Any, tmp_path: Path, name: str) -> None:
    check_case(spark, name, tmp_path)


@spark_mark
def test_timestamp_partitions_read_right_in_any_session_time_zone(spark: Any, tmp_path: Path) -> None:
    case = case_partitioned_timestamp(tmp_path)
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        assert_matches(read_delta(spark, case.uri), case)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


@spark_mark
def test_plain_partitions_keep_partition_pruning(spark: Any, tmp_path: Path) -> None:
    case = CASES["partitioned_string"](tmp_path)
    df = read_delta(spark, case.uri).filter("region = 'eu'")
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert re.search(r"PartitionFilters: \[[^\]]*region[^\]]*= eu", plan), plan
    assert sorted(r["id"] for r in df.collect()) == [1, 3]


@spark_mark
def test_unusual_partition_values_filter_right(spark: Any, tmp_path: Path) -> None:
    case = CASES["partitioned_string_unusual"](tmp_path)
    df = read_delta(spark, case.uri)
    assert [r["id"] for r in df.filter("tag = 'é ü'").collect()] == [4]
    assert sorted(r["id"] for r in df.filter("tag IS NULL").collect()) == [8, 9]


@spark_mark
def test_table_root_with_space_percent_and_accent(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "lake dir 100% é"  # (delta-rs itself mangles a root holding "%41")
    for name in ("appends", "partitioned_string", "partitioned_string_unusual"):
        check_case(spark, name, root)


@spark_mark
def test_file_uri_is_accepted(spark: Any, tmp_path: Path) -> None:
    case = CASES["partitioned_date"](tmp_path)
    assert_matches(read_delta(spark, Path(case.uri).as_uri()), case)


@spark_mark
def test_older_versions_one_by_one(spark: Any, tmp_path: Path) -> None:
    uri = str(tmp_path / "versions")
    for i in range(4):
        mode = "overwrite" if i == 2 else "append"
        write_deltalake(uri, pa.table({"v": pa.array([i], pa.int64())}), mode=mode)
    for version in range(4):
        assert_matches(read_delta(spark, uri, version=version), Case(uri, snapshot(uri, version)))
    assert sorted(r["v"] for r in read_delta(spark, uri).collect()) == [2, 3]


@spark_mark
def test_timestamp_after_last_commit_reads_latest(spark: Any, tmp_path: Path) -> None:
    case = CASES["appends"](tmp_path)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert_matches(read_delta(spark, case.uri, timestamp=later), case)
    # A naive datetime is UTC.
    assert_matches(read_delta(spark, case.uri, timestamp=later.replace(tzinfo=None)), case)


@spark_mark
def test_timestamp_before_first_commit_is_not_found(spark: Any, tmp_path: Path) -> None:
    case = CASES["appends"](tmp_path)
    with pytest.raises(NotFound, match="did not exist"):
        read_delta(spark, case.uri, timestamp="2001-01-01T00:00:00Z")


@spark_mark
def test_spark_parses_the_timestamp_as_of_text(spark: Any) -> None:
    """delta-spark casts timestampAsOf to a timestamp; the text must mean the same instant."""
    spark.conf.set("spark.sql.session.timeZone", "Asia/Tokyo")
    try:
        got = spark.sql("SELECT cast('2024-05-01T10:30:00.000123+00:00' AS timestamp) AS t").toArrow()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    want = dt.datetime(2024, 5, 1, 10, 30, 0, 123, tzinfo=dt.UTC)
    assert got["t"].to_pylist() == [want]


# --------------------------------------------------------------------------- Spark SQL


@spark_mark
def test_spark_sql_over_registered_views(spark: Any, tmp_path: Path) -> None:
    uri = str(tmp_path / "sales")
    first = pa.table({"region": ["eu", "us", "eu"], "amount": pa.array([10, 20, 30], pa.int64())})
    write_deltalake(uri, first, partition_by=["region"])
    write_deltalake(uri, pa.table({"region": ["us"], "amount": pa.array([5], pa.int64())}), mode="append", partition_by=["region"])

    register_delta(spark, "sales_now", uri)
    register_delta(spark, "sales_v0", uri, version=0)
    got = spark.sql(
        "SELECT n.region, n.total, o.total AS total_v0 FROM "
        "(SELECT region, sum(amount) AS total FROM sales_now GROUP BY region) n "
        "JOIN (SELECT region, sum(amount) AS total FROM sales_v0 GROUP BY region) o USING (region) "
        "ORDER BY region"
    ).collect()
    assert [tuple(r) for r in got] == [("eu", 40, 40), ("us", 25, 20)]

    expected = DeltaTable(uri).to_pyarrow_table().group_by("region").aggregate([("amount", "sum")])
    assert {r["region"]: r["amount_sum"] for r in expected.to_pylist()} == {"eu": 40, "us": 25}


@spark_mark
def test_register_refuses_a_qualified_view_name(spark: Any, tmp_path: Path) -> None:
    case = CASES["appends"](tmp_path)
    with pytest.raises(InvalidInput, match="letters, digits"):
        register_delta(spark, "sales.orders", case.uri)


@spark_mark
def test_encrypted_pii_decrypts_in_spark_sql(spark: Any, tmp_path: Path) -> None:
    key = os.urandom(32)
    emails = ["ann@example.com", None, "bob@example.org", "ünïcode@example.net", ""]
    uri = str(tmp_path / "customers")
    table = pa.table(
        {
            "id": pa.array(range(len(emails)), pa.int64()),
            "email": encrypt_array(pa.array(emails, pa.string()), key),
        }
    )
    write_deltalake(uri, table)
    stored = DeltaTable(uri).to_pyarrow_table()
    assert stored.schema.field("email").type == pa.binary()
    assert b"ann@example.com" not in b"".join(v for v in stored["email"].to_pylist() if v)

    register_delta(spark, "customers", uri)
    rows = spark.sql(
        f"SELECT id, cast(aes_decrypt(email, unhex('{key.hex()}'), 'GCM') AS string) AS email "
        "FROM customers ORDER BY id"
    ).collect()
    assert [r["email"] for r in rows] == emails


# --------------------------------------------------------------------------- errors


@spark_mark
def test_missing_table_is_a_storage_error(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no Delta table"):
        read_delta(spark, str(tmp_path / "nothing-here"))


@spark_mark
def test_missing_version_is_not_found(spark: Any, tmp_path: Path) -> None:
    case = CASES["appends"](tmp_path)
    with pytest.raises(NotFound, match="latest is 2"):
        read_delta(spark, case.uri, version=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": 0, "timestamp": "2024-01-01T00:00:00Z"}, "not both"),
        ({"version": -1}, "non-negative"),
        ({"timestamp": "yesterday"}, "ISO 8601"),
    ],
)
def test_bad_time_travel_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    # Checked before Spark is touched.
    with pytest.raises(InvalidInput, match=message):
        read_delta(object(), str(tmp_path), **kwargs)  # type: ignore[arg-type]


Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def _z85(data: bytes) -> str:
    data += b"\0" * (-len(data) % 4)
    out = []
    for i in range(0, len(data), 4):
        (value,) = struct.unpack(">I", data[i : i + 4])
        chars = []
        for _ in range(5):
            value, digit = divmod(value, 85)
            chars.append(Z85[digit])
        out.append("".join(reversed(chars)))
    return "".join(out)


def _inline_deletion_vector(rows: list[int]) -> dict[str, Any]:
    """A Delta inline deletion vector marking ``rows`` (row indexes < 65536) deleted."""
    rows = sorted(rows)
    # Portable 32-bit Roaring bitmap with one array container (cookie 12346).
    bitmap = struct.pack("<II", 12346, 1) + struct.pack("<HH", 0, len(rows) - 1) + struct.pack("<I", 16)
    bitmap += b"".join(struct.pack("<H", r) for r in rows)
    # RoaringBitmapArray: magic, number of 32-bit buckets, then key and bitmap per bucket.
    raw = struct.pack("<i", 1681511377) + struct.pack("<q", 1) + struct.pack("<i", 0) + bitmap
    return {"storageType": "i", "pathOrInlineDv": _z85(raw), "sizeInBytes": len(raw), "cardinality": len(rows)}


def _table_with_deletion_vector_feature(uri: str) -> DeltaTable:
    write_deltalake(uri, pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
    DeltaTable(uri).alter.add_feature(TableFeatures.DeletionVectors, allow_protocol_versions_increase=True)
    return DeltaTable(uri)


@spark_mark
def test_deletion_vector_feature_without_vectors_reads(spark: Any, tmp_path: Path) -> None:
    uri = str(tmp_path / "dv_feature")
    table = _table_with_deletion_vector_feature(uri)
    table.delete("id = 2")  # delta-rs rewrites the file instead of writing a vector
    assert "deletionVectors" in (DeltaTable(uri).protocol().reader_features or [])
    assert sorted(r["id"] for r in read_delta(spark, uri).collect()) == [1, 3]


@spark_mark
def test_deletion_vectors_are_applied(spark: Any, tmp_path: Path) -> None:
    """A hand-written commit deletes row 2 through an inline deletion vector."""
    uri = str(tmp_path / "dv")
    table = _table_with_deletion_vector_feature(uri)
    add = pa.table(table.get_add_actions(flatten=True)).to_pylist()[0]
    now = int(time.time() * 1000)
    actions = [
        {"remove": {"path": add["path"], "deletionTimestamp": now, "dataChange": True,
                    "extendedFileMetadata": True, "partitionValues": {}, "size": add["size_bytes"]}},
        {"add": {"path": add["path"], "partitionValues": {}, "size": add["size_bytes"],
                 "modificationTime": add["modification_time"], "dataChange": True,
                 "stats": json.dumps({"numRecords": 3}), "deletionVector": _inline_deletion_vector([1])}},
        {"commitInfo": {"timestamp": now, "operation": "DELETE"}},
    ]
    commit = Path(uri) / "_delta_log" / f"{table.version() + 1:020d}.json"
    commit.write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    vectors = pa.table(DeltaTable(uri).deletion_vectors()).to_pylist()
    assert [v["selection_vector"] for v in vectors] == [[True, False, True]]  # delta-rs sees the vector

    assert sorted(r["id"] for r in read_delta(spark, uri).collect()) == [1, 3]
    # The version before the delete still has the row.
    assert sorted(r["id"] for r in read_delta(spark, uri, version=table.version()).collect()) == [1, 2, 3]


@spark_mark
def test_column_mapping_reads_by_logical_name(spark: Any, tmp_path: Path) -> None:
    """Renamed columns: the Parquet files keep physical names, the reader maps them."""
    uri = str(tmp_path / "mapped")
    spark.sql(f"CREATE TABLE delta.`{uri}` (id BIGINT, name STRING) USING delta "
              "TBLPROPERTIES ('delta.columnMapping.mode' = 'name')")
    spark.sql(f"INSERT INTO delta.`{uri}` VALUES (1, 'a'), (2, 'b')")
    spark.sql(f"ALTER TABLE delta.`{uri}` RENAME COLUMN name TO `full name`")
    df = read_delta(spark, uri)
    assert df.columns == ["id", "full name"]
    assert sorted(tuple(r) for r in df.collect()) == [(1, "a"), (2, "b")]
    assert (DeltaTable(uri).metadata().configuration or {}).get("delta.columnMapping.mode") == "name"


# --------------------------------------------------------------------------- both writers on one table


@spark_mark
def test_each_writer_reads_the_others_commits(spark: Any, tmp_path: Path) -> None:
    uri = str(tmp_path / "shared")
    write_deltalake(uri, pa.table({"id": pa.array([1, 2], pa.int64()), "who": ["rs", "rs"]}))
    result = write_delta(spark.createDataFrame([(3, "spark")], "id bigint, who string"), uri, mode="append",
                         metadata={"actor": "test"})
    assert result.version == 1 and result.rows == 1
    write_deltalake(uri, pa.table({"id": pa.array([4], pa.int64()), "who": ["rs"]}), mode="append")
    want = [(1, "rs"), (2, "rs"), (3, "spark"), (4, "rs")]
    assert sorted(tuple(r) for r in read_delta(spark, uri).collect()) == want
    dt_ = DeltaTable(uri)
    assert dt_.version() == 2
    assert sorted(zip(*dt_.to_pyarrow_table().to_pydict().values(), strict=True)) == want
    assert sorted(r["id"] for r in read_delta(spark, uri, version=1).collect()) == [1, 2, 3]
    spark_commit = next(h for h in dt_.history() if h["version"] == 1)
    assert json.loads(spark_commit["userMetadata"])["actor"] == "test"

    # A Spark overwrite, read back by delta-rs.
    write_delta(spark.createDataFrame([(9, "spark")], "id bigint, who string"), uri)
    assert DeltaTable(uri).to_pyarrow_table().to_pylist() == [{"id": 9, "who": "spark"}]


@spark_mark
def test_delta_rs_appends_racing_spark_writes_all_land(spark: Any, tmp_path: Path) -> None:
    """delta-rs appends in a thread while Spark appends: each commit lands once, at its own version."""
    import threading

    uri = str(tmp_path / "race")
    write_deltalake(uri, pa.table({"id": pa.array([0], pa.int64()), "who": ["seed"]}))
    rounds = 6
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def delta_rs() -> None:
        try:
            start.wait()
            for i in range(rounds):
                write_deltalake(uri, pa.table({"id": pa.array([100 + i], pa.int64()), "who": ["rs"]}),
                                mode="append")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=delta_rs)
    thread.start()
    start.wait()
    spark_versions = []
    for i in range(rounds):
        df = spark.createDataFrame([(200 + i, "spark")], "id bigint, who string")
        spark_versions.append(write_delta(df, uri, mode="append").version)
    thread.join(timeout=300)
    assert not errors, errors
    ids = sorted(r["id"] for r in read_delta(spark, uri).collect())
    assert ids == [0] + [100 + i for i in range(rounds)] + [200 + i for i in range(rounds)]
    table = DeltaTable(uri)
    assert table.version() == 2 * rounds
    assert sorted(table.to_pyarrow_table()["id"].to_pylist()) == ids
    assert len(set(spark_versions)) == rounds
    history = {h["version"]: h for h in table.history()}
    assert sorted(history) == list(range(2 * rounds + 1))  # one commit per write, no gaps


# --------------------------------------------------------------------------- S3 through S3A


@pytest.fixture
def s3_options(moto_server: str) -> dict[str, str]:
    import uuid

    import boto3

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {
        "bucket": bucket,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",
    }


@spark_mark
@pytest.mark.s3
def test_s3_table_reads_natively(spark: Any, s3_options: dict[str, str]) -> None:
    options = {k: v for k, v in s3_options.items() if k != "bucket"}
    uri = f"s3://{s3_options['bucket']}/sales/orders/v1"
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), None], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 1, 5, tzinfo=dt.UTC)] * 3, pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(uri, data, partition_by=["day"], storage_options=options)
    write_deltalake(uri, data.slice(0, 1), partition_by=["day"], mode="append", storage_options=options)
    for version in (None, 0):
        expected = DeltaTable(uri, version=version, storage_options=options).to_pyarrow_table()
        df = read_delta(spark, uri, version=version, storage_options=options)
        assert_matches(df, Case(uri, expected))
        assert df.count() == (3 if version == 0 else 4)
    plan = read_delta(spark, uri, storage_options=options)._jdf.queryExecution().executedPlan().toString()
    assert "s3a://" in plan and "LocalTableScan" not in plan  # files read by the engine, not a driver copy
    assert pc.sum(DeltaTable(uri, storage_options=options).to_pyarrow_table()["id"]).as_py() == 7


@spark_mark
@pytest.mark.s3
def test_s3_spark_write_is_read_by_delta_rs(spark: Any, s3_options: dict[str, str]) -> None:
    options = {k: v for k, v in s3_options.items() if k != "bucket"}
    uri = f"s3://{s3_options['bucket']}/views/sales.daily/v1"
    write_deltalake(uri, pa.table({"id": pa.array([1], pa.int64())}), storage_options=options)
    result = write_delta(spark.range(2, 5).toDF("id"), uri, mode="append", storage_options=options)
    assert result.version == 1 and result.rows == 3
    assert sorted(DeltaTable(uri, storage_options=options).to_pyarrow_table()["id"].to_pylist()) == [1, 2, 3, 4]
    assert sorted(r["id"] for r in read_delta(spark, uri, version=0, storage_options=options).collect()) == [1]
