"""Ingestion end to end on the embedded default: formats, rejection without a
trace, quarantine, idempotency, PII encryption, evolution and concurrency."""

from __future__ import annotations

import io
import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.errors import ContractViolation, InvalidInput, MalformedBatch
from lake.landing import process_landing
from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc

DS = "ads.conversions"
GOOD = [
    {"conversion_id": 1, "country": "US", "revenue": "10.50", "email": "ann@example.com", "converted_at": "2026-10-01T10:00:00Z"},
    {"conversion_id": 2, "country": "DE", "revenue": "3.00", "email": None, "converted_at": "2026-10-02T11:30:00Z"},
]


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    cols = list(contract_doc()["columns"])
    names = [c["name"] for c in cols]
    lines = [",".join(names)] + [",".join("" if r.get(n) is None else str(r[n]) for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def typed(rows: list[dict[str, Any]], lake: Lake) -> pa.Table:
    from lake.formats import read_batch
    from lake.validation import validate

    contract = lake.dataset(DS).contract
    return validate(read_batch(csv_bytes(rows), "csv", contract=contract), contract).table


def parquet_bytes(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(t, buf)
    return buf.getvalue()


def arrow_bytes(t: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return sink.getvalue().to_pybytes()


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows).encode()


def clear(lake: Lake) -> list[dict[str, Any]]:
    return sorted(lake.read(DS, decrypt=True).to_pylist(), key=lambda r: r["conversion_id"])


@pytest.fixture
def ds(lake: Lake, make_dataset: Any) -> Any:
    return make_dataset()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow", "jsonl"])
def test_each_format_lands_the_same_rows(lake: Lake, ds: Any, fmt: str) -> None:
    data = {
        "csv": lambda: csv_bytes(GOOD),
        "parquet": lambda: parquet_bytes(typed(GOOD, lake)),
        "arrow": lambda: arrow_bytes(typed(GOOD, lake)),
        "jsonl": lambda: jsonl_bytes(GOOD),
    }[fmt]()
    result = lake.ingest(DS, data, fmt, actor="alice", reason="test")
    assert (result.rows, result.table_version) == (2, 1)
    got = clear(lake)
    assert [r["email"] for r in got] == ["ann@example.com", None]
    assert str(got[0]["revenue"]) == "10.50"
    assert got[1]["converted_at"].isoformat() == "2026-10-02T11:30:00+00:00"


BAD_BATCHES = {
    "wrong type": (lambda lk: csv_bytes([{**GOOD[0], "revenue": "ten"}]), "csv", ContractViolation, "revenue"),
    "null in required": (lambda lk: csv_bytes([{**GOOD[0], "country": None}]), "csv", ContractViolation, "country"),
    "duplicate key": (lambda lk: csv_bytes([GOOD[0], GOOD[0]]), "csv", ContractViolation, "conversion_id"),
    "key already stored": (lambda lk: csv_bytes([GOOD[1]]), "csv", ContractViolation, "conversion_id"),
    "unknown column": (lambda lk: jsonl_bytes([{**GOOD[0], "conversion_id": 5, "extra": 1}]), "jsonl", ContractViolation, "extra"),
    "not allowed": (lambda lk: csv_bytes([{**GOOD[0], "conversion_id": 6, "country": "XX"}]), "csv", ContractViolation, "country"),
    "malformed csv": (lambda lk: csv_bytes(GOOD)[:-1] + b",extra,fields\n", "csv", MalformedBatch, None),
    "malformed jsonl": (lambda lk: b'{"conversion_id": 7, "country": "US"}\n{"conversion_id": \n', "jsonl", MalformedBatch, None),
    "truncated parquet": (lambda lk: parquet_bytes(typed([{**GOOD[0], "conversion_id": 8}], lk))[:-40], "parquet", MalformedBatch, None),
    "truncated arrow": (lambda lk: arrow_bytes(typed([{**GOOD[0], "conversion_id": 9}], lk))[:-30], "arrow", MalformedBatch, None),
}


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_bad_batch_is_rejected_and_table_unchanged(lake: Lake, ds: Any, case: str) -> None:
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="alice")
    before_version = lake.datasets.table(ds).version()
    before_rows = clear(lake)
    make, fmt, exc_type, column = BAD_BATCHES[case]
    with pytest.raises(exc_type) as err:
        lake.ingest(DS, make(lake), fmt, actor="alice")
    if column:
        assert column in {v.column for v in err.value.violations}
        v = next(v for v in err.value.violations if v.column == column)
        assert v.failing_rows >= 1 and v.row_numbers
    assert DS in str(err.value)
    assert lake.datasets.table(ds).version() == before_version
    assert clear(lake) == before_rows
    assert len(lake.commits(DS)) == 1  # no commit row left behind


def test_malformed_csv_names_the_line(lake: Lake, ds: Any) -> None:
    data = csv_bytes(GOOD) + b"3,US,1,x@y,2026-01-01T00:00:00Z,surplus\n"
    with pytest.raises(MalformedBatch) as err:
        lake.ingest(DS, data, "csv", actor="alice")
    assert err.value.line == 4  # header is line 1


def test_quarantine_commits_good_rows_and_keeps_bad_ones(lake: Lake, ds: Any) -> None:
    rows = [GOOD[0], {**GOOD[1], "country": "XX", "email": "secret@example.com"},
            {**GOOD[1], "conversion_id": 3, "revenue": "-1"}]
    result = lake.ingest(DS, csv_bytes(rows), "csv", actor="alice", on_error="quarantine")
    assert (result.rows, result.rejected_rows) == (1, 2)
    assert [r["conversion_id"] for r in clear(lake)] == [1]
    q = lake.datasets.table(ds, quarantine=True).read().sort_by("row_number").to_pylist()
    assert [r["row_number"] for r in q] == [2, 3]
    assert "country" in q[0]["reasons"] and "revenue" in q[1]["reasons"]
    assert json.loads(q[0]["record"])["country"] == "XX"
    assert b"secret@example.com" not in q[0]["pii_record"]  # PII stays encrypted in quarantine
    assert "secret" not in q[0]["record"]


def test_quarantine_still_refuses_batch_level_errors(lake: Lake, ds: Any) -> None:
    with pytest.raises(ContractViolation, match="not in the contract"):
        lake.ingest(DS, jsonl_bytes([{**GOOD[0], "bogus": 1}]), "jsonl", actor="a", on_error="quarantine")


def test_idempotency_key_lands_a_retried_batch_once(lake: Lake, ds: Any) -> None:
    first = lake.ingest(DS, csv_bytes(GOOD), "csv", actor="alice", idempotency_key="batch-42")
    again = lake.ingest(DS, csv_bytes(GOOD), "csv", actor="alice", idempotency_key="batch-42")
    assert again.replayed and again.commit_id == first.commit_id and again.table_version == first.table_version
    assert len(clear(lake)) == 2
    assert lake.history(DS)[0]["idempotency_key"] == "batch-42"


def test_failed_batch_frees_its_idempotency_key(lake: Lake, ds: Any) -> None:
    with pytest.raises(ContractViolation):
        lake.ingest(DS, csv_bytes([{**GOOD[0], "revenue": "bad"}]), "csv", actor="a", idempotency_key="k")
    assert lake.ingest(DS, csv_bytes(GOOD), "csv", actor="a", idempotency_key="k").rows == 2


def test_pii_is_encrypted_in_the_files(lake: Lake, ds: Any, settings: Settings) -> None:
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="alice")
    files = list(Path(ds.table_uri).rglob("*.parquet"))
    assert files
    for f in files:
        assert b"ann@example.com" not in f.read_bytes()
    stored = lake.read(DS)
    assert stored.schema.field("email").type == pa.binary()


def test_upsert_and_overwrite(lake: Lake, ds: Any) -> None:
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="a")
    lake.ingest(DS, csv_bytes([{**GOOD[0], "revenue": "99.00"}, {**GOOD[1], "conversion_id": 3}]), "csv",
                actor="a", mode="upsert")
    assert [(r["conversion_id"], str(r["revenue"])) for r in clear(lake)] == [(1, "99.00"), (2, "3.00"), (3, "3.00")]
    lake.ingest(DS, csv_bytes([GOOD[1]]), "csv", actor="a", mode="overwrite")
    assert [r["conversion_id"] for r in clear(lake)] == [2]
    with pytest.raises(InvalidInput, match="write mode"):
        lake.ingest(DS, csv_bytes(GOOD), "csv", actor="a", mode="replace")


