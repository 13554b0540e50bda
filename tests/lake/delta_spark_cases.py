"""Delta tables written with delta-rs, and the check that Spark reads them right.

Shared by ``test_spark.py`` (classic session, in the pytest process) and
``test_spark_connect.py``, which runs this file as a script in a child
process with a Spark Connect session (a local Connect server cannot start
in a process that already holds a classic session, and vice versa).

Each case writes one table and says which snapshot to read; the expected
rows are what ``DeltaTable(...).to_pyarrow_table()`` returns for that
snapshot, and some cases also pin the rows by hand.

Run as a script: ``python delta_spark_cases.py WORKDIR [CASE ...]`` prints one
JSON object per line: ``{"check": name, "ok": bool, "detail": str}``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

UTC = dt.UTC


@dataclass
class Case:
    """A table to read, the read arguments, and the rows Spark must return."""

    uri: str
    expected: pa.Table
    read_kwargs: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[Any, ...]] | None = None  # pinned by hand, in addition to `expected`


def snapshot(uri: str, version: int | None = None) -> pa.Table:
    """What delta-rs returns for a snapshot (the reference)."""
    return DeltaTable(uri, version=version).to_pyarrow_table()


def _orders(ids: list[int], names: list[str | None], amounts: list[float | None]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
            "amount": pa.array(amounts, pa.float64()),
        }
    )


# --------------------------------------------------------------------------- cases


def case_appends(root: Path) -> Case:
    uri = str(root / "appends")
    write_deltalake(uri, _orders([1, 2], ["a", None], [1.5, 2.5]))
    write_deltalake(uri, _orders([3], ["c"], [None]), mode="append")
    write_deltalake(uri, _orders([4, 5], ["d", "e"], [4.0, -5.25]), mode="append")
    rows = [(1, "a", 1.5), (2, None, 2.5), (3, "c", None), (4, "d", 4.0), (5, "e", -5.25)]
    return Case(uri, snapshot(uri), rows=rows)


def case_overwrite(root: Path) -> Case:
    uri = str(root / "overwrite")
    write_deltalake(uri, _orders([1, 2], ["a", "b"], [1.0, 2.0]))
    write_deltalake(uri, _orders([3], ["c"], [3.0]), mode="append")
    write_deltalake(uri, _orders([10, 11], ["x", "y"], [10.0, 11.0]), mode="overwrite")
    return Case(uri, snapshot(uri), rows=[(10, "x", 10.0), (11, "y", 11.0)])


def case_upsert(root: Path) -> Case:
    uri = str(root / "upsert")
    write_deltalake(uri, _orders([1, 2, 3], ["a", "b", "c"], [1.0, 2.0, 3.0]))
    (
        DeltaTable(uri)
        .merge(
            source=_orders([2, 4], ["B", "d"], [20.0, 4.0]),
            predicate="t.id = s.id",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    rows = [(1, "a", 1.0), (2, "B", 20.0), (3, "c", 3.0), (4, "d", 4.0)]
    return Case(uri, snapshot(uri), rows=rows)


def case_partitioned_string(root: Path) -> Case:
    """Plain ASCII values and a null: Spark's Hive partition discovery applies."""
    uri = str(root / "part_string")
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "region": pa.array(["eu", "us", "eu", None, "ap-south 1"], pa.string()),
            "amount": pa.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        }
    )
    write_deltalake(uri, data.slice(0, 3), partition_by=["region"])
    write_deltalake(uri, data.slice(3), partition_by=["region"], mode="append")
    rows = [(1, "eu", 1.0), (2, "us", 2.0), (3, "eu", 3.0), (4, None, 4.0), (5, "ap-south 1", 5.0)]
    return Case(uri, snapshot(uri), rows=rows)


UNUSUAL_VALUES = ["a b", "x/y", "p=q", "100%", "é ü", "日本", "c:d", "br[1]", "", None, "q?#"]


def case_partitioned_string_unusual(root: Path) -> Case:
    """Values Spark would decode wrongly from delta-rs directory names (non-ASCII, '')."""
    uri = str(root / "part_unusual")
    n = len(UNUSUAL_VALUES)
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "tag": pa.array(UNUSUAL_VALUES, pa.string()),
            "amount": pa.array([float(i) for i in range(n)]),
        }
    )
    write_deltalake(uri, data, partition_by=["tag"])
    # Delta stores '' and null partition values alike: both read back as null.
    rows = [(i, v or None, float(i)) for i, v in enumerate(UNUSUAL_VALUES)]
    return Case(uri, snapshot(uri), rows=rows)


