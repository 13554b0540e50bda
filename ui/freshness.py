"""Freshness in people's words: when data last landed and whether that keeps the contract's promise.

The measure is the domain's (:mod:`lake.freshness`); this module only words it
for the dataset page and search results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lake.freshness import Freshness, FreshnessState, freshness_of
from lake.service import Lake

_UNITS = {"m": "minute", "h": "hour", "d": "day", "w": "week"}


def promise_words(text: str | None) -> str:
    """``6h`` → ``every 6 hours``; ``1d`` → ``every day``."""
    if not text:
        return "no promise"
    n, unit = int(text[:-1]), _UNITS[text[-1]]
    return f"every {unit}" if n == 1 else f"every {n} {unit}s"


@dataclass(frozen=True)
class FreshnessView:
    """What the page shows: a badge (label and tone, none without a promise) and the measure."""

    measure: Freshness
    label: str
    tone: str
    promise: str

    @property
    def late(self) -> bool:
        return self.measure.state is FreshnessState.LATE


_LOOK = {FreshnessState.FRESH: ("fresh", "ok"), FreshnessState.LATE: ("late", "bad"),
         FreshnessState.NO_PROMISE: ("", "neutral"), FreshnessState.NEVER_LANDED: ("", "neutral")}


def view_of(measure: Freshness) -> FreshnessView:
    label, tone = _LOOK[measure.state]
    return FreshnessView(measure, label, tone, promise_words(measure.promise_text))


def freshness_views(lake: Lake, names: Iterable[str]) -> dict[str, FreshnessView]:
    """The freshness of the named datasets (current majors) that exist, by name, in one catalog query."""
    wanted = set(names)
    if not wanted:
        return {}
    infos = [i for i in lake.datasets.list() if i.name in wanted]
    return {name: view_of(m) for name, m in freshness_of(lake.catalog, infos).items()}
