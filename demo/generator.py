"""The generator of the demo datasets: deterministic, Prime-Video-like.

Five datasets, whose contracts are the YAML files of ``demo/contracts/``:

* ``catalog.titles``: the content catalog (movies, series, documentaries).
* ``subscriptions.subscribers``: who pays for what, with PII (email, name).
* ``playback.events``: one row per playback session, partitioned by day.
* ``ads.impressions``: ads shown to subscribers on the ad-supported plan.
* ``ads.conversions``: purchases attributed to an impression.

The shapes are realistic enough to demo governance and views: every foreign
key resolves, title popularity follows a Zipf-like curve, viewing peaks in
the local evening of each country, completion depends on the runtime, and a
conversion carries the subscriber, campaign and country of its impression and
happens after it. Everything is drawn from :func:`numpy.random.default_rng`
seeded by ``seed``, so :func:`generate` returns identical tables for the same
``(scale, seed)``.

Example::

    from demo.generator import generate

    tables = generate(scale=1.0, seed=7)
    tables["playback.events"].num_rows  # 50000

``python -m demo.generator --scale 100 --out /tmp/demo`` prints row counts and the
time taken and, with ``--out``, writes one Parquet file per dataset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import numbers
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo.definitions import DATASETS, DEMO_CONTRACTS
from lake.contracts import parse_contract

# ---------------------------------------------------------------------------
# Vocabulary of the generator: the contracts' allowed values (test_demo checks they agree)
# ---------------------------------------------------------------------------

#: Last day (UTC, inclusive) of the generated activity window.
END_DATE: dt.date = dt.date(2026, 10, 31)
#: Length of the activity window in days, ending on :data:`END_DATE`.
WINDOW_DAYS: int = 30
#: First day (UTC, inclusive) of the activity window.
START_DATE: dt.date = END_DATE - dt.timedelta(days=WINDOW_DAYS - 1)

COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "JP", "IN", "BR", "CA")
KINDS: tuple[str, ...] = ("movie", "series", "documentary")
FICTION_GENRES: tuple[str, ...] = (
    "drama", "comedy", "action", "thriller", "sci-fi", "romance", "horror", "crime", "fantasy",
    "animation", "kids",
)
DOCUMENTARY_GENRES: tuple[str, ...] = ("nature", "history", "true-crime", "sports", "music")
GENRES: tuple[str, ...] = FICTION_GENRES + DOCUMENTARY_GENRES
MATURITY_RATINGS: tuple[str, ...] = ("ALL", "7+", "13+", "16+", "18+")
PLANS: tuple[str, ...] = ("basic", "standard", "premium", "ad_supported")
STATUSES: tuple[str, ...] = ("active", "cancelled", "paused")
DEVICES: tuple[str, ...] = ("tv", "mobile", "web", "console", "tablet")
PLACEMENTS: tuple[str, ...] = ("preroll", "midroll", "banner")

OLDEST_RELEASE_YEAR = 1950
OLDEST_SIGNUP: dt.date = dt.date(2018, 1, 1)

# ---------------------------------------------------------------------------
# Generator parameters
# ---------------------------------------------------------------------------

_BASE_TITLES = 300
_BASE_SUBSCRIBERS = 2_000
_BASE_EVENTS = 50_000
_BASE_IMPRESSIONS = 20_000
_CAMPAIGNS = 40

_US_PER_SECOND = 1_000_000
_US_PER_HOUR = 3_600 * _US_PER_SECOND
_US_PER_DAY = 24 * _US_PER_HOUR
_EPOCH = dt.date(1970, 1, 1)

# Share of subscribers per home country, in COUNTRIES order.
_COUNTRY_WEIGHTS = np.array([0.38, 0.11, 0.10, 0.06, 0.08, 0.12, 0.09, 0.06])
# Standard-time UTC offsets (seconds) used to put the viewing peak in the local evening.
_COUNTRY_UTC_OFFSET_S = np.array([-5 * 3600, 0, 3600, 3600, 9 * 3600, 19_800, -3 * 3600, -5 * 3600])
# Price level of each country relative to the US.
_COUNTRY_PRICE_LEVEL = np.array([1.0, 0.95, 0.95, 0.95, 0.8, 0.3, 0.45, 0.95])
# Plan mix and US list prices (dollars), in PLANS order.
_PLAN_WEIGHTS = np.array([0.18, 0.22, 0.14, 0.46])
_PLAN_PRICE = np.array([8.99, 11.99, 15.99, 5.99])
_STATUS_WEIGHTS = np.array([0.82, 0.11, 0.07])
# How much a subscriber of each status watches (cancelled accounts still used the window's start).
_STATUS_ACTIVITY = np.array([1.0, 0.15, 0.05])
_DEVICE_WEIGHTS = np.array([0.46, 0.27, 0.11, 0.06, 0.10])
_PLACEMENT_WEIGHTS = np.array([0.5, 0.35, 0.15])
_PLACEMENT_CONVERSION = np.array([0.058, 0.05, 0.028])
_KIND_WEIGHTS = np.array([0.55, 0.33, 0.12])
_KIND_COMPLETION = np.array([0.38, 0.55, 0.42])
# Relative viewing by local hour of day, 00..23.
_HOUR_WEIGHTS = np.array([
    2.0, 1.1, 0.6, 0.4, 0.3, 0.4, 0.8, 1.2, 1.4, 1.4, 1.5, 1.6,
    2.0, 2.0, 2.0, 2.2, 2.6, 3.2, 4.2, 5.4, 6.4, 6.6, 5.0, 3.4,
])
_TRAVEL_SHARE = 0.02

# Maturity mix per genre (rows in GENRES order, columns in MATURITY_RATINGS order).
_MATURITY_DEFAULT = [0.04, 0.08, 0.42, 0.30, 0.16]
_MATURITY_BY_GENRE: dict[str, list[float]] = {
    "animation": [0.45, 0.35, 0.15, 0.05, 0.0],
    "kids": [0.7, 0.3, 0.0, 0.0, 0.0],
    "horror": [0.0, 0.0, 0.1, 0.4, 0.5],
    "crime": [0.0, 0.0, 0.3, 0.4, 0.3],
    "true-crime": [0.0, 0.0, 0.4, 0.4, 0.2],
    "nature": [0.6, 0.3, 0.1, 0.0, 0.0],
    "music": [0.3, 0.2, 0.4, 0.1, 0.0],
    "sports": [0.5, 0.2, 0.3, 0.0, 0.0],
    "history": [0.1, 0.2, 0.5, 0.2, 0.0],
}
_MATURITY_MATRIX = np.array([_MATURITY_BY_GENRE.get(g, _MATURITY_DEFAULT) for g in GENRES])

_ADJECTIVES = (
    "Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Midnight", "Wild", "Lost", "Frozen",
    "Electric", "Distant", "Secret", "Burning", "Hollow", "Northern", "Savage", "Gentle", "Iron", "Paper",
)
_NOUNS = (
    "Harbor", "Kingdom", "Signal", "Orchard", "Frontier", "Empire", "River", "Witness", "Garden", "Horizon",
    "Tide", "Circuit", "Legacy", "Lantern", "Canyon", "Verdict", "Station", "Echo", "Summit", "Crown",
)
# Names per home country (10 each, COUNTRIES order) so subscribers get plausible names.
_FIRST_NAMES = (
    "James", "Mary", "Michael", "Jennifer", "David", "Linda", "Chris", "Sarah", "Daniel", "Emily",
    "Oliver", "Amelia", "George", "Olivia", "Harry", "Isla", "Jack", "Freya", "Charlie", "Poppy",
    "Lukas", "Hannah", "Leon", "Mia", "Felix", "Emma", "Jonas", "Lea", "Paul", "Lina",
    "Louis", "Camille", "Hugo", "Chloe", "Jules", "Ines", "Gabriel", "Manon", "Arthur", "Lucie",
    "Haruto", "Yui", "Sota", "Hina", "Yuto", "Sakura", "Ren", "Aoi", "Riku", "Mei",
    "Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Isha", "Kabir", "Saanvi",
    "Miguel", "Julia", "Davi", "Sophia", "Heitor", "Alice", "Bernardo", "Laura", "Pedro", "Helena",
    "Liam", "Charlotte", "Noah", "Ava", "William", "Zoe", "Benjamin", "Maya", "Ethan", "Abigail",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Wilson", "Taylor",
    "Evans", "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Roberts", "Clarke", "Hall", "Green",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato",
    "Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Mehta",
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
    "Tremblay", "Gagnon", "Roy", "Cote", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Campbell",
)
_NAMES_PER_COUNTRY = 10
_MISSING_NAME_SHARE = 0.02


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def contract_schema(dataset: str) -> pa.Schema:
    """The Arrow schema of a demo dataset, as its contract defines it.

    Args:
        dataset: One of :data:`DATASETS`, e.g. ``"playback.events"``.

    Returns:
        ``parse_contract(doc).arrow_schema()`` for the dataset's contract document.

    Raises:
        KeyError: If ``dataset`` is not a demo dataset.
    """
    for doc in DEMO_CONTRACTS:
        if doc["dataset"] == dataset:
            return parse_contract(doc).arrow_schema()
    raise KeyError(dataset)


def row_targets(scale: float = 1.0) -> dict[str, int]:
    """Row counts :func:`generate` aims for at ``scale`` (conversions are drawn, so approximate).

    Subscribers, playback events and impressions grow linearly with ``scale``;
    the catalog grows with its square root (a bigger audience does not need a
    proportionally bigger catalog); conversions are about 5% of impressions.

    Args:
        scale: Size multiplier; must be positive.

    Returns:
        Target row count per dataset name.

    Raises:
        ValueError: If ``scale`` is not a positive finite number.
    """
    _check_scale(scale)
    impressions = max(20, round(_BASE_IMPRESSIONS * scale))
    return {
        "catalog.titles": max(20, round(_BASE_TITLES * math.sqrt(scale))),
        "subscriptions.subscribers": max(50, round(_BASE_SUBSCRIBERS * scale)),
        "playback.events": max(100, round(_BASE_EVENTS * scale)),
        "ads.impressions": impressions,
        "ads.conversions": round(impressions * 0.05),
    }


def generate(scale: float = 1.0, seed: int = 7) -> dict[str, pa.Table]:
    """Generate the five demo datasets.

    At ``scale=1`` this gives about 300 titles, 2,000 subscribers, 50,000
    playback events, 20,000 impressions and 1,000 conversions over the 30 days
    ending on :data:`END_DATE`. The result depends only on ``(scale, seed)``.

    Args:
        scale: Multiplier for subscribers, events, impressions and conversions
            (titles grow with its square root). ``scale=100`` gives 5 million
            playback events.
        seed: Seed for :func:`numpy.random.default_rng`.

    Returns:
        Tables keyed by dataset name, in :data:`DATASETS` order; each table's
        schema equals ``parse_contract(doc).arrow_schema()`` of its contract.

    Raises:
        ValueError: If ``scale`` is not a positive finite number.
    """
    targets = row_targets(scale)
    # One independent stream per dataset: changing one table's recipe leaves the others alone.
    streams = np.random.SeedSequence(seed).spawn(len(DATASETS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(DATASETS, streams, strict=True)}

    titles, title_info = _titles(rngs["catalog.titles"], targets["catalog.titles"])
    subscribers, sub_info = _subscribers(rngs["subscriptions.subscribers"], targets["subscriptions.subscribers"])
    events = _playback_events(rngs["playback.events"], targets["playback.events"], title_info, sub_info)
    impressions, imp_info = _impressions(rngs["ads.impressions"], targets["ads.impressions"], title_info, sub_info)
    conversions = _conversions(rngs["ads.conversions"], imp_info)
    tables = {
        "catalog.titles": titles,
        "subscriptions.subscribers": subscribers,
        "playback.events": events,
        "ads.impressions": impressions,
        "ads.conversions": conversions,
    }
    return {name: tables[name] for name in DATASETS}


def describe(tables: Mapping[str, pa.Table]) -> list[tuple[str, int]]:
    """Row count per dataset, in :data:`DATASETS` order.

    Args:
        tables: The result of :func:`generate` (or any subset of it).

    Returns:
        ``(dataset, num_rows)`` pairs.
    """
    return [(name, tables[name].num_rows) for name in DATASETS if name in tables]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _check_scale(scale: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")


def _days(day: dt.date) -> int:
    return (day - _EPOCH).days



def _pick(rng: np.random.Generator, n: int, weights: np.ndarray, *, shuffle: bool = True) -> np.ndarray:
    """Draw ``n`` indices into ``weights`` (need not be normalised), as int64.

    Small category sets use inverse-CDF sampling. Large ones (subscribers,
    titles) draw per-category counts from a multinomial and repeat them, which
    avoids millions of cache-missing binary searches; ``shuffle=False`` leaves
    the result grouped by category, fine when every other column of the row is
    drawn independently of its position.
    """
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    if len(p) <= 64:
        cdf = np.cumsum(p)
        idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        out: np.ndarray = np.minimum(idx, len(p) - 1).astype(np.int64)
        return out
    counts = rng.multinomial(n, p)
    idx = np.repeat(np.arange(len(p), dtype=np.int64), counts)
    if shuffle:
        rng.shuffle(idx)
    return idx


def _time_order(ts: np.ndarray) -> np.ndarray:
    """Permutation sorting ``ts``, ties broken by position, whatever sort numpy picks."""
    order = np.argsort(ts)
    ordered = ts[order]
    ties = np.flatnonzero(ordered[1:] == ordered[:-1])
    if ties.size:
        # Rare (microsecond collisions): sort each run of equal timestamps by position.
        starts = ties[np.r_[True, np.diff(ties) > 1]]
        for start in starts.tolist():
            stop = start + 1
            while stop < len(ordered) and ordered[stop] == ordered[start]:
                stop += 1
            order[start:stop] = np.sort(order[start:stop])
    return order


def _pick_rows(rng: np.random.Generator, matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each ``rows[i]``, draw a column index with the probabilities in ``matrix[rows[i]]``."""
    cdf = np.cumsum(matrix, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(rows))
    picked: np.ndarray = np.minimum((u[:, None] >= cdf[rows]).sum(axis=1), matrix.shape[1] - 1).astype(np.int64)
    return picked


