"""Start-up time of the ``lakegate`` command line.

Times whole processes, as a person at a shell sees them: ``python -c pass``
(the floor: the interpreter alone), ``lakegate --help`` and ``lakegate
version``, each run N times in turn. Prints the median and p90 of each, the
extra time over the floor, and the ratio of the median to the 0.5 s limit
(a ratio at or below 1.00 meets it).

    .venv/bin/python bench/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS = 0.5


def wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, "COLUMNS": "100"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    lakegate = str(Path(sys.executable).parent / "lakegate")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "lakegate --help": [lakegate, "--help"],
        "lakegate version": [lakegate, "version"],
    }
    for argv in cases.values():  # warm the file cache once
        wall(argv)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved, so a busy moment hits every case alike
        for name, argv in cases.items():
            times[name].append(wall(argv))
    floor = statistics.median(times["python -c pass"])
    for name, samples in times.items():
        median = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        line = f"{name:18s} median {median * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms"
        if name != "python -c pass":
            line += (f"  (+{(median - floor) * 1000:.0f} ms over the interpreter)  "
                     f"limit {LIMIT_SECONDS:.1f} s  ratio {median / LIMIT_SECONDS:.2f}")
        print(line)


if __name__ == "__main__":
    main()
