"""API tokens: create one (shown once), revoke one."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import LakeDep, PrincipalDep
from api.schemas import ErrorResponse, TokenCreate, TokenCreated
from access import Action
from api.authz import LAKE, AccessDep, known
from lake.errors import AccessDenied
from api.params import Id

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, responses={403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}})
def create_token(body: TokenCreate, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> TokenCreated:
    """Create a bearer token for yourself (admins: for any user). The plaintext is
    in this answer only; Lakegate keeps just its digest."""
    user = body.user or principal.name
    if user != principal.name:
        access.require(known(access, principal), Action.ADMIN, LAKE)
    token, info = lake.users.create_token(user, name=body.name, ttl_days=body.ttl_days)
    return TokenCreated.with_secret(token, info)


@router.delete("/{token_id}", status_code=204, response_class=Response,
               responses={403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}})
def revoke_token(token_id: Id, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> None:
    """Revoke a token: your own, or anyone's if you are an admin."""
    owner = lake.users.get_token(token_id).user
    if owner != principal.name and not access.can(known(access, principal), Action.ADMIN, LAKE):
        raise AccessDenied(principal.name, "revoke", f"token {token_id}", "only its owner or an admin may revoke it")
    lake.users.revoke_token(token_id)
