"""Catalog search: ranked, paged hits the caller may discover (the rule of ``access.discovery``, as in the UI)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from access.discovery import search_page
from api.authz import AccessDep, known
from api.deps import PrincipalDep, ServicesDep
from api.schemas import SearchPagePublic, error_responses
from lake.search import MAX_OFFSET, SearchKind

router = APIRouter(tags=["search"])


@router.get("/search", responses=error_responses(422))
def search(
    services: ServicesDep,
    access: AccessDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(max_length=200, description="Words; each matches whole words or their beginnings, "
                                                        "and a misspelt one also the indexed words near it.")],
    kind: Annotated[list[SearchKind], Query(description="Only these kinds (repeat for several).")] = [],  # noqa: B006
    domain: Annotated[list[str], Query(description="Only these domains (repeat for several).")] = [],  # noqa: B006
    certified: Annotated[bool | None, Query(description="Only certified (true) or uncertified (false) objects.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 25,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip.")] = 0,
) -> SearchPagePublic:
    """Datasets, views, metrics and columns matching ``q``, best first, one page at a time.

    Every hit is checked for ``discover`` before it counts, exactly as on the
    web UI's search page: an object the caller may not discover is never in an
    answer, nor counted in ``has_more``. Follow ``has_more`` with
    ``offset + limit`` for the next page.
    """
    subject = known(access, principal)
    services.catalog_sync.ensure()
    page = search_page(services.search, access, subject, q, kinds=[k.value for k in kind],
                       domains=[d for d in domain if d], certified=certified, limit=limit, offset=offset)
    return SearchPagePublic.of(page)
