"""Home and search: ranked hits across datasets, columns, views and metrics,
filtered by kind, domain and certification, showing only what the person may discover."""

from __future__ import annotations

import enum
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from lake.errors import InvalidInput
from lake.service import Lake
from ui import services
from ui.inbox import waiting_for
from ui.routing import Me, UiRoute
from ui.templating import UI_PREFIX, render
from ui.visibility import discoverable, hit_filter, link_for

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

PAGE_SIZE = 25


class SearchKind(enum.StrEnum):
    DATASET = "dataset"
    COLUMN = "column"
    VIEW = "view"
    METRIC = "metric"

    @classmethod
    def parse(cls, text: str) -> SearchKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(k.value for k in cls)
            raise InvalidInput(f"unknown kind {text!r}; expected one of: {allowed}") from None

    @property
    def label(self) -> str:
        return {"dataset": "Datasets", "column": "Columns", "view": "Views", "metric": "Metrics"}[self.value]


class Certification(enum.StrEnum):
    ANY = ""
    CERTIFIED = "yes"
    UNCERTIFIED = "no"

    @classmethod
    def parse(cls, text: str) -> Certification:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(f"unknown certification filter {text!r}; expected yes, no or nothing") from None

    @property
    def flag(self) -> bool | None:
        return {Certification.ANY: None, Certification.CERTIFIED: True, Certification.UNCERTIFIED: False}[self]


def _domains(lake: Lake) -> list[str]:
    return sorted({d.domain for d in lake.datasets.list()})


@router.get("")
def home(request: Request, me: Me) -> Response:
    """Start page: search, what waits for me, and the datasets I can discover."""
    control = services.access(request)
    services.catalog_sync(request).ensure()
    lake = services.lake_of(request)
    from access import Resource

    datasets = [d for d in lake.datasets.list() if discoverable(control, me.user, Resource.table(d.name))]
    waiting = waiting_for(request, me)
    return render(request, "home.html", {"datasets": datasets[:50], "more": max(0, len(datasets) - 50),
                                         "waiting": waiting, "kinds": list(SearchKind)}, section="home")


@router.get("/search")
def search(
    request: Request,
    me: Me,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    domain: Annotated[str, Query(max_length=63)] = "",
    certified: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """Ranked search results the person may discover."""
    kinds = [SearchKind.parse(k) for k in kind if k]
    cert = Certification.parse(certified)
    control = services.access(request)
    services.catalog_sync(request).ensure()
    started = time.perf_counter()
    hits = services.search_index(request).search(
        q, kinds=[k.value for k in kinds], domains=[domain] if domain else [], certified=cert.flag,
        limit=PAGE_SIZE, visible=hit_filter(control, me.user)) if q.strip() else []
    elapsed_ms = (time.perf_counter() - started) * 1000
    results = [{"hit": h, "href": link_for(h.kind, h.key)} for h in hits]
    return render(request, "search.html", {
        "q": q, "kinds": list(SearchKind), "chosen": {k.value for k in kinds}, "domain": domain,
        "domains": _domains(services.lake_of(request)), "certified": cert.value, "results": results,
        "elapsed_ms": elapsed_ms, "page_size": PAGE_SIZE,
    }, section="search")
