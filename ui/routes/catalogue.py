"""Catalogue pages: datasets, views, metrics and domains as lists with sorting,
filters (domain, owner, status or certification, text) and paging, and one
page per domain (owner, datasets, views, certified metrics, review meetings).

Only what the viewer may discover is listed, counted or offered as a filter
choice (:mod:`ui.catalogue` over :mod:`access.discovery`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from lake.errors import NotFound
from ui import catalogue, services
from ui.catalogue import PAGE_LIMIT, CatalogueKind, Filters, SortKey
from ui.routing import Me, UiRoute
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

#: Datasets, views and metrics listed on a domain page (the rest are a link away, in the catalogue).
DOMAIN_ITEMS = 20

HEADINGS = {
    CatalogueKind.DATASET: ("Datasets", "Data primitives landed by producers, each with its contract."),
    CatalogueKind.VIEW: ("Views", "Business logic as versioned SQL over datasets and other views."),
    CatalogueKind.METRIC: ("Metrics", "Governed metric definitions; certified ones passed their approval chain."),
    CatalogueKind.DOMAIN: ("Domains", "Areas of the business, each with an owner, its data and its metrics."),
}


def _index(request: Request, user: str, kind: CatalogueKind, filters: Filters) -> Response:
    entries = catalogue.entries(kind, services.lake_of(request), services.access(request),
                                services.metrics(request), user)
    page = catalogue.listing(entries, filters)
    base = f"{UI_PREFIX}/{kind.plural}"

    def url(**change: object) -> str:
        params = filters.params(**change)
        return base + ("?" + urlencode(params) if params else "")

    title, lead = HEADINGS[kind]
    return render(request, "catalogue.html", {
        "kind": kind, "title": title, "lead": lead, "listing": page, "filters": filters, "base": base,
        "sorts": list(SortKey), "q": "",
        "previous": url(page=page.page - 1) if page.page > 1 else "",
        "next": url(page=page.page + 1) if page.page < page.pages else "",
        "beyond": filters.page > page.pages and page.total > 0, "first_page": url(page=1),
    }, section=kind.plural)


def _filters(q: str, domain: str, owner: str, status: str, certified: str, sort: str, page: int) -> Filters:
    return Filters.parse(text=q, domain=domain, owner=owner, status=status, certified=certified, sort=sort,
                         page=page)


Text = Annotated[str, Query(max_length=200)]
Name = Annotated[str, Query(max_length=255)]
Word = Annotated[str, Query(max_length=40)]
Page = Annotated[int, Query(ge=1, le=PAGE_LIMIT)]


@router.get("/datasets")
def dataset_index(request: Request, me: Me, q: Text = "", domain: Name = "", owner: Name = "",
                  status: Word = "", certified: Word = "", sort: Word = "", page: Page = 1) -> Response:
    """The datasets the viewer may discover (current majors)."""
    return _index(request, me.user, CatalogueKind.DATASET, _filters(q, domain, owner, status, certified, sort, page))


@router.get("/views")
def view_index(request: Request, me: Me, q: Text = "", domain: Name = "", owner: Name = "",
               status: Word = "", certified: Word = "", sort: Word = "", page: Page = 1) -> Response:
    """The views the viewer may discover (current versions)."""
    return _index(request, me.user, CatalogueKind.VIEW, _filters(q, domain, owner, status, certified, sort, page))


@router.get("/metrics")
def metric_index(request: Request, me: Me, q: Text = "", domain: Name = "", owner: Name = "",
                 status: Word = "", certified: Word = "", sort: Word = "", page: Page = 1) -> Response:
    """The metrics the viewer may discover, certified or in any state of their workflow."""
    return _index(request, me.user, CatalogueKind.METRIC, _filters(q, domain, owner, status, certified, sort, page))


@router.get("/domains")
def domain_index(request: Request, me: Me, q: Text = "", owner: Name = "", sort: Word = "",
                 page: Page = 1) -> Response:
    """The domains the viewer may see."""
    return _index(request, me.user, CatalogueKind.DOMAIN, _filters(q, "", owner, "", "", sort, page))


@router.get("/domains/{name}")
def domain_view(request: Request, me: Me, name: str) -> Response:
    """One domain: its owner, datasets, views, certified metrics and review meetings."""
    page = catalogue.domain_page(services.lake_of(request), services.access(request), services.metrics(request),
                                 me.user, name)
    if page is None:
        raise NotFound(f"there is no domain named {name} that you can see")
    return render(request, "domain.html", {"d": page, "shown": DOMAIN_ITEMS}, section="domains")
