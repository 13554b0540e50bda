from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pytest

from lake.errors import NotFound, StorageError
from lake.tables import CommitInfo, DeltaTableIO

SCHEMA = pa.schema([("id", pa.int64()), ("country", pa.string()), ("v", pa.float64())])


def rows(t: pa.Table) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(tuple(r.values()) for r in t.to_pylist())


@pytest.fixture
def table(tmp_path: Path) -> DeltaTableIO:
    t = DeltaTableIO(str(tmp_path / "t"))
    t.create(SCHEMA, CommitInfo(actor="alice", reason="create"), partition_by=["country"])
    return t


def batch(*items: tuple) -> pa.Table:  # type: ignore[type-arg]
    return pa.Table.from_pylist([dict(zip(SCHEMA.names, i, strict=True)) for i in items], schema=SCHEMA)


def test_append_overwrite_upsert_and_time_travel(table: DeltaTableIO) -> None:
    v1 = table.append(batch((1, "US", 1.0), (2, "DE", 2.0)), CommitInfo(actor="a"))
    v2 = table.append(batch((3, "US", 3.0)), CommitInfo(actor="a"))
    v3 = table.upsert(batch((1, "US", 10.0), (4, "FR", 4.0)), ["id"], CommitInfo(actor="b"))
    assert rows(table.read()) == [(1, "US", 10.0), (2, "DE", 2.0), (3, "US", 3.0), (4, "FR", 4.0)]
    assert rows(table.read(version=v1)) == [(1, "US", 1.0), (2, "DE", 2.0)]
    assert rows(table.read(version=v2)) == [(1, "US", 1.0), (2, "DE", 2.0), (3, "US", 3.0)]
    time.sleep(0.01)
    stamp = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    v4 = table.overwrite(batch((9, "DE", 9.0)), CommitInfo(actor="c"))
    assert v4 == v3 + 1
    assert rows(table.read()) == [(9, "DE", 9.0)]
    assert len(table.read(timestamp=stamp)) == 4
    with pytest.raises(NotFound):
        table.read(version=99)


def test_every_commit_records_actor_reason_and_key(table: DeltaTableIO) -> None:
    table.append(batch((1, "US", 1.0)), CommitInfo(actor="alice", reason="daily load", idempotency_key="k-1"))
    newest = table.history()[0]
    assert (newest["actor"], newest["reason"], newest["idempotency_key"]) == ("alice", "daily load", "k-1")
    assert table.find_idempotency_key("k-1") == newest["version"]
    assert table.find_idempotency_key("other") is None
    assert [h["actor"] for h in table.history()][-1] == "alice"  # the create commit


def test_optimize_and_vacuum_keep_rows(table: DeltaTableIO, tmp_path: Path) -> None:
    for i in range(5):
        table.append(batch((i, "US", float(i))), CommitInfo(actor="a"))
    before = rows(table.read())
    metrics = table.optimize(CommitInfo(actor="ops", reason="compact"))
    assert metrics["numFilesRemoved"] == 5
    removed = table.vacuum(CommitInfo(actor="ops"), retention_hours=0)
    assert len(removed) == 5
    assert rows(table.read()) == before
    assert len(list((tmp_path / "t" / "country=US").glob("*.parquet"))) == 1


def test_open_missing_table_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        DeltaTableIO(str(tmp_path / "missing")).read()


def test_a_write_returns_its_own_version_not_the_newest(table: DeltaTableIO) -> None:
    first = table.append(batch((1, "US", 1.0)), CommitInfo(actor="a", extra={"commit_id": "1"}))
    other = DeltaTableIO(table.uri)
    other.append(batch((2, "US", 2.0)), CommitInfo(actor="b"))
    mine = table.upsert(batch((1, "US", 5.0)), ["id"], CommitInfo(actor="a", extra={"commit_id": "2"}))
    assert (first, mine) == (1, 3)
    found = table.find_commits("commit_id", ["1", "2", "9"])
    assert {k: v["version"] for k, v in found.items()} == {"1": 1, "2": 3}


def test_errors_name_the_table_never_its_location(tmp_path: Path) -> None:
    missing = DeltaTableIO(str(tmp_path / "lake" / "ads" / "x" / "v1"), label="ads.x (major 1)")
    with pytest.raises(NotFound) as caught:
        missing.read()
    assert "ads.x (major 1)" in str(caught.value) and str(tmp_path) not in str(caught.value)


def _keys(*ids: int | None) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64())})


def test_find_keys_answers_which_keys_are_in_the_table(table: DeltaTableIO) -> None:
    assert table.find_keys(_keys(1, 2)).num_rows == 0  # no files yet
    table.append(batch((1, "US", 1.0), (2, "DE", 2.0)), CommitInfo(actor="a"))
    table.append(batch((10, "US", 1.0), (20, "FR", 2.0)), CommitInfo(actor="a"))
    assert sorted(table.find_keys(_keys(2, 3, 20, None, 99)).column("id").to_pylist()) == [2, 20]
    pairs = pa.table({"id": pa.array([1, 1, 20], pa.int64()), "country": ["US", "DE", "FR"]})
    assert table.find_keys(pairs).to_pylist() == [{"id": 1, "country": "US"}, {"id": 20, "country": "FR"}]
    many = _keys(*range(0, 30_000))  # more keys than the per-value pruning takes: pruned by range
    assert sorted(table.find_keys(many).column("id").to_pylist()) == [1, 2, 10, 20]


