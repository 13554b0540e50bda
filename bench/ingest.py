"""Validated ingest against a raw Parquet write (the floor) and Spark (a peer).

One run, one batch of N rows (5M by default, 6 columns): the same Arrow table is
  1. written raw with ``pyarrow.parquet.write_table`` (no checks: the floor),
  2. ingested by Lakegate into a Delta table (contract validation with a
     primary key, allowed sets and ranges, then one Delta commit),
  3. written as Parquet by Spark local from a cached DataFrame (a peer).
The raw write and the ingest alternate ``--repeat`` times (each ingest into a
new dataset); the fastest of each counts. Prints rows/s and the ratio of each
to the raw write. Targets: Lakegate's validated ingest reaches at least 0.8x
the raw write's rows/s, and the process's peak RSS during the first ingest,
above what it held before the batch was built, is at most 2x the batch's
Arrow size (the batch itself counts once).

    .venv/bin/python bench/ingest.py [--rows 5000000] [--repeat 3] [--no-spark]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from _report import ratio_line  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

THROUGHPUT_TARGET = 0.8  # Lakegate rows/s over raw rows/s
MEMORY_TARGET = 2.0  # peak RSS above the start, over the batch's Arrow size

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


def rss() -> int:
    """The process's resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the process's RSS every millisecond while open; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed raw writes and ingests, alternating")
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    n = args.rows
    work = Path(tempfile.mkdtemp(prefix="lakegate-bench-"))
    try:
        lake = Lake(Settings(home=work / "home"))
        names = [f"bench.events_{i}" for i in range(args.repeat + 1)]
        for name in ["bench.warm_up", *names]:
            lake.register({**CONTRACT, "dataset": name}, actor="bench")
        lake.ingest_table("bench.warm_up", make_batch(1000), actor="bench")  # imports, first-use caches
        start_rss = rss()
        batch = make_batch(n)
        print(f"batch: {n:,} rows, {batch.nbytes / 2**20:.0f} MiB in memory")

        def ingest(name: str) -> None:
            result = lake.ingest_table(name, batch, actor="bench")
            assert result.rows == n, result

        # The first ingest is the memory figure (and warms caches); it is not timed.
        with PeakRss() as peak:
            ingest(names[0])
        extra = peak.peak - start_rss
        raw_times, lake_times = [], []
        for i in range(args.repeat):
            raw_times.append(timed(lambda: pq.write_table(batch, work / "raw.parquet")))
            lake_times.append(timed(lambda i=i: ingest(names[i + 1])))  # type: ignore[misc]
        lake.close()
        raw_s, lake_s = min(raw_times), min(lake_times)
        print("  runs (s): raw " + " ".join(f"{t:.2f}" for t in raw_times)
              + "; Lakegate " + " ".join(f"{t:.2f}" for t in lake_times))

        results = [("pyarrow write_table (raw, floor)", raw_s), ("lakegate validated ingest", lake_s)]
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
        print(ratio_line(f"validated ingest {n:,} rows", f"{n / raw_s:,.0f} rows/s (pyarrow.parquet.write_table)",
                         f"{n / lake_s:,.0f} rows/s", raw_s / lake_s, ">=", THROUGHPUT_TARGET))
        print(ratio_line(f"validated ingest peak memory {n:,} rows", f"{batch.nbytes / 2**20:.0f} MiB (the batch)",
                         f"{extra / 2**20:.0f} MiB above the start", extra / batch.nbytes, "<=", MEMORY_TARGET))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
