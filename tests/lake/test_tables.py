from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pytest

from lake.errors import NotFound
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
