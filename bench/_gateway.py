"""The query gateway's overhead per query: parse, bind, authorize, check, rewrite.

Builds a fresh lake with ten datasets (two with PII) and a subject whose
grants carry a column deny, a hash mask, a decrypt mask and row filters,
then plans eight query shapes (a star, a filter, a join, a CTE, subqueries,
an aggregate with a window, a union, a scalar subquery) and a 10-table join
many times through ``Gateway.plan``: the whole path up to the SQL Spark
would run, without running it.

The floor is sqlglot parsing the same query (``sqlglot.parse(sql,
read="spark")``), timed in the same rounds, alternating with the plans. Both
are timed in the thread's CPU time, so other processes on a busy machine do not
count (their preemptions inflate a 3 ms plan far more often than a 0.3 ms
parse). The figure is the sum over the shapes of each one's p50 plan time
against the sum of their p50 parse times. Target: at most 3x the parse, for the eight shapes
and for the 10-table join. Also printed: p50, p90 and p99 over all plans (wall
clock), the CPU time p50, and each shape's ratio.

    .venv/bin/python bench/_gateway.py [--rounds 200]

``bench/authz.py`` imports :func:`measure_gateway_overhead` and prints its figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

import sqlglot  # noqa: E402

from access.gateway import Gateway, GatewayLimits  # noqa: E402
from access.masks import Mask, MaskKind  # noqa: E402
from access.policy import AccessControl  # noqa: E402
from access.resources import Action, Resource  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

from _report import ratio_line  # noqa: E402

TARGET_RATIO = 3.0  # plan p50 / sqlglot parse p50


def _contract(name: str, columns: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {"dataset": name, "owner": "bench",
            "columns": [{"name": n, "type": t, "pii": pii} for n, t, pii in columns]}


DATASETS = [
    _contract("ads.conversions", [("conversion_id", "int64", False), ("campaign_id", "int64", False),
                                  ("country", "string", False), ("revenue", "decimal(12,2)", False),
                                  ("email", "string", True), ("converted_at", "timestamp", False)]),
    _contract("ads.campaigns", [("campaign_id", "int64", False), ("name", "string", False),
                                ("budget", "decimal(12,2)", False), ("owner_email", "string", True)]),
    _contract("catalog.titles", [("title_id", "int64", False), ("title", "string", False),
                                 ("genre", "string", False), ("runtime_minutes", "int32", False)]),
    _contract("playback.sessions", [("session_id", "int64", False), ("title_id", "int64", False),
                                    ("country", "string", False), ("watch_seconds", "int64", False),
                                    ("started_at", "timestamp", False)]),
    _contract("ref.countries", [("country", "string", False), ("country_name", "string", False),
                                ("region", "string", False)]),
    _contract("ref.regions", [("region", "string", False), ("region_name", "string", False),
                              ("manager_email", "string", True)]),
    _contract("ref.genres", [("genre", "string", False), ("genre_label", "string", False)]),
    _contract("ref.currencies", [("country", "string", False), ("currency", "string", False),
                                 ("usd_rate", "double", False)]),
    _contract("ref.channels", [("campaign_id", "int64", False), ("channel", "string", False)]),
    _contract("ref.calendar", [("day", "date", False), ("week", "int32", False), ("quarter", "int32", False)]),
]

QUERIES = [
    "SELECT * FROM ads.conversions",
    "SELECT country, count(*) AS n FROM ads.conversions WHERE converted_at >= '2024-01-01' GROUP BY country",
    "SELECT c.conversion_id, k.name, c.email FROM ads.conversions c JOIN ads.campaigns k "
    "ON c.campaign_id = k.campaign_id WHERE k.name LIKE 'spring%' ORDER BY c.conversion_id LIMIT 100",
    "WITH w AS (SELECT title_id, sum(watch_seconds) AS s FROM playback.sessions GROUP BY title_id) "
    "SELECT t.title, w.s FROM w JOIN catalog.titles t ON w.title_id = t.title_id ORDER BY w.s DESC LIMIT 10",
    "SELECT title FROM catalog.titles WHERE title_id IN (SELECT title_id FROM playback.sessions "
    "WHERE country = 'DE') AND EXISTS (SELECT 1 FROM ads.campaigns WHERE budget IS NOT NULL)",
    "SELECT country, watch_seconds, rank() OVER (PARTITION BY country ORDER BY watch_seconds DESC) AS r "
    "FROM playback.sessions",
    "SELECT country FROM ads.conversions UNION SELECT country FROM playback.sessions",
    "SELECT (SELECT max(runtime_minutes) FROM catalog.titles) AS longest, count(*) FROM ads.campaigns",
]

#: Ten tables; four with row filters, masks or a denied column.
JOIN_10 = (
    "SELECT c.conversion_id, k.name, ch.channel, s.watch_seconds, t.title, g.genre_label, "
    "co.country_name, r.region_name, r.manager_email, cu.currency, c.email, cal.week "
    "FROM ads.conversions c "
    "JOIN ads.campaigns k ON c.campaign_id = k.campaign_id "
    "JOIN ref.channels ch ON ch.campaign_id = k.campaign_id "
    "JOIN playback.sessions s ON s.country = c.country "
    "JOIN catalog.titles t ON t.title_id = s.title_id "
    "JOIN ref.genres g ON g.genre = t.genre "
    "JOIN ref.countries co ON co.country = c.country "
    "JOIN ref.regions r ON r.region = co.region "
    "LEFT JOIN ref.currencies cu ON cu.country = c.country "
    "JOIN ref.calendar cal ON cal.day = CAST(c.converted_at AS DATE) "
    "WHERE cu.usd_rate > 0.5 AND t.runtime_minutes BETWEEN 80 AND 200 "
    "ORDER BY c.conversion_id LIMIT 100"
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _build(home: Path) -> Gateway:
    lake = Lake(Settings(home=home))
    for doc in DATASETS:
        lake.register(doc, actor="bench")
    lake.users.create("analyst")
    access = AccessControl(lake)
    conv, camp = Resource.table("ads.conversions"), Resource.table("ads.campaigns")
    for doc in DATASETS:
        access.grant("analyst", Action.READ, Resource.table(doc["dataset"]))
    access.deny("analyst", Action.READ, Resource.column_of(conv, "revenue"))
    access.set_mask("analyst", Resource.column_of(conv, "email"), Mask(MaskKind.HASH))
    access.set_mask("analyst", Resource.column_of(camp, "owner_email"), Mask(MaskKind.DECRYPT))
    access.set_row_filter("analyst", conv, "country IN ('DE', 'FR')")
    access.set_row_filter("analyst", Resource.table("playback.sessions"), "watch_seconds > 0")
    access.set_row_filter("analyst", Resource.table("ref.countries"), "region <> 'internal'")
    access.set_mask("analyst", Resource.column_of(Resource.table("ref.regions"), "manager_email"),
                    Mask(MaskKind.PARTIAL, 4))
    access.deny("analyst", Action.READ, Resource.column_of(Resource.table("ref.calendar"), "quarter"))
    return Gateway(lake, access, limits=GatewayLimits())


def _parse(sql: str) -> None:
    sqlglot.parse(sql, read="spark")


def measure_gateway_overhead(rounds: int = 200) -> dict[str, Any]:
    """Plan each query of :data:`QUERIES` and :data:`JOIN_10` ``rounds`` times; latencies in milliseconds.

    Each plan is preceded by a sqlglot parse of the same text (the floor).

    Returns:
        ``queries``, ``plans``, wall-clock ``p50_ms``, ``p90_ms``, ``p99_ms`` and
        ``mean_ms`` over the eight shapes, ``cpu_p50_ms`` (the planning thread's CPU
        time, less sensitive to other load on the machine), ``parse_p50_ms``
        (CPU), ``shapes_ratio`` (sum of the shapes' p50 plan CPU times over the sum
        of their p50 parse CPU times), ``join_p50_ms``, ``join_parse_p50_ms``,
        ``join_ratio``, ``target_ratio``, ``meets_target`` and ``per_shape``
        (each shape's plan/parse ratio).
    """
    shapes = [*QUERIES, JOIN_10]
    plans: list[list[float]] = [[] for _ in shapes]
    parses: list[list[float]] = [[] for _ in shapes]
    wall: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lakegate-gateway-bench-") as tmp:
        gateway = _build(Path(tmp) / "home")
        try:
            for sql in shapes:  # warm caches: catalog lookups, hash keys, sqlglot
                gateway.plan("analyst", sql)
            cpu_clock, wall_clock = time.thread_time_ns, time.perf_counter_ns
            for _ in range(rounds):
                for i, sql in enumerate(shapes):
                    start = cpu_clock()
                    _parse(sql)
                    parses[i].append((cpu_clock() - start) / 1e6)
                    start, start_wall = cpu_clock(), wall_clock()
                    gateway.plan("analyst", sql)
                    cpu_ms, wall_ms = (cpu_clock() - start) / 1e6, (wall_clock() - start_wall) / 1e6
                    plans[i].append(cpu_ms)
                    if i < len(QUERIES):
                        wall.append(wall_ms)
        finally:
            gateway.lake.close()
    n = len(QUERIES)
    cpu = [t for times in plans[:n] for t in times]
    plan_p50 = [statistics.median(times) for times in plans]
    parse_p50 = [statistics.median(times) for times in parses]
    shapes_ratio = sum(plan_p50[:n]) / sum(parse_p50[:n])
    join_ratio = plan_p50[n] / parse_p50[n]
    return {
        "queries": n,
        "plans": len(wall),
        "p50_ms": statistics.median(wall),
        "p90_ms": _percentile(wall, 0.90),
        "p99_ms": _percentile(wall, 0.99),
        "mean_ms": statistics.fmean(wall),
        "cpu_p50_ms": statistics.median(cpu),
        "parse_p50_ms": statistics.median([t for times in parses[:n] for t in times]),
        "shapes_plan_ms": sum(plan_p50[:n]),
        "shapes_parse_ms": sum(parse_p50[:n]),
        "shapes_ratio": shapes_ratio,
        "join_p50_ms": plan_p50[n],
        "join_parse_p50_ms": parse_p50[n],
        "join_ratio": join_ratio,
        "target_ratio": TARGET_RATIO,
        "meets_target": shapes_ratio <= TARGET_RATIO and join_ratio <= TARGET_RATIO,
        "per_shape": " ".join(f"{a / b:.2f}" for a, b in zip(plan_p50, parse_p50, strict=True)),
    }


def ratio_lines(result: dict[str, Any]) -> list[str]:
    """The two ratio lines of a :func:`measure_gateway_overhead` result."""
    return [
        ratio_line(f"gateway plan, {result['queries']} query shapes",
                   f"{result['shapes_parse_ms']:.3f} ms CPU (sqlglot parse, sum of the shapes' p50)",
                   f"{result['shapes_plan_ms']:.3f} ms", result["shapes_ratio"], "<=", TARGET_RATIO),
        ratio_line("gateway plan, 10-table join", f"{result['join_parse_p50_ms']:.3f} ms CPU (sqlglot parse p50)",
                   f"{result['join_p50_ms']:.3f} ms", result["join_ratio"], "<=", TARGET_RATIO),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="plans per query")
    args = parser.parse_args(argv)
    result = measure_gateway_overhead(args.rounds)
    print(f"gateway overhead per query (parse, check, rewrite), {result['plans']} plans of "
          f"{result['queries']} queries:")
    print(f"  p50 {result['p50_ms']:.3f} ms   p90 {result['p90_ms']:.3f} ms   p99 {result['p99_ms']:.3f} ms   "
          f"mean {result['mean_ms']:.3f} ms")
    print(f"  CPU time p50 {result['cpu_p50_ms']:.3f} ms   sqlglot parse alone CPU p50 {result['parse_p50_ms']:.3f} ms")
    print(f"  plan/parse per shape (the eight, then the 10-table join): {result['per_shape']}")
    for line in ratio_lines(result):
        print(line)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
