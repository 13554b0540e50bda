"""The one line each benchmark prints per figure, and how ``bench/guard.py`` reads it back.

Every figure is a ratio to a floor measured in the same run by the same
benchmark, so it can be compared across machines and loads::

    access decision p50: floor 0.38 µs (dict lookup of a 3-tuple key), Lakegate 3.10 µs, target <= 10.00, ratio 8.16

``target <= X`` means lower is better (a cost against its floor), ``target >= X``
higher is better (a throughput against its floor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE = re.compile(
    r"^(?P<name>[^:]+): .*target (?P<op><=|>=) (?P<target>\d+(?:\.\d+)?), ratio (?P<ratio>\d+(?:\.\d+)?)$"
)


@dataclass(frozen=True)
class Ratio:
    """One figure of a benchmark run."""

    name: str
    ratio: float
    op: str  # "<=" (lower is better) or ">="
    target: float

    @property
    def meets(self) -> bool:
        return self.ratio <= self.target if self.op == "<=" else self.ratio >= self.target


def ratio_line(name: str, floor: str, figure: str, ratio: float, op: str, target: float) -> str:
    """``name: floor <floor>, Lakegate <figure>, target <op> <target>, ratio <ratio>``."""
    if op not in ("<=", ">="):
        raise ValueError(f"op is '<=' or '>=', not {op!r}")
    return f"{name}: floor {floor}, Lakegate {figure}, target {op} {target:.2f}, ratio {ratio:.2f}"


def parse_ratios(text: str) -> list[Ratio]:
    """Every ratio line in a benchmark's output, in order."""
    out = []
    for line in text.splitlines():
        match = LINE.match(line.strip())
        if match is not None:
            out.append(Ratio(match["name"].strip(), float(match["ratio"]), match["op"], float(match["target"])))
    return out