def test_evolved_contract_accepts_new_column(lake: Lake, ds: Any) -> None:
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="a")
    cols = contract_doc()["columns"] + [{"name": "channel", "type": "string"}]
    lake.evolve(DS, contract_doc(columns=cols), actor="a")
    lake.ingest(DS, jsonl_bytes([{"conversion_id": 5, "country": "FR", "channel": "email"}]), "jsonl", actor="a")
    got = clear(lake)
    assert [r.get("channel") for r in got] == [None, None, "email"]
    assert lake.commits(DS)[0]["contract_version"] == 2


def _append_worker(home: str, worker: int, batches: int) -> None:
    lk = Lake(Settings(home=Path(home)))
    for b in range(batches):
        key = worker * 1000 + b
        lk.ingest(DS, f"conversion_id,country\n{key},US\n".encode(), "csv", actor=f"w{worker}",
                  idempotency_key=f"w{worker}-{b}")
    lk.close()


@pytest.mark.slow
def test_concurrent_producers_lose_no_commit(lake: Lake, ds: Any, settings: Settings) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_worker, args=(str(settings.home), w, 5)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ids = sorted(r["conversion_id"] for r in lake.read(DS).to_pylist())
    assert ids == sorted(w * 1000 + b for w in range(4) for b in range(5))
    assert lake.datasets.table(ds).version() == 20
    assert len(lake.commits(DS)) == 20


