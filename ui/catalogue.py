"""The catalogue: datasets, views, metrics and domains as lists a person can
sort, filter and page through.

What a person may see is decided once, by :mod:`access.discovery` (the rule
search follows too): objects are filtered for ``discover`` *before* anything
is counted, filtered, offered as a filter choice or paged, so a hidden object
never shows, nor does its number or its owner's name.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from access.discovery import discoverable, discoverable_domains
from lake.enums import ParsableEnum
from lake.errors import InvalidInput

if TYPE_CHECKING:
    from access import AccessControl
    from lake.datasets import DatasetInfo
    from lake.service import Lake
    from metrics_catalog import MetricCatalog
    from metrics_catalog.info import MetricInfo
    from metrics_catalog.meetings import MeetingInfo
    from views.catalog import ViewInfo

PAGE_SIZE = 20
#: The last page a list goes to (10,000 objects of one kind at 20 a page).
PAGE_LIMIT = 500


class CatalogueKind(enum.StrEnum):
    DATASET = "dataset"
    VIEW = "view"
    METRIC = "metric"
    DOMAIN = "domain"

    @property
    def plural(self) -> str:
        return f"{self.value}s"


class SortKey(ParsableEnum, label="sort order"):
    NAME = "name"
    DOMAIN = "domain"
    OWNER = "owner"
    UPDATED = "updated"

    @property
    def heading(self) -> str:
        return {"name": "Name", "domain": "Domain", "owner": "Owner", "updated": "Newest first"}[self.value]


class Certification(ParsableEnum, label="certification filter"):
    ANY = ""
    CERTIFIED = "yes"
    UNCERTIFIED = "no"


@dataclass(frozen=True)
class Entry:
    """One row of a catalogue list.

    Attributes:
        kind: dataset, view, metric or domain.
        name: ``domain.name`` (a domain's name for a domain).
        domain: The domain.
        owner: Who owns it.
        status: A word for the filter and the badge (a view's materialization state,
            a metric's workflow state; empty for datasets and domains).
        certified: A metric with a certified revision.
        description: Markdown, as written.
        tags: Tags, for the text filter.
        updated: When it last changed (a version, a revision, a major).
        detail: A short fact shown beside the name (``major v2``, ``v3``...).
        counts: A domain's visible datasets, views and metrics.
    """

    kind: CatalogueKind
    name: str
    domain: str
    owner: str
    status: str = ""
    certified: bool = False
    description: str = ""
    tags: tuple[str, ...] = ()
    updated: dt.datetime | None = None
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def matches(self, text: str) -> bool:
        """Whether every word of ``text`` is in the name, description, owner or tags (any case)."""
        haystack = " ".join((self.name, self.description, self.owner, *self.tags)).lower()
        return all(word in haystack for word in text.lower().split())


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to and how it is ordered (all from the page's query string)."""

    text: str = ""
    domain: str = ""
    owner: str = ""
    status: str = ""
    certified: Certification = Certification.ANY
    sort: SortKey = SortKey.NAME
    page: int = 1

    @classmethod
    def parse(cls, *, text: str = "", domain: str = "", owner: str = "", status: str = "", certified: str = "",
              sort: str = "", page: int = 1) -> Filters:
        """Filters from query parameters; an unknown sort or certification names itself in the error."""
        if not 1 <= page <= PAGE_LIMIT:
            raise InvalidInput(f"page must be 1..{PAGE_LIMIT}, got {page}")
        return cls(text=text.strip(), domain=domain.strip(), owner=owner.strip(), status=status.strip(),
                   certified=Certification.parse(certified.strip().lower()),
                   sort=SortKey.parse(sort.strip().lower() or "name"), page=page)

    def keep(self, entry: Entry) -> bool:
        return ((not self.domain or entry.domain == self.domain)
                and (not self.owner or entry.owner == self.owner)
                and (not self.status or entry.status == self.status)
                and (self.certified is Certification.ANY
                     or entry.certified == (self.certified is Certification.CERTIFIED))
                and (not self.text or entry.matches(self.text)))

    def params(self, **change: object) -> dict[str, object]:
        """The query parameters of these filters with ``change`` applied (defaults left out)."""
        values: dict[str, object] = {"q": self.text, "domain": self.domain, "owner": self.owner,
                                     "status": self.status, "certified": self.certified.value,
                                     "sort": self.sort.value, "page": self.page, **change}
        return {k: v for k, v in values.items() if v not in ("", 1, "name")}


@dataclass(frozen=True)
class Listing:
    """One page of a filtered, sorted list, with the choices its filters offer."""

    entries: tuple[Entry, ...]
    total: int
    page: int
    pages: int
    domains: tuple[str, ...]
    owners: tuple[str, ...]
    statuses: tuple[str, ...]

    @property
    def first(self) -> int:
        """The position of the page's first entry (1-based)."""
        return (self.page - 1) * PAGE_SIZE + 1


def _sort_key(sort: SortKey) -> Callable[[Entry], Any]:
    if sort is SortKey.DOMAIN:
        return lambda e: (e.domain, e.name)
    if sort is SortKey.OWNER:
        return lambda e: (e.owner.lower(), e.name)
    if sort is SortKey.UPDATED:
        oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
        return lambda e: (-(e.updated or oldest).timestamp(), e.name)
    return lambda e: e.name


def listing(entries: Iterable[Entry], filters: Filters) -> Listing:
    """The page of ``entries`` (already only what the viewer may discover) that ``filters`` choose."""
    visible = list(entries)
    kept = sorted((e for e in visible if filters.keep(e)), key=_sort_key(filters.sort))
    pages = max(1, math.ceil(len(kept) / PAGE_SIZE))
    start = (filters.page - 1) * PAGE_SIZE
    return Listing(
        entries=tuple(kept[start:start + PAGE_SIZE]), total=len(kept), page=filters.page, pages=pages,
        domains=tuple(sorted({e.domain for e in visible})),
        owners=tuple(sorted({e.owner for e in visible if e.owner}, key=str.lower)),
        statuses=tuple(sorted({e.status for e in visible if e.status})),
    )


# -- entries of each kind, only what the viewer may discover ------------------------------------

def _aware(value: dt.datetime | None) -> dt.datetime | None:
    from lake.timestamps import as_utc

    return as_utc(value) if value is not None else None


def dataset_entry(info: DatasetInfo) -> Entry:
    return Entry(CatalogueKind.DATASET, info.name, info.domain, info.owner, description=info.description,
                 tags=tuple(info.contract.tags), updated=_aware(info.created_at),
                 detail=f"major v{info.major}" if info.major > 1 else "")


def view_status(info: ViewInfo) -> str:
    """A view's state in words: deprecated, virtual, stale, materialized or not materialized."""
    if info.status.value == "deprecated":
        return "deprecated"
    if info.materialization.value == "virtual":
        return "virtual"
    if info.stale:
        return "stale"
    return "materialized" if info.materialized_at is not None else "not materialized"


def view_entry(info: ViewInfo) -> Entry:
    return Entry(CatalogueKind.VIEW, info.name, info.domain, info.owner, status=view_status(info),
                 description=info.description, tags=info.tags, updated=_aware(info.created_at),
                 detail=f"v{info.version}")


def metric_entry(info: MetricInfo) -> Entry:
    return Entry(CatalogueKind.METRIC, info.name, info.domain, info.owner, status=info.status.value,
                 certified=info.certified, description=info.definition.description,
                 updated=_aware(info.updated_at), detail=f"revision {info.revision}")


def datasets(lake: Lake, access: AccessControl, subject: str, *, domain: str | None = None) -> list[Entry]:
    """The current majors of the datasets ``subject`` may discover."""
    return [dataset_entry(i) for i in discoverable(access, subject, "dataset", lake.datasets.list(domain=domain))]


def views(lake: Lake, access: AccessControl, subject: str, *, domain: str | None = None) -> list[Entry]:
    """The current versions of the views ``subject`` may discover."""
    from views.catalog import list_views

    return [view_entry(i) for i in discoverable(access, subject, "view", list_views(lake, domain=domain))]


def metrics(catalog: MetricCatalog, access: AccessControl, subject: str, *,
            domain: str | None = None) -> list[Entry]:
    """The metrics ``subject`` may discover."""
    return [metric_entry(i) for i in discoverable(access, subject, "metric", catalog.workflow.list(domain=domain))]


def entries(kind: CatalogueKind, lake: Lake, access: AccessControl, catalog: MetricCatalog,
            subject: str) -> list[Entry]:
    """Every object of ``kind`` that ``subject`` may discover, as catalogue entries."""
    if kind is CatalogueKind.DATASET:
        return datasets(lake, access, subject)
    if kind is CatalogueKind.VIEW:
        return views(lake, access, subject)
    if kind is CatalogueKind.METRIC:
        return metrics(catalog, access, subject)
    return domains(lake, access, catalog, subject)


def domains(lake: Lake, access: AccessControl, catalog: MetricCatalog, subject: str) -> list[Entry]:
    """The domains ``subject`` may see, each with how many of its objects they may discover."""
    objects = [*datasets(lake, access, subject), *views(lake, access, subject),
               *metrics(catalog, access, subject)]
    counts: dict[str, dict[str, int]] = {}
    for e in objects:
        per = counts.setdefault(e.domain, {"datasets": 0, "views": 0, "metrics": 0, "certified": 0})
        per[e.kind.plural] += 1
        per["certified"] += int(e.certified)
    rows = {d.name: d for d in lake.datasets.domains()}
    names = sorted(set(rows) | {e.domain for e in objects})
    shown = discoverable_domains(access, subject, names, {d: sum(c.values()) for d, c in counts.items()})
    out = []
    for name in shown:
        row = rows.get(name)
        per = counts.get(name, {"datasets": 0, "views": 0, "metrics": 0, "certified": 0})
        out.append(Entry(CatalogueKind.DOMAIN, name, name, row.owner if row else "",
                         updated=_aware(row.created_at) if row else None, counts=per,
                         detail=", ".join(f"{per[k]} {k}" for k in ("datasets", "views", "metrics") if per[k])))
    return out


@dataclass(frozen=True)
class Meeting:
    """A review meeting of a domain with its next occurrences."""

    info: MeetingInfo
    upcoming: tuple[dt.datetime, ...]


@dataclass(frozen=True)
class DomainPage:
    """Everything the domain page shows, only as far as the viewer may discover it."""

    name: str
    owner: str
    created_at: dt.datetime | None
    datasets: tuple[Entry, ...]
    views: tuple[Entry, ...]
    certified: tuple[Entry, ...]
    other_metrics: int
    meetings: tuple[Meeting, ...]


def domain_page(lake: Lake, access: AccessControl, catalog: MetricCatalog, subject: str, name: str, *,
                now: dt.datetime | None = None, upcoming: int = 3) -> DomainPage | None:
    """The domain ``name`` as ``subject`` may see it, or ``None`` when they may not see it at all."""
    found = next((e for e in domains(lake, access, catalog, subject) if e.name == name), None)
    if found is None:
        return None
    metric_entries = metrics(catalog, access, subject, domain=name)
    certified = tuple(e for e in metric_entries if e.certified)
    now = now or dt.datetime.now(dt.UTC)
    meetings = tuple(Meeting(m, tuple(m.occurrences(now, limit=upcoming)))
                     for m in catalog.meetings.list(domain=name))
    return DomainPage(
        name=name, owner=found.owner, created_at=found.updated,
        datasets=tuple(datasets(lake, access, subject, domain=name)),
        views=tuple(views(lake, access, subject, domain=name)),
        certified=certified, other_metrics=len(metric_entries) - len(certified), meetings=meetings,
    )

