"""Crash and restart: an ingest process is killed with SIGKILL at several points
of a commit, then the lake is opened again and the batch retried. Table,
catalog and counts must agree, and the retry must land at once.

The child process stops itself at the chosen point (it wraps one step of its
own ingest to report and wait there), and the test kills it with ``kill -9``:
the crash is real, only its moment is chosen.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc

DS = "ads.conversions"
#: Where the child stops: before the Delta commit of the batch (its quarantined
#: rows already committed), between the Delta commit and the catalog's update,
#: and after the catalog's update.
POINTS = ["before_commit", "after_delta_commit", "after_catalog"]


def batch(first: int, n: int, *, bad: int = 0) -> bytes:
    good = "".join(f"{k},US,1.00\n" for k in range(first, first + n))
    rejected = "".join(f"{k},XX,1.00\n" for k in range(first + n, first + n + bad))  # country not allowed
    return ("conversion_id,country,revenue\n" + good + rejected).encode()


def _child(home: str, url: str, point: str, mode: str, key: str | None, payload: bytes, stopped: Any) -> None:
    import time

    from lake import ingest, tables

    def stop() -> None:
        stopped.set()
        time.sleep(600)  # the test kills this process here

    real_write, real_commit = tables.DeltaTableIO._write, ingest.Ingestor._commit
    real_upsert = tables.DeltaTableIO.upsert

    def write(self: Any, *args: Any, **kwargs: Any) -> int:
        main = "quarantine" not in self.label
        if main and point == "before_commit":
            stop()
        version = real_write(self, *args, **kwargs)
        if main and point == "after_delta_commit":
            stop()
        return version

    def upsert(self: Any, *args: Any, **kwargs: Any) -> int:
        if point == "before_commit":
            stop()
        version = real_upsert(self, *args, **kwargs)
        if point == "after_delta_commit":
            stop()
        return version

    def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = real_commit(self, *args, **kwargs)
        if point == "after_catalog":
            stop()
        return result

    tables.DeltaTableIO._write = write  # type: ignore[method-assign]
    tables.DeltaTableIO.upsert = upsert  # type: ignore[method-assign]
    ingest.Ingestor._commit = commit  # type: ignore[method-assign]
    lake = Lake(Settings(home=Path(home), database_url=url))
    lake.ingest(DS, payload, "csv", actor="crashing", mode=mode, on_error="quarantine", idempotency_key=key)


def crash(home: Path, url: str, point: str, payload: bytes, *, mode: str = "append", key: str | None) -> None:
    """Run an ingest in a child process and kill -9 it at ``point``."""
    ctx = mp.get_context("spawn")
    stopped = ctx.Event()
    proc = ctx.Process(target=_child, args=(str(home), url, point, mode, key, payload, stopped))
    proc.start()
    try:
        assert stopped.wait(120), f"the ingest never reached {point} (exit code {proc.exitcode})"
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.join(60)
    assert proc.exitcode == -signal.SIGKILL


def data_files(table_dir: Path) -> tuple[set[str], set[str]]:
    """Data files on disk, and every data file any commit of the log added."""
    added = set()
    for entry in (table_dir / "_delta_log").glob("*.json"):
        for line in entry.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                added.add(Path(action["add"]["path"]).name)
    return {p.name for p in table_dir.rglob("*.parquet")}, added


def assert_consistent(lake: Lake) -> None:
    """Catalog and Delta log agree: each commit once, at its own version, with the table's row counts."""
    info = lake.dataset(DS)
    commits = lake.commits(DS)
    history = {h["version"]: h for h in lake.history(DS)}
    with lake.catalog.session() as s:
        from sqlalchemy import func, select

        from lake.catalog.models import Commit

        pending = s.scalar(select(func.count()).select_from(Commit).where(Commit.status == "pending"))
    assert pending == 0
    for c in commits:
        if c["table_version"] is not None:
            assert history[c["table_version"]]["idempotency_key"] == c["idempotency_key"]
    keys = [c["idempotency_key"] for c in commits if c["idempotency_key"]]
    assert len(keys) == len(set(keys))
    assert lake.read(DS).num_rows == sum(c["rows"] for c in commits)
    quarantine = lake.datasets.table(info, quarantine=True)
    quarantined = quarantine.read().num_rows if quarantine.exists() else 0
    assert quarantined == sum(c["rejected_rows"] for c in commits)
    for table_dir in (Path(info.table_uri), Path(info.quarantine_uri)):
        if table_dir.exists():
            on_disk, added = data_files(table_dir)
            assert on_disk <= added, f"orphan files left: {on_disk - added}"


@pytest.fixture
def crash_lake(catalog_url: str, tmp_path: Path) -> tuple[Path, str]:
    home = tmp_path / "home"
    lake = Lake(Settings(home=home, database_url=catalog_url))
    lake.register(contract_doc(), actor="alice")
    lake.ingest(DS, batch(0, 10), "csv", actor="seed", idempotency_key="seed")
    lake.close()
    return home, catalog_url


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_killed_ingest_then_retry_with_the_same_key(crash_lake: tuple[Path, str], point: str) -> None:
    home, url = crash_lake
    payload = batch(100, 20, bad=3)
    crash(home, url, point, payload, key="nightly-7")

    lake = Lake(Settings(home=home, database_url=url, commit_lock_timeout=5))  # opening settles the crash
    assert_consistent(lake)
    retry = lake.ingest(DS, payload, "csv", actor="retry", on_error="quarantine", idempotency_key="nightly-7")
    assert (retry.rows, retry.rejected_rows) == (20, 3)
    assert retry.replayed is (point != "before_commit")
    assert_consistent(lake)
    assert lake.read(DS).num_rows == 30
    landed = [c for c in lake.commits(DS) if c["idempotency_key"] == "nightly-7"]
    assert len(landed) == 1 and landed[0]["rows"] == 20 and landed[0]["rejected_rows"] == 3
    assert landed[0]["table_version"] == lake.datasets.table(lake.dataset(DS)).version()
    lake.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_delta_commit"])
def test_killed_ingest_without_a_key_is_settled_on_start(crash_lake: tuple[Path, str], point: str) -> None:
    home, url = crash_lake
    crash(home, url, point, batch(100, 20), key=None)
    lake = Lake(Settings(home=home, database_url=url))
    assert_consistent(lake)
    expected = 30 if point == "after_delta_commit" else 10
    assert lake.read(DS).num_rows == expected
    assert [c["rows"] for c in lake.commits(DS)] == ([20, 10] if expected == 30 else [10])
    lake.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_delta_commit"])
def test_killed_upsert_then_retry(crash_lake: tuple[Path, str], point: str) -> None:
    home, url = crash_lake
    payload = ("conversion_id,country,revenue\n" + "".join(f"{k},DE,9.00\n" for k in range(5, 15))).encode()
    crash(home, url, point, payload, mode="upsert", key="fix-1")
    lake = Lake(Settings(home=home, database_url=url))
    retry = lake.ingest(DS, payload, "csv", actor="retry", mode="upsert", idempotency_key="fix-1")
    assert retry.rows == 10 and retry.replayed is (point == "after_delta_commit")
    assert lake.read(DS).num_rows == 15
    commits = lake.commits(DS)
    assert [c["rows"] for c in commits] == [10, 10]
    history = {h["version"]: h["idempotency_key"] for h in lake.history(DS)}
    assert history[commits[0]["table_version"]] == "fix-1"
    lake.close()
