"""Users and service principals: the caller itself, and (admins) everyone."""

from __future__ import annotations

from fastapi import APIRouter

from access import Action
from api.authz import LAKE, AccessDep, require
from api.deps import LakeDep, PrincipalDep
from api.schemas import UserCreate, UserPublic, error_responses

router = APIRouter(tags=["users"])

_ERRORS = error_responses(403, 409)


@router.get("/me")
def me(principal: PrincipalDep) -> UserPublic:
    """Who the token belongs to, with its roles."""
    return UserPublic.of(principal)


@router.post("/users", status_code=201, responses=_ERRORS, dependencies=[require(Action.ADMIN, LAKE)])
def create_user(body: UserCreate, lake: LakeDep, access: AccessDep) -> UserPublic:
    """Create a user or service principal (admins only); its roles become policy memberships."""
    created = lake.users.create(
        body.name, roles=body.roles, kind=body.kind, display_name=body.display_name,
        password=body.password.get_secret_value() if body.password else None,
    )
    access.ensure_subject(created.name, created.roles)
    return UserPublic.of(created)


@router.get("/users", responses=_ERRORS, dependencies=[require(Action.ADMIN, LAKE)])
def list_users(lake: LakeDep) -> list[UserPublic]:
    """Every user and service principal (admins only)."""
    return [UserPublic.of(p) for p in lake.users.list()]
