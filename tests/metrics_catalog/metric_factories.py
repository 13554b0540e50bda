"""Factories of the metric catalog tests (import as ``from metric_factories import ...``):
people with roles, a playback dataset with deterministic rows, a two-stage approval chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from access import AccessControl, Action, Resource
from access.gateway import Gateway
from lake.service import Lake
from metrics_catalog import MetricCatalog

#: Users of every metric test: name -> roles.
PEOPLE: dict[str, list[str]] = {
    "admin": ["admin"],
    "mia": ["analyst"],             # writes metrics
    "max": ["analyst"],             # writes metrics too
    "tom": ["metric_tech"],         # tech approvers
    "tara": ["metric_tech"],
    "bob": ["metric_business"],     # business approvers
    "bea": ["metric_business"],
    "dual": ["metric_tech", "metric_business"],  # may approve at either stage
    "victor": [],                   # reads only
}

EVENTS_CONTRACT: dict[str, Any] = {
    "dataset": "playback.events",
    "owner": "playback",
    "description": "Playback sessions.",
    "primary_key": ["event_id"],
    "columns": [
        {"name": "event_id", "type": "int64", "nullable": False},
        {"name": "subscriber_id", "type": "string", "nullable": False},
        {"name": "event_ts", "type": "timestamp", "nullable": False},
        {"name": "event_date", "type": "date", "nullable": False},
        {"name": "country", "type": "string", "nullable": False},
        {"name": "device", "type": "string", "nullable": False},
        {"name": "watch_seconds", "type": "int64", "nullable": False},
        {"name": "email", "type": "string", "pii": True},
    ],
}

CHAIN: dict[str, Any] = {
    "domain": "playback",
    "stages": [
        {"name": "tech", "roles": ["metric_tech"], "quorum": 1, "reviews": "technical"},
        {"name": "business", "roles": ["metric_business"], "quorum": 1, "reviews": "all"},
    ],
}

DESCRIPTION = "Seconds watched per viewer.\n\n*Viewer*: a subscriber with at least one session."


def metric_doc(name: str = "playback.watch_per_viewer", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "view": "playback.events",
        "expression": "SUM(watch_seconds) / COUNT(DISTINCT subscriber_id)",
        "time_dimension": "event_ts",
        "dimensions": ["country", "device"],
        "grains": ["day", "week", "month"],
        "unit": "seconds",
        "format": "duration",
        "description": DESCRIPTION,
    }
    doc.update(overrides)
    return doc


def events_table(n: int = 600, *, start: dt.datetime = dt.datetime(2026, 9, 20, tzinfo=dt.UTC), days: int = 70,
                 first_id: int = 1, seed: int = 11) -> pa.Table:
    """Deterministic playback rows spread over ``days`` days (crossing month and week boundaries)."""
    import random

    rng = random.Random(seed)
    countries, devices = ["US", "DE", "FR", "JP"], ["tv", "web", "mobile"]
    rows: dict[str, list[Any]] = {k: [] for k in ("event_id", "subscriber_id", "event_ts", "event_date", "country",
                                                  "device", "watch_seconds", "email")}
    for i in range(n):
        ts = start + dt.timedelta(seconds=rng.randrange(days * 86400))
        rows["event_id"].append(first_id + i)
        sub = rng.randrange(40)
        rows["subscriber_id"].append(f"sub-{sub:03d}")
        rows["event_ts"].append(ts)
        rows["event_date"].append(ts.date())
        rows["country"].append(countries[sub % 4])
        rows["device"].append(rng.choice(devices))
        rows["watch_seconds"].append(rng.randrange(30, 7200))
        rows["email"].append(f"sub{sub}@example.com")
    schema = pa.schema([("event_id", pa.int64()), ("subscriber_id", pa.string()),
                        ("event_ts", pa.timestamp("us", tz="UTC")), ("event_date", pa.date32()),
                        ("country", pa.string()), ("device", pa.string()), ("watch_seconds", pa.int64()),
                        ("email", pa.string())])
    return pa.table(rows, schema=schema)


def make_people(lake: Lake) -> None:
    for name, roles in PEOPLE.items():
        lake.users.ensure(name, roles=roles)


def setup_playback(lake: Lake, *, rows: pa.Table | None = None) -> None:
    """People, the playback.events dataset (with rows when given) and the chain."""
    make_people(lake)
    lake.register(EVENTS_CONTRACT, actor="admin")
    if rows is not None:
        lake.ingest_table("playback.events", rows, actor="admin")


#: What everyone may do to metrics in the workflow tests (the chain's stage roles still decide approvals).
EVERYONE_MAY = (Action.DISCOVER, Action.PROPOSE, Action.APPROVE, Action.READ)


def open_catalog(lake: Lake, **kwargs: Any) -> MetricCatalog:
    """The catalog on a real access layer and gateway.

    Unless an ``access`` is given, a new one lets everyone see, propose,
    approve (stage roles decide) and read metrics and their sources, so the
    workflow tests exercise the workflow's own rules; the access layer's
    decisions are tested where they matter (values, API).
    """
    if "access" not in kwargs:
        access = AccessControl(lake)
        for action in EVERYONE_MAY:
            if not access.can("everyone", action, Resource.lake()):
                access.grant("everyone", action, Resource.lake(), actor="admin")
        kwargs["access"] = access
    kwargs.setdefault("gateway", Gateway(lake, kwargs["access"]))
    mc = MetricCatalog(lake, **kwargs)
    mc.chains.set("playback", CHAIN, actor="admin")
    return mc