def case_partitioned_date(root: Path) -> Case:
    uri = str(root / "part_date")
    data = pa.table(
        {
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), None, dt.date(2024, 1, 1)], pa.date32()),
            "id": pa.array([1, 2, 3, 4], pa.int32()),
            "qty": pa.array([10, 20, 30, None], pa.int64()),
        }
    )
    write_deltalake(uri, data, partition_by=["day"])
    rows = [
        (dt.date(2024, 1, 1), 1, 10),
        (dt.date(2024, 1, 2), 2, 20),
        (None, 3, 30),
        (dt.date(2024, 1, 1), 4, None),
    ]
    return Case(uri, snapshot(uri), rows=rows)


def case_partitioned_timestamp(root: Path) -> Case:
    uri = str(root / "part_ts")
    ts = [dt.datetime(2024, 3, 1, 23, 30, 15, 123456, tzinfo=UTC), dt.datetime(2024, 3, 2, 0, 0, tzinfo=UTC), None]
    data = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "at": pa.array(ts, pa.timestamp("us", tz="UTC"))})
    write_deltalake(uri, data, partition_by=["at"])
    return Case(uri, snapshot(uri), rows=[(1, ts[0]), (2, ts[1]), (3, None)])


def case_partitioned_int_bool(root: Path) -> Case:
    """Two partition levels, integer and boolean, declared after a data column."""
    uri = str(root / "part_int_bool")
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "year": pa.array([2023, 2024, None, 2024], pa.int16()),
            "open": pa.array([True, False, True, None]),
            "unit.price": pa.array([1.0, 2.0, 3.0, 4.0]),
        }
    )
    write_deltalake(uri, data, partition_by=["year", "open"])
    rows = [(1, 2023, True, 1.0), (2, 2024, False, 2.0), (3, None, True, 3.0), (4, 2024, None, 4.0)]
    return Case(uri, snapshot(uri), rows=rows)


def case_types(root: Path) -> Case:
    """One column per Delta type, with nulls."""
    uri = str(root / "types")
    data = pa.table(
        {
            "i8": pa.array([1, None, -128], pa.int8()),
            "i16": pa.array([1, None, 32767], pa.int16()),
            "i32": pa.array([1, None, -(2**31)], pa.int32()),
            "i64": pa.array([1, None, 2**62], pa.int64()),
            "f32": pa.array([1.5, None, -0.25], pa.float32()),
            "f64": pa.array([1.5, None, 1e300], pa.float64()),
            "flag": pa.array([True, None, False]),
            "text": pa.array(["x", None, "ünï"], pa.string()),
            "blob": pa.array([b"\x00\x01", None, b""], pa.binary()),
            "price": pa.array([Decimal("1.2300"), None, Decimal("-99999999999999.9999")], pa.decimal128(18, 4)),
            "day": pa.array([dt.date(1970, 1, 1), None, dt.date(2999, 12, 31)], pa.date32()),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC), None, dt.datetime(1900, 1, 1, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "local_at": pa.array([dt.datetime(2024, 1, 1, 12, 0), None, dt.datetime(2000, 2, 29, 1, 2, 3)], pa.timestamp("us")),
            "tags": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
            "point": pa.array(
                [{"x": 1, "label": "p"}, None, {"x": None, "label": None}],
                pa.struct([("x", pa.int64()), ("label", pa.string())]),
            ),
            "attrs": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int64())),
        }
    )
    write_deltalake(uri, data)
    return Case(uri, snapshot(uri))


def _history_versions(uri: str, versions: int) -> list[int]:
    """Commit timestamps (ms) of versions 0..versions-1."""
    by_version = {h["version"]: int(h["timestamp"]) for h in DeltaTable(uri).history()}
    return [by_version[v] for v in range(versions)]


def _three_versions(uri: str) -> list[int]:
    write_deltalake(uri, _orders([1], ["v0"], [0.0]))
    time.sleep(0.15)
    write_deltalake(uri, _orders([2], ["v1"], [1.0]), mode="append")
    time.sleep(0.15)
    write_deltalake(uri, _orders([1, 2, 3], ["w", "w", "w"], [9.0, 9.0, 9.0]), mode="overwrite")
    return _history_versions(uri, 3)


def case_time_travel_version(root: Path) -> Case:
    uri = str(root / "tt_version")
    _three_versions(uri)
    return Case(uri, snapshot(uri, 1), read_kwargs={"version": 1}, rows=[(1, "v0", 0.0), (2, "v1", 1.0)])