def test_landing_directory_lands_each_file_once(lake: Lake, ds: Any, settings: Settings) -> None:
    folder = settings.landing_dir / DS
    folder.mkdir(parents=True)
    (folder / "a.csv").write_bytes(csv_bytes([GOOD[0]]))
    (folder / "b.jsonl").write_bytes(jsonl_bytes([GOOD[1]]))
    (folder / "c.csv").write_bytes(csv_bytes([{**GOOD[0], "conversion_id": 9, "country": "XX"}]))
    outcomes = process_landing(lake)
    assert [(o.path, o.ok) for o in outcomes] == [(f"{DS}/a.csv", True), (f"{DS}/b.jsonl", True), (f"{DS}/c.csv", False)]
    assert [r["conversion_id"] for r in clear(lake)] == [1, 2]
    failed = settings.landing_dir / "_failed" / DS
    assert "country" in json.loads((failed / "c.csv.error.json").read_text())["message"]
    # The same file dropped again is recognised by its content and lands once.
    (folder / "a.csv").write_bytes(csv_bytes([GOOD[0]]))
    (again,) = process_landing(lake)
    assert again.ok and again.replayed
    assert len(clear(lake)) == 2


def test_append_key_check_reads_only_files_that_may_hold_the_batch_keys(lake: Lake, ds: Any) -> None:
    lake.ingest(DS, csv_bytes([{**GOOD[0], "conversion_id": i} for i in range(1, 51)]), "csv", actor="a")
    first_files = set(Path(ds.table_uri).rglob("*.parquet"))
    lake.ingest(DS, csv_bytes([{**GOOD[0], "conversion_id": i} for i in range(100, 151)]), "csv", actor="a")
    for f in first_files:  # keys 1-50: statistics rule these files out for keys 200+
        f.write_bytes(b"unreadable")
    landed = lake.ingest(DS, csv_bytes([{**GOOD[0], "conversion_id": i} for i in range(200, 210)]), "csv", actor="a")
    assert landed.rows == 10
    with pytest.raises(ContractViolation, match="already in the table") as caught:
        lake.ingest(DS, csv_bytes([{**GOOD[0], "conversion_id": 120}, {**GOOD[0], "conversion_id": 300}]), "csv",
                    actor="a")
    assert caught.value.violations[0].row_numbers == (1,)


def test_quarantine_reports_keys_already_in_the_table(lake: Lake, ds: Any) -> None:
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="a")
    again = lake.ingest(DS, csv_bytes([GOOD[1], {**GOOD[0], "conversion_id": 3}]), "csv", actor="a",
                        on_error="quarantine")
    assert (again.rows, again.rejected_rows) == (1, 1)
    assert "already in the table" in again.violations[0].reason
    assert [r["conversion_id"] for r in clear(lake)] == [1, 2, 3]
    quarantined = lake.datasets.table(ds, quarantine=True).read().to_pylist()
    assert [(q["row_number"], "already in the table" in q["reasons"]) for q in quarantined] == [(1, True)]


def _nested_column(depth: int) -> pa.Array:
    kind: pa.DataType = pa.int64()
    for _ in range(depth - 1):
        kind = pa.struct([pa.field("a", kind)])
    return pa.array([None], type=kind)


@pytest.mark.parametrize("depth", [65, 200])
def test_a_parquet_schema_nested_too_deep_is_refused_before_its_rows_are_read(lake: Lake, ds: Any,
                                                                              depth: int) -> None:
    # 65: within Arrow's own Parquet limit (100), beyond Lakegate's; 200: beyond both.
    table = typed([{**GOOD[0], "conversion_id": 10}], lake).append_column("deep", _nested_column(depth))
    with pytest.raises(MalformedBatch) as err:
        lake.ingest(DS, parquet_bytes(table), "parquet", actor="alice")
    assert "nested more than 64 levels deep" in str(err.value)
    assert lake.commits(DS) == []