def test_find_keys_reads_only_files_whose_statistics_may_hold_a_key(table: DeltaTableIO, tmp_path: Path) -> None:
    table.append(batch(*[(i, "US", 1.0) for i in range(0, 100)]), CommitInfo(actor="a"))
    old = set((tmp_path / "t" / "country=US").glob("*.parquet"))
    table.append(batch(*[(i, "US", 1.0) for i in range(100, 200)]), CommitInfo(actor="a"))
    for f in old:  # the file of keys 0-99 becomes unreadable
        f.write_bytes(b"not parquet")
    assert table.find_keys(_keys(150, 250)).column("id").to_pylist() == [150]
    with pytest.raises(StorageError) as caught:  # a lookup that needs it does read it
        table.find_keys(_keys(50))
    assert str(tmp_path) not in str(caught.value)


def test_find_keys_with_string_and_timestamp_keys(tmp_path: Path) -> None:
    schema = pa.schema([("k", pa.string()), ("ts", pa.timestamp("us", tz="UTC"))])
    t = DeltaTableIO(str(tmp_path / "s"))
    t.create(schema, CommitInfo(actor="a"))
    at = dt.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=dt.UTC)  # statistics keep milliseconds only
    t.append(pa.table({"k": ["a" * 40 + "z", "b"], "ts": [at, at]}, schema=schema), CommitInfo(actor="a"))
    probe = pa.table({"k": ["a" * 40 + "z", "c"], "ts": [at, at]}, schema=schema)
    assert t.find_keys(probe).column("k").to_pylist() == ["a" * 40 + "z"]
    assert t.find_keys(probe.select(["ts"])).num_rows == 2


def test_full_vacuum_removes_orphans_after_the_retention_and_keeps_time_travel(
        table: DeltaTableIO, tmp_path: Path) -> None:
    import os

    table.append(batch((1, "US", 1.0)), CommitInfo(actor="a"))
    v2 = table.overwrite(batch((2, "US", 2.0)), CommitInfo(actor="a"))
    part = tmp_path / "t" / "country=US"
    old_orphan, new_orphan = part / "part-00000-dead-writer-old.parquet", part / "part-00000-dead-writer-new.parquet"
    old_orphan.write_bytes(b"left by a killed writer")
    new_orphan.write_bytes(b"maybe a writer in flight")
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old_orphan, (week_ago, week_ago))

    listed = table.vacuum(CommitInfo(actor="ops"), retention_hours=168, dry_run=True)
    assert listed == ["country=US/part-00000-dead-writer-old.parquet"]
    assert old_orphan.exists()
    assert table.vacuum(CommitInfo(actor="ops"), retention_hours=168) == listed
    assert not old_orphan.exists() and new_orphan.exists()
    assert rows(table.read(version=v2 - 1)) == [(1, "US", 1.0)]  # the overwritten version is within the retention
    assert rows(table.read()) == [(2, "US", 2.0)]


def test_remove_unreferenced_deletes_only_new_files_the_log_does_not_name(table: DeltaTableIO,
                                                                          tmp_path: Path) -> None:
    table.append(batch((1, "US", 1.0)), CommitInfo(actor="a"))
    part = tmp_path / "t" / "country=US"
    before = part / "part-00000-before.parquet"
    before.write_bytes(b"older than the failed write")
    os_time = time.time() - 60
    import os

    os.utime(before, (os_time, os_time))
    since = dt.datetime.now(dt.UTC)
    (part / "part-00000-failed.parquet").write_bytes(b"written by the failed write")
    assert table.remove_unreferenced(since) == ["country=US/part-00000-failed.parquet"]
    assert before.exists() and rows(table.read()) == [(1, "US", 1.0)]


def test_racing_upserts_are_retried_or_refused_as_a_conflict(table: DeltaTableIO, tmp_path: Path) -> None:
    import threading

    from lake.errors import CommitConflict

    table.append(batch(*[(i, "US", 0.0) for i in range(20)]), CommitInfo(actor="seed"))
    barrier, outcomes = threading.Barrier(4), [None] * 4

    def upsert(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = table.upsert(batch(*[(k, "US", float(i)) for k in range(20)]), ["id"],  # type: ignore[call-overload]
                                       CommitInfo(actor=f"w{i}"))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc  # type: ignore[call-overload]

    threads = [threading.Thread(target=upsert, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for o in outcomes:
        assert isinstance(o, int) or (isinstance(o, CommitConflict) and "retry" in str(o)
                                      and str(tmp_path) not in str(o)), repr(o)
    versions = [o for o in outcomes if isinstance(o, int)]
    assert len(set(versions)) == len(versions) >= 1
    assert len(rows(table.read())) == 20


def test_a_unique_column_is_written_without_a_dictionary_and_the_rest_as_before(tmp_path: Path) -> None:
    """Snappy everywhere (as ``pyarrow`` writes); a column named unique gets no dictionary page."""
    import pyarrow.parquet as pq

    t = DeltaTableIO(str(tmp_path / "u"))
    t.create(SCHEMA, CommitInfo(actor="a"))
    data = pa.table({"id": list(range(1000)), "country": ["US", "DE"] * 500, "v": [1.0] * 1000}, schema=SCHEMA)
    t.append(data, CommitInfo(actor="a"), unique=["id"])
    t.append(data, CommitInfo(actor="a"))
    written = sorted((tmp_path / "u").glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns)
    chunks = [{c.path_in_schema: c for c in (pq.ParquetFile(p).metadata.row_group(0).column(i)
                                             for i in range(3))} for p in written]
    assert not chunks[0]["id"].has_dictionary_page and chunks[0]["country"].has_dictionary_page
    assert chunks[1]["id"].has_dictionary_page  # not named unique: delta-rs's default
    assert {c.compression for f in chunks for c in f.values()} == {"SNAPPY"}
    assert rows(t.read()) == rows(pa.concat_tables([data, data]))
