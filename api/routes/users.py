"""Users and service principals: the caller itself, and (admins) everyone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import LakeDep, PrincipalDep
from api.schemas import ErrorResponse, UserCreate, UserPublic
from lake.auth import Action, authorize

router = APIRouter(tags=["users"])

_ERRORS: dict[int | str, dict[str, Any]] = {403: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}


@router.get("/me")
def me(principal: PrincipalDep) -> UserPublic:
    """Who the token belongs to, with its roles."""
    return UserPublic.of(principal)


@router.post("/users", status_code=201, responses=_ERRORS)
def create_user(body: UserCreate, lake: LakeDep, principal: PrincipalDep) -> UserPublic:
    """Create a user or service principal (admins only)."""
    authorize(principal, Action.ADMIN, resource="users")
    created = lake.users.create(
        body.name, roles=body.roles, kind=body.kind, display_name=body.display_name,
        password=body.password.get_secret_value() if body.password else None,
    )
    return UserPublic.of(created)


@router.get("/users", responses=_ERRORS)
def list_users(lake: LakeDep, principal: PrincipalDep) -> list[UserPublic]:
    """Every user and service principal (admins only)."""
    authorize(principal, Action.ADMIN, resource="users")
    return [UserPublic.of(p) for p in lake.users.list()]
