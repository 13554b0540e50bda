"""Home and search: ranked hits across datasets, columns, views and metrics,
filtered by kind, domain and certification, showing only what the person may discover."""

from __future__ import annotations

import enum
import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from access.discovery import search_grouped, search_page
from lake.errors import InvalidInput
from lake.search import MAX_OFFSET, Correction, KindGroup, SearchHit, SearchKind, SearchPage
from lake.service import Lake
from ui import services
from ui.freshness import FreshnessView, freshness_views
from ui.inbox import waiting_for
from ui.routing import Me, UiRoute
from ui.templating import UI_PREFIX, render
from ui.visibility import discoverable, link_for

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

PAGE_SIZE = 25
#: Hits per kind on the grouped first page.
PER_KIND = 5
#: The last page a kind's list goes to (``lake.search.MAX_OFFSET``).
PAGE_LIMIT = MAX_OFFSET // PAGE_SIZE + 1


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
    page: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 1,
) -> Response:
    """Ranked search results the person may discover.

    Without a kind chosen, the best hits of each kind in groups (datasets,
    views, metrics, then columns), each with a link to all of its kind; with
    kinds chosen, one ranked list in pages.
    """
    kinds = [SearchKind.parse(k) for k in kind if k]
    cert = Certification.parse(certified)
    control = services.access(request)
    services.catalog_sync(request).ensure()
    index = services.search_index(request)
    domains = [domain] if domain else []
    started = time.perf_counter()
    groups: tuple[KindGroup, ...] = ()
    results: SearchPage | None = None
    corrections: tuple[Correction, ...] = ()
    if q.strip() and kinds:
        results = search_page(index, control, me.user, q, kinds=[k.value for k in kinds], domains=domains,
                              certified=cert.flag, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        corrections = results.corrections
    elif q.strip():
        grouped = search_grouped(index, control, me.user, q, domains=domains, certified=cert.flag,
                                 per_kind=PER_KIND)
        groups, corrections = grouped.groups, grouped.corrections
    elapsed_ms = (time.perf_counter() - started) * 1000
    shown = [h for g in groups for h in g.hits] + list(results.hits if results else ())
    fresh = freshness_views(services.lake_of(request), (h.key for h in shown if h.kind == "dataset"))

    def url(**change: object) -> str:
        params: dict[str, object] = {"q": q, "kind": [k.value for k in kinds], "domain": domain,
                                     "certified": cert.value, "page": page, **change}
        kept = {k: v for k, v in params.items() if v not in ("", [], 1) or k == "q"}
        return f"{UI_PREFIX}/search?" + urlencode(kept, doseq=True)

    return render(request, "search.html", {
        "q": q, "kinds": list(SearchKind), "chosen": {k.value for k in kinds}, "domain": domain,
        "domains": _domains(services.lake_of(request)), "certified": cert.value, "elapsed_ms": elapsed_ms,
        "groups": [{"kind": SearchKind(g.kind), "hits": [_hit(h, fresh) for h in g.hits],
                    "more": url(kind=[g.kind], page=1) if g.has_more else ""} for g in groups],
        "results": [_hit(h, fresh) for h in results.hits] if results else [],
        "paged": results is not None, "page": page,
        "previous": url(page=page - 1) if results and page > 1 else "",
        "next": url(page=page + 1) if results and results.has_more and page < PAGE_LIMIT else "",
        "first": (page - 1) * PAGE_SIZE + 1,
        "corrections": corrections,
    }, section="search")


def _hit(hit: SearchHit, fresh: dict[str, FreshnessView]) -> dict[str, object]:
    return {"hit": hit, "href": link_for(hit.kind, hit.key),
            "freshness": fresh.get(hit.key) if hit.kind == "dataset" else None}
