"""Regression guard: each hot path's ratio against the figure recorded in ``bench/baseline.json``.

Runs every benchmark at a small size (access decisions, gateway planning,
validated ingest, view planning; about two minutes in all), reads the
``ratio`` lines they print (``bench/_report.py``) and fails when a ratio is
more than 25% worse than the recorded one: above 1.25x the baseline for a
``target <=`` figure, below the baseline / 1.25 for a ``target >=`` one (25%
more time against the same floor, either way). Each benchmark runs
``--repeat`` times and its best ratio counts, since other work on the
machine only ever makes a ratio worse.

Not part of the test suite: run it before a release. The baseline is kept in
the repository and changed on purpose, after a change that makes a path
faster (or, knowingly, slower)::

    .venv/bin/python bench/guard.py              # compare; exit status 1 on a regression
    .venv/bin/python bench/guard.py --record     # write the measured ratios to bench/baseline.json
    .venv/bin/python bench/guard.py --only authz --only views
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _report import Ratio, parse_ratios

BENCH = Path(__file__).resolve().parent
BASELINE = BENCH / "baseline.json"
TOLERANCE = 1.25

#: Each benchmark at the guard's size.
BENCHMARKS: dict[str, list[str]] = {
    "authz": ["authz.py", "--users", "2000", "--roles", "200", "--objects", "2000", "--requests", "30000",
              "--casbin-requests", "40", "--no-gateway"],
    "gateway": ["_gateway.py", "--rounds", "40"],
    "ingest": ["ingest.py", "--rows", "1000000", "--repeat", "5", "--no-spark"],
    "views": ["views.py", "--views", "100", "--plan-runs", "3", "--no-materialize"],
}


def _better(a: Ratio, b: Ratio) -> Ratio:
    if a.op == "<=":
        return a if a.ratio <= b.ratio else b
    return a if a.ratio >= b.ratio else b


def run(name: str, repeat: int, timeout: float) -> list[Ratio]:
    """The best ratio of each line ``name`` prints over ``repeat`` runs."""
    best: dict[str, Ratio] = {}
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(BENCH / BENCHMARKS[name][0]), *BENCHMARKS[name][1:]],
                              capture_output=True, text=True, timeout=timeout, cwd=BENCH.parent)
        ratios = parse_ratios(proc.stdout)
        if not ratios:
            raise SystemExit(f"{name}: no ratio lines (exit status {proc.returncode})\n{proc.stdout}\n{proc.stderr}")
        print(f"  {name}: " + "; ".join(f"{r.name} {r.ratio:.2f}" for r in ratios)
              + f" ({time.perf_counter() - started:.0f} s)", flush=True)
        for r in ratios:
            best[r.name] = _better(r, best[r.name]) if r.name in best else r
    return list(best.values())


def worse_than(ratio: Ratio, recorded: float) -> bool:
    """Whether ``ratio`` is more than :data:`TOLERANCE` worse than ``recorded``."""
    if ratio.op == "<=":
        return ratio.ratio > recorded * TOLERANCE
    return ratio.ratio < recorded / TOLERANCE


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help=f"write the ratios to {BASELINE.name}")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each benchmark; the best ratio counts")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per benchmark run")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)

    print(f"load average before: {_load()}", flush=True)
    measured: list[Ratio] = []
    for name in names:
        measured.extend(run(name, args.repeat, args.timeout))
    print(f"load average after: {_load()}")

    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {"ratios": {}}
    if args.record:
        ratios = dict(baseline.get("ratios", {}))
        for r in measured:
            ratios[r.name] = {"ratio": round(r.ratio, 3), "op": r.op, "target": r.target}
        baseline = {
            "note": "Ratios of bench/guard.py (each benchmark at the guard's size); update on purpose "
                    "with bench/guard.py --record.",
            "recorded": dt.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "load_average": _load(),
            "ratios": dict(sorted(ratios.items())),
        }
        BASELINE.write_text(json.dumps(baseline, indent=2, ensure_ascii=False) + "\n")
        print(f"recorded {len(measured)} ratios in {BASELINE.relative_to(BENCH.parent)}")
        return 0

    failed = 0
    print(f"{'figure':<52} {'baseline':>9} {'now':>7} {'limit':>9}  verdict")
    for r in measured:
        entry = baseline["ratios"].get(r.name)
        if entry is None:
            print(f"{r.name:<52} {'-':>9} {r.ratio:>7.2f} {'':>9}  NO BASELINE (run --record)")
            failed += 1
            continue
        recorded = float(entry["ratio"])
        limit = recorded * TOLERANCE if r.op == "<=" else recorded / TOLERANCE
        bad = worse_than(r, recorded)
        failed += bad
        print(f"{r.name:<52} {recorded:>9.2f} {r.ratio:>7.2f} {r.op} {limit:>6.2f}  "
              f"{'REGRESSION' if bad else 'ok'}{'' if r.meets else ' (misses its target)'}")
    print("guard: " + (f"{failed} figure(s) regressed" if failed else "every figure within 25% of the baseline"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
