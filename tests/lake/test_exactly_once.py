"""Exactly-once landing under concurrency, on SQLite and PostgreSQL: racing
producers (threads and processes) never both land a key, each commit records
its own table version, overlapping upserts all land without leaving files
behind, and a busy table is refused with advice."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lake.errors import ContractViolation, LakegateError, TableBusy
from lake.ingest import IngestResult
from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc

DS = "ads.conversions"


def csv(keys: range | list[int], country: str = "US", revenue: str = "1.00") -> bytes:
    return ("conversion_id,country,revenue\n" + "".join(f"{k},{country},{revenue}\n" for k in keys)).encode()


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released at the same moment; each outcome or error."""
    barrier = threading.Barrier(n)
    outcomes: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def files_on_disk(table_dir: Path) -> set[str]:
    return {p.name for p in table_dir.rglob("*.parquet")}


def files_in_log(lake: Lake, name: str) -> set[str]:
    """Every data file any version of the table added."""
    import json

    info = lake.dataset(name)
    names = set()
    for entry in sorted((Path(info.table_uri) / "_delta_log").glob("*.json")):
        for line in entry.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                names.add(Path(action["add"]["path"]).name)
    return names


@pytest.fixture
def shared_lake(catalog_url: str, tmp_path: Path) -> Lake:
    lk = Lake(Settings(home=tmp_path / "home", database_url=catalog_url))
    lk.register(contract_doc(), actor="alice")
    return lk


def test_racing_appends_of_the_same_keys_land_once(shared_lake: Lake) -> None:
    lake = shared_lake
    for round_ in range(3):
        keys = range(round_ * 1000, round_ * 1000 + 500)
        outcomes = race(4, lambda i, keys=keys: lake.ingest(DS, csv(keys), "csv", actor=f"p{i}"))
        landed = [o for o in outcomes if isinstance(o, IngestResult)]
        refused = [o for o in outcomes if isinstance(o, ContractViolation)]
        assert len(landed) == 1 and len(refused) == 3, outcomes
        assert all("already in the table" in str(e) for e in refused)
    ids = lake.read(DS, columns=["conversion_id"]).column("conversion_id").to_pylist()
    assert len(ids) == len(set(ids)) == 1500
    assert sum(c["rows"] for c in lake.commits(DS)) == 1500
    lake.close()


def _producer(home: str, url: str, keys: list[int], start: Any, out: Any) -> None:
    lk = Lake(Settings(home=Path(home), database_url=url))
    start.wait(60)
    try:
        out.put(lk.ingest(DS, csv(keys), "csv", actor="proc").rows)
    except LakegateError as exc:
        out.put(type(exc).__name__)
    finally:
        lk.close()


@pytest.mark.slow
def test_racing_producer_processes_land_each_key_once(shared_lake: Lake, catalog_url: str, tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    keys = list(range(300))
    procs = [ctx.Process(target=_producer, args=(str(tmp_path / "home"), catalog_url, keys, start, out))
             for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    outcomes = sorted(str(out.get(timeout=180)) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert outcomes == ["300", "ContractViolation", "ContractViolation", "ContractViolation"]
    ids = shared_lake.read(DS, columns=["conversion_id"]).column("conversion_id").to_pylist()
    assert sorted(ids) == keys
    shared_lake.close()


def test_each_commit_records_its_own_table_version(shared_lake: Lake) -> None:
    lake = shared_lake
    outcomes = race(8, lambda i: lake.ingest(DS, csv(range(i * 10, i * 10 + 10)), "csv", actor=f"p{i}",
                                             idempotency_key=f"batch-{i}"))
    assert all(isinstance(o, IngestResult) for o in outcomes), outcomes
    by_version = {h["version"]: h["idempotency_key"] for h in lake.history(DS)}
    for i, result in enumerate(outcomes):
        assert by_version[result.table_version] == f"batch-{i}"
    recorded = {c["idempotency_key"]: c["table_version"] for c in lake.commits(DS)}
    assert all(by_version[v] == k for k, v in recorded.items())
    assert sorted(recorded.values()) == list(range(1, 9))
    lake.close()


def test_overlapping_upserts_all_land_and_leave_no_file_behind(shared_lake: Lake) -> None:
    lake = shared_lake
    lake.ingest(DS, csv(range(100)), "csv", actor="seed")
    for round_ in range(2):
        outcomes = race(4, lambda i, round_=round_: lake.ingest(DS, csv(range(i * 10, 100 + i * 10),
                                                                        revenue=f"{round_}.{i}0"),
                                                                "csv", actor=f"p{i}", mode="upsert"))
        assert all(isinstance(o, IngestResult) for o in outcomes), outcomes
    rows = lake.read(DS, columns=["conversion_id"]).column("conversion_id").to_pylist()
    assert sorted(rows) == list(range(130))
    assert len(lake.commits(DS)) == 9
    info = lake.dataset(DS)
    assert files_on_disk(Path(info.table_uri)) == files_in_log(lake, DS)
    lake.close()


def test_a_busy_table_is_refused_with_advice(tmp_path: Path) -> None:
    lake = Lake(Settings(home=tmp_path / "home", commit_lock_timeout=0.2))
    info = lake.register(contract_doc(), actor="alice")
    with lake.catalog.table_lock(info.id, timeout=1), pytest.raises(TableBusy, match="retry") as caught:
        lake.ingest(DS, csv([1]), "csv", actor="a", idempotency_key="k")
    assert caught.value.http_status == 409 and str(tmp_path) not in str(caught.value)
    assert lake.read(DS).num_rows == 0
    assert lake.ingest(DS, csv([1]), "csv", actor="a", idempotency_key="k").rows == 1  # the retry lands
    lake.close()


def _hold_lock(url: str, table_id: int, held: Any, release: Any) -> None:
    from lake.catalog import Catalog

    cat = Catalog(url)
    with cat.table_lock(table_id, timeout=5):
        held.set()
        release.wait(60)
    cat.dispose()


def test_the_table_lock_is_shared_by_processes_and_freed_when_its_holder_dies(catalog_url: str) -> None:
    from lake.catalog import Catalog

    ctx = mp.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(catalog_url, 7, held, release))
    holder.start()
    assert held.wait(60)
    cat = Catalog(catalog_url)
    with pytest.raises(TableBusy), cat.table_lock(7, timeout=0.1, what="ads.conversions"):
        pass
    with cat.table_lock(8, timeout=0):  # another table is free
        pass
    holder.kill()  # kill -9: the database or the kernel frees the lock
    holder.join(30)
    with cat.table_lock(7, timeout=10):
        pass
    cat.dispose()