def case_time_travel_version0(root: Path) -> Case:
    uri = str(root / "tt_version0")
    _three_versions(uri)
    return Case(uri, snapshot(uri, 0), read_kwargs={"version": 0}, rows=[(1, "v0", 0.0)])


def _midpoint(a_ms: int, b_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp((a_ms + b_ms) / 2000, tz=UTC)


def case_time_travel_timestamp(root: Path) -> Case:
    uri = str(root / "tt_timestamp")
    stamps = _three_versions(uri)
    at = _midpoint(stamps[1], stamps[2])  # after version 1, before version 2
    return Case(uri, snapshot(uri, 1), read_kwargs={"timestamp": at}, rows=[(1, "v0", 0.0), (2, "v1", 1.0)])


def case_time_travel_timestamp_text(root: Path) -> Case:
    """An ISO string with an offset other than UTC."""
    uri = str(root / "tt_timestamp_text")
    stamps = _three_versions(uri)
    at = _midpoint(stamps[0], stamps[1]).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    return Case(uri, snapshot(uri, 0), read_kwargs={"timestamp": at.isoformat()}, rows=[(1, "v0", 0.0)])


def case_schema_evolution(root: Path) -> Case:
    uri = str(root / "evolution")
    write_deltalake(uri, pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]}))
    newer = pa.table(
        {
            "id": pa.array([3], pa.int64()),
            "name": ["c"],
            "score": pa.array([Decimal("7.50")], pa.decimal128(9, 2)),
            "seen": pa.array([dt.date(2024, 5, 1)], pa.date32()),
        }
    )
    write_deltalake(uri, newer, mode="append", schema_mode="merge")
    rows = [(1, "a", None, None), (2, "b", None, None), (3, "c", Decimal("7.50"), dt.date(2024, 5, 1))]
    return Case(uri, snapshot(uri), rows=rows)


def case_schema_evolution_partitioned(root: Path) -> Case:
    uri = str(root / "evolution_part")
    first = pa.table({"id": pa.array([1], pa.int64()), "region": ["eu"]})
    write_deltalake(uri, first, partition_by=["region"])
    newer = pa.table({"id": pa.array([2], pa.int64()), "region": ["us"], "note": ["new"]})
    write_deltalake(uri, newer, partition_by=["region"], mode="append", schema_mode="merge")
    return Case(uri, snapshot(uri), rows=[(1, "eu", None), (2, "us", "new")])


def case_empty(root: Path) -> Case:
    uri = str(root / "empty")
    schema = pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("day", pa.date32()), ("at", pa.timestamp("us", tz="UTC"))]
    )
    DeltaTable.create(uri, schema=schema, partition_by=["day"])
    return Case(uri, snapshot(uri), rows=[])


def case_all_deleted(root: Path) -> Case:
    uri = str(root / "all_deleted")
    write_deltalake(uri, _orders([1, 2], ["a", "b"], [1.0, 2.0]))
    DeltaTable(uri).delete("id > 0")
    return Case(uri, snapshot(uri), rows=[])


CASES: dict[str, Callable[[Path], Case]] = {
    "appends": case_appends,
    "overwrite": case_overwrite,
    "upsert": case_upsert,
    "partitioned_string": case_partitioned_string,
    "partitioned_string_unusual": case_partitioned_string_unusual,
    "partitioned_date": case_partitioned_date,
    "partitioned_timestamp": case_partitioned_timestamp,
    "partitioned_int_bool": case_partitioned_int_bool,
    "types": case_types,
    "time_travel_version": case_time_travel_version,
    "time_travel_version0": case_time_travel_version0,
    "time_travel_timestamp": case_time_travel_timestamp,
    "time_travel_timestamp_text": case_time_travel_timestamp_text,
    "schema_evolution": case_schema_evolution,
    "schema_evolution_partitioned": case_schema_evolution_partitioned,
    "empty": case_empty,
    "all_deleted": case_all_deleted,
}

#: The subset run through Spark Connect.
CONNECT_CASES = [
    "appends",
    "overwrite",
    "upsert",
    "partitioned_string",
    "partitioned_string_unusual",
    "partitioned_date",
    "partitioned_timestamp",
    "types",
    "time_travel_version",
    "time_travel_timestamp",
    "schema_evolution",
    "empty",
]


# --------------------------------------------------------------------------- comparison


