"""Validated ingest against a raw Parquet write (the limit) and Spark (a peer).

One run, one batch of N rows (5M by default): the same Arrow table is
  1. written raw with ``pyarrow.parquet.write_table`` (no checks: the limit),
  2. ingested by Lakegate into a Delta table (contract validation with a
     primary key, allowed sets and ranges, then one Delta commit),
  3. written as Parquet by Spark local from a cached DataFrame (a peer).
Prints rows/s and the ratio of each to the raw write. Target: Lakegate's
validated ingest reaches at least 0.6x the raw write's rows/s.

    .venv/bin/python bench/ingest.py [--rows 5000000] [--no-spark]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

COUNTRIES = ["US", "DE", "FR", "GB", "JP", "IN", "BR", "CA"]
DEVICES = ["tv", "mobile", "web", "console", "tablet"]
CONTRACT = {
    "dataset": "bench.events",
    "owner": "bench",
    "primary_key": ["event_id"],
    "columns": [
        {"name": "event_id", "type": "int64", "nullable": False},
        {"name": "subscriber_id", "type": "int64", "nullable": False},
        {"name": "country", "type": "string", "nullable": False, "allowed": COUNTRIES},
        {"name": "device", "type": "string", "allowed": DEVICES},
        {"name": "watch_seconds", "type": "int64", "min": 0, "max": 86400},
        {"name": "event_ts", "type": "timestamp", "nullable": False},
    ],
}


def make_batch(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-10-01T00:00:00", "us")
    return pa.table({
        "event_id": pa.array(rng.permutation(n).astype(np.int64)),
        "subscriber_id": pa.array(rng.integers(0, n // 20 + 1, n)),
        "country": pa.array(np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)]),
        "device": pa.array(np.array(DEVICES)[rng.integers(0, len(DEVICES), n)]),
        "watch_seconds": pa.array(rng.integers(0, 7200, n)),
        "event_ts": pa.array(start + rng.integers(0, 30 * 86400 * 10**6, n).astype("timedelta64[us]"),
                             pa.timestamp("us", tz="UTC")),
    })


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    n = args.rows
    work = Path(tempfile.mkdtemp(prefix="lakegate-bench-"))
    try:
        batch = make_batch(n)
        print(f"batch: {n:,} rows, {batch.nbytes / 2**20:.0f} MiB in memory")

        raw_s = timed(lambda: pq.write_table(batch, work / "raw.parquet"))

        lake = Lake(Settings(home=work / "home"))
        lake.register(CONTRACT, actor="bench")
        result = None

        def ingest() -> None:
            nonlocal result
            result = lake.ingest_table("bench.events", batch, actor="bench")

        lake_s = timed(ingest)
        assert result is not None and result.rows == n, result
        lake.close()

        results = [("pyarrow write_table (raw, limit)", raw_s), ("lakegate validated ingest", lake_s)]
        if not args.no_spark:
            from lake.spark import spark_session, stop_spark

            spark = spark_session(Settings(home=work / "home"))
            df = spark.read.parquet(str(work / "raw.parquet")).cache()
            df.count()
            spark_s = timed(lambda: df.write.mode("overwrite").parquet(str(work / "spark.parquet")))
            stop_spark()
            results.append(("spark local write.parquet (peer)", spark_s))

        print(f"{'writer':<36} {'seconds':>8} {'rows/s':>14} {'vs raw':>7}")
        for name, secs in results:
            print(f"{name:<36} {secs:>8.2f} {n / secs:>14,.0f} {raw_s / secs:>6.2f}x")
        ratio = raw_s / lake_s
        verdict = "meets" if ratio >= 0.6 else "MISSES"
        print(f"lakegate/raw throughput ratio {ratio:.2f} ({verdict} the 0.6x target)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
