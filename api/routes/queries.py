"""Saved queries and your query history: ``/api/v1/queries/saved``, ``/api/v1/queries/history``.

Saved queries hold SQL text only (:mod:`access.saved`): whoever runs one
sends its SQL to ``POST /api/v1/query`` and gets what their own grants,
masks and row filters allow. Your history is read from the audit log and is
yours only (:mod:`access.history`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from access.history import MAX_HISTORY, query_history
from api.authz import AccessDep, known
from api.deps import PrincipalDep, ServicesDep
from api.schemas import (
    QueryHistoryItemPublic,
    SavedQueryCreate,
    SavedQueryPublic,
    SavedQueryShare,
    error_responses,
)

router = APIRouter(prefix="/queries", tags=["query"])

SavedId = Annotated[str, Path(min_length=1, max_length=64, description="A saved query's id (from its link).")]


@router.get("/saved", responses=error_responses(403))
def list_saved(services: ServicesDep, principal: PrincipalDep, access: AccessDep) -> list[SavedQueryPublic]:
    """Your saved queries, the most recently saved first."""
    return [SavedQueryPublic.of(q) for q in services.saved_queries.mine(known(access, principal))]


@router.post("/saved", status_code=201, responses=error_responses(403, 422))
def save_query(body: SavedQueryCreate, services: ServicesDep, principal: PrincipalDep,
               access: AccessDep) -> SavedQueryPublic:
    """Save a query under a name (a name you used before gets the new SQL)."""
    saved = services.saved_queries.save(known(access, principal), body.name, body.sql, shared=body.shared)
    return SavedQueryPublic.of(saved)


@router.get("/saved/{query_id}", responses=error_responses(403, 404))
def get_saved(query_id: SavedId, services: ServicesDep, principal: PrincipalDep,
              access: AccessDep) -> SavedQueryPublic:
    """A saved query of yours, or one shared with a link. Someone else's unshared one: 404, as a missing one."""
    return SavedQueryPublic.of(services.saved_queries.get(known(access, principal), query_id))


@router.patch("/saved/{query_id}", responses=error_responses(403, 404, 422))
def share_saved(query_id: SavedId, body: SavedQueryShare, services: ServicesDep, principal: PrincipalDep,
                access: AccessDep) -> SavedQueryPublic:
    """Share one of your saved queries by link, or stop sharing it."""
    return SavedQueryPublic.of(services.saved_queries.share(known(access, principal), query_id, body.shared))


@router.delete("/saved/{query_id}", status_code=204, response_class=Response, responses=error_responses(403, 404))
def delete_saved(query_id: SavedId, services: ServicesDep, principal: PrincipalDep, access: AccessDep) -> None:
    """Delete one of your saved queries."""
    services.saved_queries.delete(known(access, principal), query_id)


@router.get("/history", responses=error_responses(403, 422))
def history(services: ServicesDep, principal: PrincipalDep, access: AccessDep,
            limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 50) -> list[QueryHistoryItemPublic]:
    """Your latest gateway queries (allowed, refused or failed), newest first, from the audit log."""
    subject = known(access, principal)
    return [QueryHistoryItemPublic.of(item) for item in query_history(access.audit, subject, limit=limit)]
