"""Access policy: roles and groups, memberships, grants, masks, row filters,
decisions, and the policy as Casbin CSV.

Who may change what is decided by ``access.changes`` (``AccessControl.changes``),
the same rule the CLI and the UI go through: roles, groups and memberships
need ``admin`` on the lake; grants, masks and row filters on a resource need
``grant`` on it (``admin`` to hand out ``grant``/``admin`` or to show PII in
clear with ``decrypt``). Every route needs ``discover`` on the lake.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from access import AccessControl, Action, Effect, Mask, Resource, RoleKind
from access.schemas import (
    DecisionPublic,
    GrantCreate,
    GrantPublic,
    ImportResult,
    MaskPublic,
    MaskSet,
    MemberAdd,
    MembershipPublic,
    RoleCreate,
    RolePublic,
    RowFilterPublic,
    RowFilterSet,
    TableAccessPublic,
)
from api.authz import BASELINE, LAKE, AccessDep, known
from api.deps import LakeDep, PrincipalDep
from api.guards import read_text
from api.params import Id
from api.schemas import error_responses
from lake.auth import Principal

router = APIRouter(prefix="/access", tags=["access"], dependencies=[BASELINE])

MAX_POLICY_BYTES = 8 << 20


def _check(access: AccessControl, principal: Principal, action: Action, resource: Resource) -> str:
    subject = known(access, principal)
    access.require(subject, action, resource)
    return subject


# -- roles and groups --------------------------------------------------------------------


def _kind(kind: str | None) -> RoleKind | None:
    return RoleKind.parse(kind) if kind else None


@router.get("/roles")
def list_roles(access: AccessDep, kind: Annotated[str | None, Query(description="role or group")] = None
               ) -> list[RolePublic]:
    """Every role and group (``kind`` narrows it)."""
    return [RolePublic.of(r) for r in access.policies.roles(_kind(kind))]


@router.post("/roles", status_code=201, responses=error_responses(403, 409, 422))
def create_role(body: RoleCreate, access: AccessDep, principal: PrincipalDep) -> RolePublic:
    """Create a role (needs admin on the lake)."""
    return RolePublic.of(access.changes.create_role(body.name, kind=RoleKind.ROLE, description=body.description,
                                                    by=known(access, principal)))


@router.post("/groups", status_code=201, responses=error_responses(403, 409, 422))
def create_group(body: RoleCreate, access: AccessDep, principal: PrincipalDep) -> RolePublic:
    """Create a group (needs admin on the lake)."""
    return RolePublic.of(access.changes.create_role(body.name, kind=RoleKind.GROUP, description=body.description,
                                                    by=known(access, principal)))


@router.get("/groups")
def list_groups(access: AccessDep) -> list[RolePublic]:
    return [RolePublic.of(r) for r in access.policies.roles(RoleKind.GROUP)]


@router.delete("/roles/{name}", status_code=204, response_class=Response, responses=error_responses(403, 404, 409))
def delete_role(name: str, access: AccessDep, principal: PrincipalDep) -> None:
    """Delete a role or group with its memberships, grants, masks and row filters."""
    access.changes.delete_role(name, by=known(access, principal))


@router.get("/roles/{name}/members", responses=error_responses(404))
def list_members(name: str, access: AccessDep) -> list[MembershipPublic]:
    access.policies.role(name)
    return [MembershipPublic.of(m) for m in access.policies.memberships(role=name)]


@router.post("/roles/{name}/members", status_code=201, responses=error_responses(403, 404, 409))
def add_member(name: str, body: MemberAdd, access: AccessDep, principal: PrincipalDep) -> MembershipPublic:
    """Add a user, service principal, group or role to a role or group."""
    return MembershipPublic.of(access.changes.add_member(name, body.member, expires_at=body.expires_at,
                                                         by=known(access, principal)))


@router.delete("/roles/{name}/members/{member}", status_code=204, response_class=Response,
               responses=error_responses(403, 404, 409))
def remove_member(name: str, member: str, access: AccessDep, principal: PrincipalDep) -> None:
    access.changes.remove_member(name, member, by=known(access, principal))


@router.get("/subjects/{subject}/roles")
def subject_roles(subject: str, access: AccessDep, principal: PrincipalDep) -> list[str]:
    """The roles and groups a subject holds now, through every membership (admins, or yourself)."""
    if subject != principal.name:
        _check(access, principal, Action.ADMIN, LAKE)
    return sorted(access.roles_of(subject))


# -- grants -----------------------------------------------------------------------------


@router.get("/grants", responses=error_responses(403, 422))
def list_grants(access: AccessDep, principal: PrincipalDep,
                subject: str | None = None,
                resource: Annotated[str, Query(description="Grants on this resource and below it.")] = "lake",
                include_expired: bool = False) -> list[GrantPublic]:
    """Grants on a resource and everything below it (needs grant on it; your own grants always)."""
    target = Resource.parse(resource)
    if subject != principal.name:
        _check(access, principal, Action.GRANT, target)
    return [GrantPublic.of(g) for g in access.policies.grants(subject=subject, resource=target,
                                                               include_expired=include_expired)]


@router.post("/grants", status_code=201, responses=error_responses(403, 404, 409, 422))
def create_grant(body: GrantCreate, access: AccessDep, principal: PrincipalDep) -> GrantPublic:
    """Allow or deny a subject an action on a resource and everything under it."""
    target, action = Resource.parse(body.resource), Action.parse(body.action)
    return GrantPublic.of(access.changes.grant(body.subject, action, target, effect=Effect.parse(body.effect),
                                               expires_at=body.expires_at, reason=body.reason,
                                               by=known(access, principal)))


@router.delete("/grants/{grant_id}", status_code=204, response_class=Response, responses=error_responses(403, 404, 409))
def revoke_grant(grant_id: Id, access: AccessDep, principal: PrincipalDep) -> None:
    """Remove a grant (409 if it would leave no administrator)."""
    access.changes.revoke(grant_id, by=known(access, principal))


# -- masks and row filters -------------------------------------------------------------------


@router.get("/masks", responses=error_responses(403))
def list_masks(access: AccessDep, principal: PrincipalDep, subject: str | None = None) -> list[MaskPublic]:
    """Mask rules on the resources you may grant on."""
    known(access, principal)
    return [MaskPublic.of(m) for m in access.policies.masks(subject=subject)
            if access.can(principal.name, Action.GRANT, m.resource)]


@router.put("/masks", responses=error_responses(403, 404, 422))
def set_mask(body: MaskSet, access: AccessDep, principal: PrincipalDep) -> MaskPublic:
    """Set how a subject sees a column (or the PII columns under a table, domain or the lake)."""
    target, mask = Resource.parse(body.resource), Mask.parse(body.mask)
    return MaskPublic.of(access.changes.set_mask(body.subject, target, mask, expires_at=body.expires_at,
                                                 by=known(access, principal)))


@router.delete("/masks", status_code=204, response_class=Response, responses=error_responses(403, 404))
def remove_mask(subject: str, resource: str, access: AccessDep, principal: PrincipalDep) -> None:
    access.changes.remove_mask(subject, Resource.parse(resource), by=known(access, principal))


@router.get("/row-filters", responses=error_responses(403))
def list_row_filters(access: AccessDep, principal: PrincipalDep, subject: str | None = None
                     ) -> list[RowFilterPublic]:
    """Row filters on the resources you may grant on."""
    known(access, principal)
    return [RowFilterPublic.of(f) for f in access.policies.row_filters(subject=subject)
            if access.can(principal.name, Action.GRANT, f.resource)]


@router.put("/row-filters", responses=error_responses(403, 404, 422))
def set_row_filter(body: RowFilterSet, access: AccessDep, principal: PrincipalDep) -> RowFilterPublic:
    """Limit the rows a subject's grants give on the tables under a resource."""
    target = Resource.parse(body.resource)
    return RowFilterPublic.of(access.changes.set_row_filter(body.subject, target, body.predicate,
                                                            expires_at=body.expires_at, by=known(access, principal)))