def canonical(value: Any) -> Any:
    """A comparable form: aware datetimes in UTC, containers as lists."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return ("ts", value.astimezone(UTC).replace(tzinfo=None).isoformat())
        return ("ts_ntz", value.isoformat())
    if isinstance(value, dict):
        return ("struct", sorted((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Decimal):
        return ("dec", str(value))
    if isinstance(value, dt.date):
        return ("date", value.isoformat())
    return value


def sorted_rows(rows: list[tuple[Any, ...]]) -> list[str]:
    return sorted(repr(canonical(list(r))) for r in rows)


def table_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns, strict=True)) if columns else []


def spark_types(schema: Any) -> list[tuple[str, str]]:
    """(name, Spark type) pairs; nullability aside (Spark reads files as nullable)."""
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def assert_matches(df: Any, case: Case) -> None:
    """Spark's DataFrame has the expected columns, types and rows."""
    from pyspark.sql.pandas.types import from_arrow_schema

    expected = case.expected
    assert df.columns == expected.column_names, (df.columns, expected.column_names)
    want_types = spark_types(from_arrow_schema(expected.schema, prefer_timestamp_ntz=True))
    assert spark_types(df.schema) == want_types, (spark_types(df.schema), want_types)
    got = df.toArrow()
    assert got.column_names == expected.column_names
    got_rows = table_rows(got)
    want_rows = table_rows(expected)
    assert len(got_rows) == len(want_rows), (len(got_rows), len(want_rows))
    assert sorted_rows(got_rows) == sorted_rows(want_rows), (sorted_rows(got_rows), sorted_rows(want_rows))
    if case.rows is not None:
        assert sorted_rows(want_rows) == sorted_rows(case.rows), "delta-rs itself disagrees with the pinned rows"


def check_case(spark: Any, name: str, root: Path) -> None:
    """Build case ``name`` under ``root`` and check what ``read_delta`` returns."""
    from lake.spark import read_delta

    case = CASES[name](root)
    assert_matches(read_delta(spark, case.uri, **case.read_kwargs), case)


# --------------------------------------------------------------------------- Connect runner


def _emit(check: str, ok: bool, detail: str = "") -> None:
    print(json.dumps({"check": check, "ok": ok, "detail": detail}), flush=True)


def main(argv: list[str]) -> int:
    """Run cases through a local Spark Connect session; one JSON line per check."""
    from lake.settings import Settings
    from lake.spark import DELTA_EXTENSION, register_delta, spark_session, sql_with_args, stop_spark

    workdir = Path(argv[0])
    names = argv[1:] or CONNECT_CASES
    started = time.monotonic()
    spark = spark_session(Settings(home=workdir / "home", spark_remote="local[2]"))
    _emit("session", type(spark).__module__.startswith("pyspark.sql.connect"), f"{type(spark).__module__} in {time.monotonic() - started:.1f}s")
    try:
        _emit("session_cached", spark_session(Settings(home=workdir / "home", spark_remote="local[2]")) is spark)
        _emit("session_time_zone", spark.conf.get("spark.sql.session.timeZone") == "UTC")
        extensions = spark.conf.get("spark.sql.extensions")
        _emit("delta_spark_loaded", extensions == DELTA_EXTENSION, repr(extensions))
        try:
            got = sql_with_args(spark, "SELECT hex(:k) AS k, '{x}' AS t, :n + 1 AS n", {"k": b"\x01\xff", "n": 41})
            rows = [tuple(r) for r in got.collect()]
            _emit("sql_with_args", rows == [("01FF", "{x}", 42)], repr(rows))
        except Exception as exc:  # noqa: BLE001
            _emit("sql_with_args", False, f"{type(exc).__name__}: {exc}")
        for name in names:
            try:
                check_case(spark, name, workdir / "tables")
            except Exception as exc:  # noqa: BLE001 - reported to the parent test
                _emit(name, False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            else:
                _emit(name, True)
        try:
            case = CASES["partitioned_date"](workdir / "sql")
            register_delta(spark, "daily", case.uri)
            got = {r["day"]: r["total"] for r in spark.sql("SELECT day, sum(qty) AS total FROM daily GROUP BY day").collect()}
            want = {dt.date(2024, 1, 1): 10, dt.date(2024, 1, 2): 20, None: 30}
            _emit("sql_over_view", got == want, repr(got))
        except Exception as exc:  # noqa: BLE001
            _emit("sql_over_view", False, f"{type(exc).__name__}: {exc}")
    finally:
        stop_spark()
    _emit("done", True, f"{time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
