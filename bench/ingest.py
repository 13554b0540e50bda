"""Validated ingest against a raw Parquet write (the floor) and Spark (a peer).

One run, one batch of N rows (5M by default, 6 columns): the same Arrow table is
  1. written raw with ``pyarrow.parquet.write_table`` (no checks: the floor),
  2. ingested by Lakegate into a Delta table (contract validation with a
     primary key, allowed sets and ranges, then one Delta commit),
  3. written as Parquet by Spark local from a cached DataFrame (a peer).
The raw write and the ingest alternate ``--repeat`` times (each ingest into a
new dataset); the fastest of each counts. Prints rows/s and the ratio of each
to the raw write, and the ratio within each alternating pair with their median
(steadier than the fastest runs on a busy machine). Targets: Lakegate's
validated ingest reaches at least 0.8x the raw write's rows/s, and the
process's peak RSS during the first ingest, above what it held before the
batch was built, is at most 2x the batch's Arrow size (the batch itself
counts once).

With ``--append-rss``, it measures instead the memory of a small append with
a primary-key check (10k rows by default) into tables of growing size (1M and
20M rows by default), each append in a fresh process: the process's RSS just
before the append, its peak RSS during the append (VmHWM, reset just before)
and the growth between them (Linux only). The target is flat memory: the
growth for the largest table at most 1.5x that for the smallest one, measured
in the same run (the same append into an empty table, which needs no key
lookup at all, is printed as the floor). Two key layouts:
``new`` keys beyond the table's range (file statistics rule every file out)
and ``spread`` keys between existing ones across the whole range (no file can
be ruled out: every key column is scanned, in a stream).

    .venv/bin/python bench/ingest.py [--rows 5000000] [--repeat 3] [--no-spark]
    .venv/bin/python bench/ingest.py --append-rss [--table-rows 1000000,20000000] [--append-rows 10000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from lake.service import Lake
from lake.settings import Settings

from _report import ratio_line

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


RSS_TARGET = 1.5
CHUNK_ROWS = 1_000_000


def _status_bytes(field: str) -> int:
    """A memory figure of this process from ``/proc/self/status`` (Linux), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Start the peak (VmHWM) over from the current RSS (``ru_maxrss`` cannot be
    reset, and also counts the parent's memory inherited at fork)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _fill(home: Path, rows: int) -> None:
    """A registered dataset of ``rows`` rows with even event ids, written in 1M-row commits."""
    from deltalake import write_deltalake

    lake = Lake(Settings(home=home))
    info = lake.register(CONTRACT, actor="bench")
    schema = info.contract.storage_schema()
    for start in range(0, rows, CHUNK_ROWS):
        size = min(CHUNK_ROWS, rows - start)
        chunk = make_batch(size, seed=start + 1)
        ids = (np.arange(start, start + size, dtype=np.int64) * 2)[np.random.default_rng(start).permutation(size)]
        chunk = chunk.set_column(0, "event_id", pa.array(ids)).cast(schema)
        write_deltalake(info.table_uri, chunk, mode="append")
    lake.close()


def _append_child(home: str, table_rows: int, append_rows: int, layout: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    lake = Lake(Settings(home=Path(home)))
    batch = make_batch(append_rows, seed=7)
    if layout == "new":
        ids = np.arange(append_rows, dtype=np.int64) * 2 + 2 * table_rows
    else:  # odd ids spread over the whole range: never in the table, in every file's min/max
        step = max(1, table_rows // append_rows)
        ids = np.arange(append_rows, dtype=np.int64) * 2 * step + 1
    batch = batch.set_column(0, "event_id", pa.array(ids))
    before = _status_bytes("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    result = lake.ingest_table("bench.events", batch, actor="bench")
    seconds = time.perf_counter() - started
    assert result.rows == append_rows, result
    peak = _status_bytes("VmHWM")
    lake.close()
    out.put((before, peak, seconds))


def append_rss(table_sizes: list[int], append_rows: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakegate-bench-rss-"))
    ctx = mp.get_context("spawn")
    try:
        print(f"append of {append_rows:,} rows with a primary-key check; each in a fresh process")
        print(f"{'table rows':>12} {'keys':>7} {'RSS before':>11} {'peak RSS':>10} {'growth':>9} {'seconds':>8}")
        growth: dict[tuple[int, str], int] = {}
        for rows in [0, *table_sizes]:
            home = work / f"t{rows}"
            _fill(home, rows)
            for layout in ("new", "spread"):
                shutil.rmtree(home.with_suffix(".run"), ignore_errors=True)
                shutil.copytree(home, home.with_suffix(".run"))
                queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
                proc = ctx.Process(target=_append_child,
                                   args=(str(home.with_suffix(".run")), rows, append_rows, layout, queue))
                proc.start()
                before, peak, seconds = queue.get(timeout=3600)
                proc.join()
                growth[(rows, layout)] = peak - before
                print(f"{rows:>12,} {layout:>7} {before / 2**20:>8.0f} MiB {peak / 2**20:>6.0f} MiB "
                      f"{(peak - before) / 2**20:>5.0f} MiB {seconds:>8.2f}")
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(home.with_suffix(".run"), ignore_errors=True)
        smallest, largest = min(table_sizes), max(table_sizes)
        for layout in ("new", "spread"):
            ratio = growth[(largest, layout)] / max(growth[(smallest, layout)], 1 << 20)
            verdict = "meets" if ratio <= RSS_TARGET else "MISSES"
            print(f"{layout} keys: RSS growth {largest:,}-row table / {smallest:,}-row table {ratio:.2f}x "
                  f"({verdict} the {RSS_TARGET}x target); / empty table "
                  f"{growth[(largest, layout)] / max(growth[(0, layout)], 1 << 20):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
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
    ap.add_argument("--append-rss", action="store_true", help="measure append memory against table size")
    ap.add_argument("--table-rows", default="1000000,20000000")
    ap.add_argument("--append-rows", type=int, default=10_000)
    args = ap.parse_args()
    if args.append_rss:
        append_rss([int(x) for x in args.table_rows.split(",")], args.append_rows)
        return
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
        pairs = [r / t for r, t in zip(raw_times, lake_times, strict=True)]  # each raw write and the ingest after it
        print("  ratio of each alternating pair: " + " ".join(f"{x:.2f}" for x in pairs)
              + f"; median {statistics.median(pairs):.2f}")

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
