"""Views: materialization overhead against plain Spark, and planning a 500-view DAG.

One run prints two figures:

1. **Materialization overhead.** The demo view ``catalog.watch_time_by_title``
   (a join and an aggregate over the demo playback events) is materialized
   through Lakegate (``views.materialize``: catalog run record, input binding,
   schema check, OpenLineage events, Delta commit) and, as the peer, by the
   same SQL run directly on Spark over the same Delta snapshots and written by
   Spark (``spark.sql(...).write.format("delta")``). Median of several
   alternating runs after a warm-up. ``bench/engine.py`` measures the same at
   larger scales, with the driver's memory.
   Target: Lakegate / direct <= 1.15.
2. **Planning a DAG.** 500 view definitions (over the demo datasets, each
   later one reading one or two earlier views) are analyzed (parse, resolve,
   qualify, types, lineage, PII rules, grain), ordered, checked for cycles and
   diffed against the catalog: ``views.plan(..., spark_check=False)``. The
   floor is sqlglot parsing the same 500 view bodies (``sqlglot.parse_one(sql,
   read="spark")``); both alternate ``--plan-runs`` times, timed in the
   thread's CPU time (other processes on a busy machine do not count), and the
   fastest of each counts. Target: the plan at most 2.5x the parse.

    .venv/bin/python bench/views.py [--scale 4] [--runs 7] [--views 500] [--plan-runs 3] [--no-materialize]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

import sqlglot  # noqa: E402

from demo.definitions import DEMO_CONTRACTS  # noqa: E402
from demo.load import land_demo  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

from _report import ratio_line  # noqa: E402

OVERHEAD_TARGET = 1.15
PLAN_TARGET = 2.5  # plan CPU time / sqlglot parse CPU time of the same bodies
VIEW = "catalog.watch_time_by_title"


def _direct(lake: Lake, sql_by_temp: str, inputs: dict[str, str], out: str) -> None:
    """The peer: register the same snapshots, run the SQL, write the result with Spark."""
    from lake.spark import register_delta, spark_session

    spark = spark_session(lake.settings)
    for temp, uri in inputs.items():
        register_delta(spark, temp, uri)
    spark.sql(sql_by_temp).write.format("delta").mode("overwrite").save(out)


def bench_overhead(scale: float, runs: int) -> float:
    from demo.definitions import VIEWS_DIR as DEMO_DIR
    from views.binding import rewrite_tables
    from views.catalog import get_view
    from views.files import load_directory
    from views.materialize import materialize
    from views.names import Ref
    from views.registry import apply

    home = Path(tempfile.mkdtemp(prefix="lakegate-bench-views-"))
    lake = Lake(Settings(home=home, spark_master="local[2]"))
    started = time.perf_counter()
    land_demo(lake, scale=scale, seed=7)
    events = lake.datasets.table(lake.dataset("playback.events")).open().count()
    print(f"demo data at scale {scale:g}: {events:,} playback events, landed in {time.perf_counter() - started:.1f} s")
    apply(lake, [d for d in load_directory(DEMO_DIR) if d.name == VIEW], actor="bench")
    info = get_view(lake, VIEW)
    temps = {}
    names = {}
    for i, dep in enumerate(info.dependencies):
        domain, name = dep.name.split(".")
        temp = f"bench_in_{i}"
        names[Ref(domain, name)] = temp
        temps[temp] = lake.dataset(dep.name).table_uri
    direct_sql = rewrite_tables(info.compiled_sql, names)
    out = str(home / "direct")

    def lakegate_run() -> float:
        t = time.perf_counter()
        materialize(lake, VIEW, actor="bench")
        return time.perf_counter() - t

    def direct_run() -> float:
        t = time.perf_counter()
        _direct(lake, direct_sql, temps, out)
        return time.perf_counter() - t

    lakegate_run(), direct_run()  # warm-up: JIT, file system cache
    ours, peer = [], []
    for _ in range(runs):
        ours.append(lakegate_run())
        peer.append(direct_run())
    lg, dr = statistics.median(ours), statistics.median(peer)
    print("  runs (s): Lakegate " + " ".join(f"{t:.2f}" for t in ours) + "; direct " + " ".join(f"{t:.2f}" for t in peer))
    ratio = lg / dr
    verdict = "ok" if ratio <= OVERHEAD_TARGET else "OVER TARGET"
    print(f"materialize {VIEW}: Lakegate {lg * 1000:.0f} ms, direct Spark {dr * 1000:.0f} ms "
          f"(median of {runs}) -> {ratio:.2f}x (target <= {OVERHEAD_TARGET}x) {verdict}")
    lake.close()
    return ratio


_PATTERNS = [
    ("SELECT e.country, e.device, COUNT(*) AS plays, SUM(e.watch_seconds) AS seconds "
     "FROM playback.events e GROUP BY e.country, e.device"),
    ("SELECT t.title_id AS country, t.genre AS device, COUNT(*) AS plays, SUM(e.watch_seconds) AS seconds "
     "FROM playback.events e JOIN catalog.titles t ON e.title_id = t.title_id GROUP BY t.title_id, t.genre"),
    ("SELECT s.country, s.plan AS device, COUNT(*) AS plays, SUM(s.monthly_price) AS seconds "
     "FROM subscriptions.subscribers s WHERE s.status = 'active' GROUP BY s.country, s.plan"),
    ("WITH c AS (SELECT c.country, c.revenue FROM ads.conversions c) "
     "SELECT c.country, 'all' AS device, COUNT(*) AS plays, SUM(c.revenue) AS seconds FROM c GROUP BY c.country"),
]


def definitions(n: int, seed: int = 1) -> list[object]:
    """``n`` definitions: a quarter over datasets, the rest over one or two earlier views."""
    from views.definition import ViewDefinition

    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = f"bench.v{i:04d}"
        if i < max(4, n // 4):
            sql = _PATTERNS[i % len(_PATTERNS)]
        else:
            a = rng.randrange(i)
            if rng.random() < 0.5:
                sql = (f"SELECT a.country, a.device, SUM(a.plays) AS plays, SUM(a.seconds) AS seconds "
                       f"FROM bench.v{a:04d} a WHERE a.plays > {i % 7} GROUP BY a.country, a.device")
            else:
                b = rng.randrange(i)
                sql = (f"SELECT a.country, a.device, a.plays + COALESCE(b.plays, 0) AS plays, "
                       f"a.seconds AS seconds FROM bench.v{a:04d} a "
                       f"LEFT JOIN bench.v{b:04d} b ON a.country = b.country AND a.device = b.device")
        out.append(ViewDefinition(name, sql, owner="bench"))
    return out


def _cpu(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.thread_time()
    fn()
    return time.thread_time() - started


def bench_plan(n: int, runs: int = 3) -> float:
    """Plan ``n`` views ``runs`` times against parsing their bodies; returns plan / parse."""
    from views.registry import apply, plan

    home = Path(tempfile.mkdtemp(prefix="lakegate-bench-dag-"))
    lake = Lake(Settings(home=home))
    for doc in DEMO_CONTRACTS:
        lake.register(doc, actor="bench")
    defs = definitions(n)
    bodies = [d.sql for d in defs]  # type: ignore[attr-defined]

    def parse_all() -> None:
        for sql in bodies:
            sqlglot.parse_one(sql, read="spark")

    def plan_all() -> None:
        planned = plan(lake, defs, spark_check=False)  # type: ignore[arg-type]
        assert len(planned.items) == n

    parses, plans, walls = [], [], []
    for _ in range(max(1, runs)):
        parses.append(_cpu(parse_all))
        started = time.perf_counter()
        plans.append(_cpu(plan_all))
        walls.append(time.perf_counter() - started)
    floor, elapsed = min(parses), min(plans)
    print(f"analyze and plan a {n}-view DAG: CPU {' '.join(f'{t:.2f}' for t in plans)} s "
          f"(wall {' '.join(f'{t:.2f}' for t in walls)} s); parse the bodies: CPU "
          f"{' '.join(f'{t:.2f}' for t in parses)} s")
    ratio = elapsed / floor
    print(ratio_line(f"view planning, {n}-view DAG", f"{floor:.2f} s CPU (sqlglot parse of the {n} bodies)",
                     f"{elapsed:.2f} s CPU ({elapsed / n * 1000:.1f} ms per view)", ratio, "<=", PLAN_TARGET))
    started = time.perf_counter()
    apply(lake, defs, actor="bench", spark_check=False)  # type: ignore[arg-type]
    applied = time.perf_counter() - started
    started = time.perf_counter()
    again = plan(lake, defs, spark_check=False)  # type: ignore[arg-type]
    replan = time.perf_counter() - started
    assert all(i.action.value == "unchanged" for i in again.items)
    print(f"  apply (plan + one catalog transaction): {applied:.2f} s; re-plan against the catalog "
          f"(all unchanged): {replan:.2f} s")
    lake.close()
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=4.0, help="demo data scale (4 = 200k playback events)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each side")
    parser.add_argument("--views", type=int, default=500, help="views in the planned DAG")
    parser.add_argument("--plan-runs", type=int, default=3, help="timed plans (and parses) of the DAG")
    parser.add_argument("--no-materialize", action="store_true", help="plan the DAG only (no Spark)")
    args = parser.parse_args(argv)
    plan_ratio = bench_plan(args.views, args.plan_runs)
    ok = plan_ratio <= PLAN_TARGET
    if not args.no_materialize:
        ok = bench_overhead(args.scale, args.runs) <= OVERHEAD_TARGET and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
