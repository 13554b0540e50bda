"""Replaying a quarantine against ingesting the same rows clean (the floor).

One run, N rows (100k by default) of a five-column contract with a primary
key, an allowed set, a range, a PII column and a timestamp:
  1. the floor: the rows, all good, ingested into a fresh dataset;
  2. the same rows ingested into another dataset with a country its contract
     does not allow, ``on_error=quarantine`` (every row quarantined);
  3. the contract relaxed, the quarantine replayed: every row re-read from
     the quarantine table (JSON records, PII decrypted), checked again,
     checked against the table's keys, landed in one commit and recorded.
Prints the replay's ratio to the floor. A replay rebuilds the batch from the
quarantine's JSON records row by row, so it costs more than a clean ingest
of Arrow columns; the target bounds that cost. Also prints, for information,
how long the quarantine page's reads take (the oldest 100 rows, the trend).

    .venv/bin/python bench/quarantine.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lake.service import Lake
from lake.settings import Settings

from _report import ratio_line

TARGET = 15.0


def contract(name: str, allowed: list[str]) -> dict[str, object]:
    return {"dataset": name, "owner": "bench", "primary_key": ["id"], "columns": [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "country", "type": "string", "nullable": False, "allowed": allowed},
        {"name": "revenue", "type": "decimal(12,2)", "min": 0},
        {"name": "email", "type": "string", "pii": True},
        {"name": "at", "type": "timestamp"},
    ]}


def rows(n: int, country: str) -> pa.Table:
    return pa.table({"id": pa.array(range(n), pa.int64()), "country": [country] * n,
                     "revenue": [f"{i % 1000}.{i % 100:02d}" for i in range(n)],
                     "email": [f"user{i}@example.com" for i in range(n)],
                     "at": ["2026-10-01T10:00:00Z"] * n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lakegate-bench-quarantine-"))
    try:
        lake = Lake(Settings(home=home))
        lake.register(contract("bench.clean", ["US", "DE"]), actor="bench")
        lake.register(contract("bench.late", ["US", "DE"]), actor="bench")
        started = time.perf_counter()
        lake.ingest_table("bench.clean", rows(args.rows, "US"), actor="bench")
        floor = time.perf_counter() - started
        result = lake.ingest_table("bench.late", rows(args.rows, "MX"), actor="bench", on_error="quarantine")
        assert result.rejected_rows == args.rows
        lake.evolve("bench.late", contract("bench.late", ["US", "DE", "MX"]), actor="bench")
        started = time.perf_counter()
        replayed = lake.quarantine.replay("bench.late", actor="bench")
        replay = time.perf_counter() - started
        assert replayed.landed == args.rows, replayed
        started = time.perf_counter()
        lake.quarantine.rows("bench.late", limit=100)
        lake.quarantine.trend("bench.late")
        page = time.perf_counter() - started
        lake.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(ratio_line(f"quarantine replay of {args.rows:,} rows", f"{floor:.2f} s (clean ingest of the same rows)",
                     f"{replay:.2f} s", replay / floor, "<=", TARGET))
    print(f"quarantine page reads (oldest 100 rows and the trend, {args.rows:,} rows replayed): {page:.2f} s")


if __name__ == "__main__":
    main()