def _labels(values: Sequence[str], idx: np.ndarray) -> pa.Array:
    """Strings ``values[idx]`` as an Arrow string array."""
    return pc.take(pa.array(list(values), pa.string()), pa.array(idx, pa.int64()))


#: Identifiers are made this many at a time: padding reserves four bytes a character, and 50M
#: twelve-digit ids at once would pass the 2 GiB of one Arrow string array.
ID_CHUNK = 8_000_000


def _ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """Identifiers ``prefix`` + zero-padded ``values``, e.g. ``sub-000000042``."""
    parts = [_concat(prefix, pc.utf8_lpad(pc.cast(pa.array(values[i:i + ID_CHUNK], pa.int64()), pa.string()),
                                          width=width, padding="0"))
             for i in range(0, max(len(values), 1), ID_CHUNK)]
    return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)


def _concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation of arrays and constant strings."""
    result = pc.binary_join_element_wise(*parts, "")
    assert isinstance(result, pa.Array)
    return result


def _timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64), pa.timestamp("us", tz="UTC"))


def _decimal(cents: np.ndarray, dtype: pa.Decimal128Type) -> pa.Array:
    """Exact decimal array from integer hundredths (the unscaled value at scale 2)."""
    assert dtype.scale == 2
    cents = cents.astype(np.int64)
    words = np.empty((len(cents), 2), dtype="<i8")
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(dtype, len(cents), [None, pa.py_buffer(words.tobytes())])


def _table(dataset: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = contract_schema(dataset)
    arrays = [columns[f.name] for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _activity_times(
    rng: np.random.Generator,
    n: int,
    country: np.ndarray,
    lower_us: np.ndarray,
) -> np.ndarray:
    """UTC microsecond timestamps in the window, busier at weekends and in the local evening.

    Args:
        rng: Random generator.
        n: Number of timestamps.
        country: Index into :data:`COUNTRIES` per row (sets the local time zone).
        lower_us: Earliest allowed timestamp per row (e.g. the subscriber's signup).

    Returns:
        int64 microseconds since the epoch, each in ``[lower_us, window end)``.
    """
    start_us = _days(START_DATE) * _US_PER_DAY
    end_us = (_days(END_DATE) + 1) * _US_PER_DAY
    weekday = np.array([(START_DATE + dt.timedelta(days=d)).weekday() for d in range(WINDOW_DAYS)])
    day_weights = np.where(weekday >= 5, 1.3, 1.0) * np.where(weekday == 4, 1.1, 1.0)
    hour_of_window = _pick(rng, n, np.outer(day_weights, _HOUR_WEIGHTS).ravel())
    within = rng.integers(0, _US_PER_HOUR, n, dtype=np.int64)
    local = start_us + hour_of_window * _US_PER_HOUR + within
    ts = local - _COUNTRY_UTC_OFFSET_S[country].astype(np.int64) * _US_PER_SECOND
    lower = np.maximum(lower_us, start_us)
    bad = (ts < lower) | (ts >= end_us)
    if bad.any():
        span = (end_us - lower[bad]).astype(np.float64)
        ts[bad] = lower[bad] + np.floor(rng.random(int(bad.sum())) * span).astype(np.int64)
    result: np.ndarray = ts
    return result


# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------


def _titles(rng: np.random.Generator, n: int) -> tuple[pa.Table, dict[str, Any]]:
    kind = _pick(rng, n, _KIND_WEIGHTS)
    is_doc = kind == KINDS.index("documentary")
    fiction = _pick(rng, n, np.array([14, 14, 11, 10, 6, 7, 6, 8, 6, 5, 5], dtype=np.float64))
    docs = len(FICTION_GENRES) + _pick(rng, n, np.array([3, 3, 3, 2, 2], dtype=np.float64))
    genre = np.where(is_doc, docs, fiction)
    maturity = _pick_rows(rng, _MATURITY_MATRIX, genre)

    age = np.floor(rng.exponential(9.0, n)).astype(np.int64)
    release_year = np.clip(END_DATE.year - age, OLDEST_RELEASE_YEAR, END_DATE.year).astype(np.int32)

    movie_rt = np.clip(np.round(rng.normal(108, 20, n)), 70, 210)
    episode_rt = np.array([22, 30, 45, 55, 60])[_pick(rng, n, np.array([2, 2, 3, 3, 2], dtype=np.float64))]
    episode_rt = episode_rt + rng.integers(-3, 4, n)
    doc_rt = np.clip(np.round(rng.normal(80, 25, n)), 40, 160)
    runtime = np.select([kind == 0, kind == 1], [movie_rt, episode_rt], doc_rt).astype(np.int32)

    # Zipf-like popularity over a random ranking, boosted for recent releases and series.
    rank = rng.permutation(n) + 1
    popularity = rank.astype(np.float64) ** -1.1
    popularity *= np.where(release_year >= END_DATE.year - 1, 2.5, 1.0)
    popularity *= np.where(kind == 1, 1.5, 1.0)

    adj = _labels(_ADJECTIVES, rng.integers(0, len(_ADJECTIVES), n))
    noun = _labels(_NOUNS, rng.integers(0, len(_NOUNS), n))
    noun2 = _labels(_NOUNS, rng.integers(0, len(_NOUNS), n))
    pattern = rng.integers(0, 4, n)
    name = pc.case_when(
        pc.make_struct(*(pa.array(pattern == p) for p in range(3))),
        _concat("The ", noun),
        _concat(adj, " ", noun),
        _concat("The ", adj, " ", noun),
        _concat(noun, " of the ", noun2),
    )
    title_id = _ids("tt", np.arange(1, n + 1), 7)
    table = _table("catalog.titles", {
        "title_id": title_id,
        "name": name,
        "kind": _labels(KINDS, kind),
        "genre": _labels(GENRES, genre),
        "release_year": pa.array(release_year, pa.int32()),
        "runtime_minutes": pa.array(runtime, pa.int32()),
        "maturity_rating": _labels(MATURITY_RATINGS, maturity),
    })
    info = {"id": title_id, "popularity": popularity, "kind": kind, "runtime": runtime}
    return table, info


def _subscribers(rng: np.random.Generator, n: int) -> tuple[pa.Table, dict[str, Any]]:
    country = _pick(rng, n, _COUNTRY_WEIGHTS)
    plan = _pick(rng, n, _PLAN_WEIGHTS)
    status = _pick(rng, n, _STATUS_WEIGHTS)

    # Signups accelerate towards the present: exponential age, capped at the oldest signup.
    newest = _days(END_DATE)
    max_age = newest - _days(OLDEST_SIGNUP)
    age = np.minimum(np.floor(rng.exponential(700.0, n)).astype(np.int64), max_age)
    signup = (newest - age).astype(np.int32)

    dollars = np.floor(_PLAN_PRICE[plan] * _COUNTRY_PRICE_LEVEL[country])
    cents = (dollars * 100 + 99).astype(np.int64)

    name_idx = country * _NAMES_PER_COUNTRY + rng.integers(0, _NAMES_PER_COUNTRY, n)
    last_idx = country * _NAMES_PER_COUNTRY + rng.integers(0, _NAMES_PER_COUNTRY, n)
    first = _labels(_FIRST_NAMES, name_idx)
    last = _labels(_LAST_NAMES, last_idx)
    number = np.arange(1, n + 1)
    email = _concat(pc.utf8_lower(first), ".", pc.utf8_lower(last),
                    pc.cast(pa.array(number, pa.int64()), pa.string()), "@example.com")
    full_name = _concat(first, " ", last)
    missing = rng.random(n) < _MISSING_NAME_SHARE
    full_name = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), full_name)
    subscriber_id = _ids("sub-", number, 9)

    price_type = contract_schema("subscriptions.subscribers").field("monthly_price").type
    table = _table("subscriptions.subscribers", {
        "subscriber_id": subscriber_id,
        "email": email,
        "full_name": full_name,
        "country": _labels(COUNTRIES, country),
        "plan": _labels(PLANS, plan),
        "signup_date": pa.array(signup, pa.date32()),
        "status": _labels(STATUSES, status),
        "monthly_price": _decimal(cents, price_type),
    })
    # Heavy-tailed engagement: a few subscribers watch a lot.
    activity = rng.lognormal(0.0, 1.0, n) * _STATUS_ACTIVITY[status]
    info = {
        "id": subscriber_id,
        "country": country,
        "plan": plan,
        "signup_us": signup.astype(np.int64) * _US_PER_DAY,
        "activity": activity,
    }
    return table, info


def _playback_events(
    rng: np.random.Generator, n: int, titles: dict[str, Any], subs: dict[str, Any]
) -> pa.Table:
    # Who, from where and when: the time depends on the subscriber (signup) and country
    # (time zone), so these are drawn first and sorted into time order together.
    sub = _pick(rng, n, subs["activity"], shuffle=False)
    country = subs["country"][sub]
    travelling = np.flatnonzero(rng.random(n) < _TRAVEL_SHARE)
    country[travelling] = _pick(rng, len(travelling), _COUNTRY_WEIGHTS)
    ts = _activity_times(rng, n, country, subs["signup_us"][sub])
    order = _time_order(ts)
    ts, sub, country = ts[order], sub[order], country[order]

    # What and how: independent of the row's position, so drawn directly in time order.
    title = _pick(rng, n, titles["popularity"])
    device = _pick(rng, n, _DEVICE_WEIGHTS)
    kind = titles["kind"][title]
    runtime_s = titles["runtime"][title].astype(np.int64) * 60
    finishes = rng.random(n) < _KIND_COMPLETION[kind]
    fraction = rng.beta(0.9, 2.2, n) * 0.9
    fraction[finishes] = rng.uniform(0.9, 1.0, int(finishes.sum()))
    watch = np.floor(fraction * runtime_s).astype(np.int64)
    completed = watch * 10 >= runtime_s * 9

    return _table("playback.events", {
        "event_id": _ids("pe-", np.arange(1, n + 1), 12),
        "subscriber_id": pc.take(subs["id"], pa.array(sub)),
        "title_id": pc.take(titles["id"], pa.array(title)),
        "event_date": pa.array((ts // _US_PER_DAY).astype(np.int32), pa.date32()),
        "event_ts": _timestamps(ts),
        "device": _labels(DEVICES, device),
        "country": _labels(COUNTRIES, country),
        "watch_seconds": pa.array(watch, pa.int64()),
        "completed": pa.array(completed, pa.bool_()),
    })


def _impressions(
    rng: np.random.Generator, n: int, titles: dict[str, Any], subs: dict[str, Any]
) -> tuple[pa.Table, dict[str, Any]]:
    campaign_weights = rng.pareto(1.5, _CAMPAIGNS) + 0.2  # a few big advertisers
    # Ads are shown to ad-supported accounts (to everyone if, at a tiny scale, there are none).
    ad_plan = subs["plan"] == PLANS.index("ad_supported")
    weights = subs["activity"] * ad_plan if ad_plan.any() else subs["activity"]
    sub = _pick(rng, n, weights, shuffle=False)
    country = subs["country"][sub]
    ts = _activity_times(rng, n, country, subs["signup_us"][sub])
    order = _time_order(ts)
    ts, sub, country = ts[order], sub[order], country[order]
    title = _pick(rng, n, titles["popularity"])
    campaign = _pick(rng, n, campaign_weights)
    placement = _pick(rng, n, _PLACEMENT_WEIGHTS)

    impression_id = _ids("imp-", np.arange(1, n + 1), 10)
    subscriber_id = pc.take(subs["id"], pa.array(sub))
    campaign_id = _ids("cmp-", campaign + 1, 4)
    table = _table("ads.impressions", {
        "impression_id": impression_id,
        "subscriber_id": subscriber_id,
        "title_id": pc.take(titles["id"], pa.array(title)),
        "campaign_id": campaign_id,
        "country": _labels(COUNTRIES, country),
        "impression_ts": _timestamps(ts),
        "placement": _labels(PLACEMENTS, placement),
    })
    info = {
        "id": impression_id,
        "subscriber_id": subscriber_id,
        "campaign_id": campaign_id,
        "campaign": campaign,
        "country": country,
        "placement": placement,
        "ts": ts,
    }
    return table, info


def _conversions(rng: np.random.Generator, imps: dict[str, Any]) -> pa.Table:
    n_imp = len(imps["ts"])
    # Campaigns differ in appeal, normalised over the impressions served so that the
    # overall rate stays what the placements set (about 5%) at every scale and seed.
    appeal = rng.lognormal(0.0, 0.5, _CAMPAIGNS)
    served = np.bincount(imps["campaign"], minlength=_CAMPAIGNS)
    appeal /= max(float((appeal * served).sum()) / max(n_imp, 1), 1e-9)
    base_price = np.array([4.99, 9.99, 14.99, 19.99, 29.99, 49.99, 99.99])[rng.integers(0, 7, _CAMPAIGNS)]
    rate = _PLACEMENT_CONVERSION[imps["placement"]] * appeal[imps["campaign"]]
    converted = rng.random(n_imp) < np.minimum(rate, 0.5)
    idx = np.flatnonzero(converted)

    # Delay after the impression: at least 30 s, mostly within hours, capped at 7 days.
    delay = 30 * _US_PER_SECOND + np.floor(rng.exponential(6 * _US_PER_HOUR, len(idx))).astype(np.int64)
    delay = np.minimum(delay, 7 * _US_PER_DAY)
    ts = imps["ts"][idx] + delay
    end_us = (_days(END_DATE) + 1) * _US_PER_DAY
    keep = ts < end_us  # conversions after the window are not observed yet
    idx, ts = idx[keep], ts[keep]
    quantity = 1 + rng.poisson(0.3, len(idx))
    cents = np.round(base_price[imps["campaign"][idx]] * 100).astype(np.int64) * quantity

    order = _time_order(ts)
    idx, ts, cents = idx[order], ts[order], cents[order]
    m = len(idx)
    take = pa.array(idx, pa.int64())
    revenue_type = contract_schema("ads.conversions").field("revenue").type
    return _table("ads.conversions", {
        "conversion_id": _ids("cnv-", np.arange(1, m + 1), 9),
        "impression_id": pc.take(imps["id"], take),
        "subscriber_id": pc.take(imps["subscriber_id"], take),
        "campaign_id": pc.take(imps["campaign_id"], take),
        "country": _labels(COUNTRIES, imps["country"][idx]),
        "conversion_ts": _timestamps(ts),
        "revenue": _decimal(cents, revenue_type),
    })


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the demo domain, print row counts and timing, optionally write Parquet.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m demo.generator", description=main.__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="size multiplier (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, help="directory to write <dataset>.parquet files into")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tables = generate(scale=args.scale, seed=args.seed)
    elapsed = time.perf_counter() - started
    for name, rows in describe(tables):
        print(f"{name:28} {rows:>12,}")
    print(f"generated in {elapsed:.2f}s")
    if args.out is not None:
        import pyarrow.parquet as pq

        args.out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            pq.write_table(table, args.out / f"{name}.parquet")
        print(f"wrote {len(tables)} Parquet files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
