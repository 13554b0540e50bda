"""Search latency at 100k catalog objects.

Fills a fresh catalog's search index with N documents (datasets, columns,
views and metrics with realistic words), then times ranked queries of one to
three words with and without filters. Prints p50/p95 per backend; the target
is p95 <= 50 ms at 100k objects.

    .venv/bin/python bench/search.py [--objects 100000] [--queries 300] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from lake.catalog import Catalog
from lake.search import SearchDocument, SearchIndex

WORDS = ("viewer playback title episode season subscriber email country device revenue conversion impression "
         "campaign ad click watch minutes daily weekly monthly churn retention plan price region genre rating "
         "completion session stream buffer latency quality trial signup cancel renewal invoice refund partner "
         "catalog content license studio release audience segment cohort funnel attribution spend budget").split()
KINDS = ("dataset", "column", "view", "metric")


def fill(index: SearchIndex, n: int, rng: random.Random) -> None:
    domains = [f"domain_{i}" for i in range(50)]
    batch: list[SearchDocument] = []
    for i in range(n):
        kind = KINDS[i % 4]
        words = rng.sample(WORDS, 6)
        name = "_".join(words[:2]) + f"_{i}"
        batch.append(SearchDocument(
            kind=kind, key=f"{domains[i % 50]}.{name}", domain=domains[i % 50], title=name.replace("_", " "),
            body=" ".join(rng.choices(WORDS, k=25)), tags=tuple(words[4:]), owner=f"team_{i % 40}",
            certified=kind == "metric" and i % 3 == 0,
        ))
        if len(batch) == 5000:
            index.upsert(batch)
            batch = []
    index.upsert(batch)


def run(url: str, n: int, queries: int) -> None:
    catalog = Catalog(url)
    index = SearchIndex(catalog)
    rng = random.Random(3)
    t0 = time.perf_counter()
    fill(index, n, rng)
    print(f"[{catalog.dialect}] indexed {index.count():,} objects in {time.perf_counter() - t0:.1f}s")
    for label, kw in (("words", {}), ("words + kind/domain filter", {"kinds": ["metric", "view"]}),
                      ("prefix", {"prefix": True})):
        lat = []
        for _ in range(queries):
            q = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
            if kw.get("prefix"):
                q = rng.choice(WORDS)[:3]
            filters = {k: v for k, v in kw.items() if k != "prefix"}
            t = time.perf_counter()
            index.search(q, limit=20, **filters)  # type: ignore[arg-type]
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50, p95 = statistics.median(lat), lat[int(len(lat) * 0.95) - 1]
        verdict = "meets" if p95 <= 50 else "MISSES"
        print(f"[{catalog.dialect}] {label:<28} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
              f"({verdict} p95 <= 50 ms; ratio to limit {p95 / 50:.2f})")
    catalog.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--postgres", help="also run against this PostgreSQL URL (a scratch database)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run(f"sqlite:///{d}/catalog.db", args.objects, args.queries)
    if args.postgres:
        run(args.postgres, args.objects, args.queries)


if __name__ == "__main__":
    main()
