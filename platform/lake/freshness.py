"""When data last landed in a dataset, and whether that keeps the contract's freshness promise.

"Last landed" is the time of the newest committed batch that added rows to
the dataset's current major version (a batch whose every row was rejected
lands nothing). A contract may promise a freshness (``freshness: 1d``,
:func:`lake.contracts.parse_freshness`); there is none by default. The state:

* ``fresh``: the last batch landed within the promise;
* ``late``: it landed longer ago than the promise, or never (with a promise);
* ``no_promise``: the contract promises nothing (the last landing is still shown);
* ``never_landed``: no promise and no batch yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from lake.catalog import Catalog
from lake.catalog.models import Commit, utcnow
from lake.datasets import DatasetInfo
from lake.enums import ParsableEnum


class FreshnessState(ParsableEnum, label="freshness state"):
    FRESH = "fresh"
    LATE = "late"
    NO_PROMISE = "no_promise"
    NEVER_LANDED = "never_landed"


@dataclass(frozen=True)
class Freshness:
    """A dataset's last landing measured against its contract's promise.

    Attributes:
        dataset: ``domain.dataset``.
        last_landed: When the newest batch with rows was committed (``None``: never).
        promise: The contract's freshness promise (``None``: none).
        state: See the module docstring.
        due_at: When the next batch is due under the promise (``None`` without one).
        late_by: How long the promise had been broken when measured (``None`` unless late).
    """

    dataset: str
    last_landed: dt.datetime | None
    promise: dt.timedelta | None
    promise_text: str | None
    state: FreshnessState
    due_at: dt.datetime | None

    late_by: dt.timedelta | None = None


def measure(info: DatasetInfo, last_landed: dt.datetime | None, *, now: dt.datetime | None = None) -> Freshness:
    """The freshness of ``info`` given when its last batch landed."""
    now = now or utcnow()
    promise = info.contract.freshness_sla
    if promise is None:
        state = FreshnessState.NO_PROMISE if last_landed else FreshnessState.NEVER_LANDED
        return Freshness(info.name, last_landed, None, None, state, None)
    due = (last_landed or info.created_at) + promise
    state = FreshnessState.FRESH if last_landed is not None and now <= due else FreshnessState.LATE
    late_by = max(now - due, dt.timedelta(0)) if state is FreshnessState.LATE else None
    return Freshness(info.name, last_landed, promise, info.contract.freshness, state, due, late_by)


def last_landed(catalog: Catalog, dataset_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """For each dataset major version (catalog id) with a landed batch, when the newest one landed (one query)."""
    ids = sorted(set(dataset_ids))
    if not ids:
        return {}
    with catalog.session() as s:
        rows = s.execute(select(Commit.dataset_id, func.max(Commit.created_at))
                         .where(Commit.dataset_id.in_(ids), Commit.status == "committed", Commit.rows > 0)
                         .group_by(Commit.dataset_id)).all()
    return {int(i): when for i, when in rows if when is not None}


def freshness_of(catalog: Catalog, infos: Iterable[DatasetInfo], *,
                 now: dt.datetime | None = None) -> dict[str, Freshness]:
    """The freshness of each dataset, by name (one query for all)."""
    infos = list(infos)
    landed = last_landed(catalog, (i.id for i in infos))
    now = now or utcnow()
    return {i.name: measure(i, landed.get(i.id), now=now) for i in infos}