@router.delete("/row-filters", status_code=204, response_class=Response, responses=error_responses(403, 404))
def remove_row_filter(subject: str, resource: str, access: AccessDep, principal: PrincipalDep) -> None:
    access.changes.remove_row_filter(subject, Resource.parse(resource), by=known(access, principal))


# -- decisions -----------------------------------------------------------------------------


@router.get("/check", responses=error_responses(403, 422))
def check(access: AccessDep, principal: PrincipalDep, action: str, resource: str,
          subject: Annotated[str | None, Query(description="Whom to ask about (you by default).")] = None
          ) -> DecisionPublic:
    """Whether a subject may do an action on a resource, and which grants decide it.
    Asking about someone else needs grant on the resource."""
    target, act = Resource.parse(resource), Action.parse(action)
    who = subject or known(access, principal)
    if who != principal.name:
        _check(access, principal, Action.GRANT, target)
    return DecisionPublic.of(who, act.value, target.key, access.explain(who, act, target))


@router.get("/datasets/{name}", responses=error_responses(403, 404, 422))
def dataset_access(name: str, lake: LakeDep, access: AccessDep, principal: PrincipalDep,
                   subject: str | None = None) -> TableAccessPublic:
    """What a subject may read of a dataset: columns, masks, rows (someone else: needs grant on it)."""
    target = Resource.table(name)
    who = subject or known(access, principal)
    if who != principal.name:
        _check(access, principal, Action.GRANT, target)
    info = lake.datasets.get(name)
    columns = [(c.name, c.pii) for c in info.contract.columns]
    return TableAccessPublic.of(who, access.table_access(who, target, columns))


# -- the policy as Casbin CSV --------------------------------------------------------------------


@router.get("/policy", response_class=Response, responses={200: {"content": {"text/csv": {}}}, **error_responses(403)})
def export_policy(access: AccessDep, principal: PrincipalDep) -> Response:
    """The whole policy as a Casbin CSV (loads into casbin.Enforcer with access/model.conf)."""
    _check(access, principal, Action.ADMIN, LAKE)
    return Response(access.export_csv(), media_type="text/csv")


@router.post("/policy", responses=error_responses(400, 403, 409, 413, 422),
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_policy(request: Request, access: AccessDep, principal: PrincipalDep,
                        replace: Annotated[bool, Query(description="Drop what the file does not list.")] = False
                        ) -> ImportResult:
    """Load a Casbin CSV policy (the export's format), all or nothing."""
    actor = await run_in_threadpool(lambda: access.changes.require_lake_admin(known(access, principal)))
    text = await read_text(request, MAX_POLICY_BYTES, what="the policy")
    counts = await run_in_threadpool(lambda: access.changes.import_csv(text, replace=replace, by=actor))
    return ImportResult(**counts)
