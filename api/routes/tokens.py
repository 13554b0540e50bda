"""API tokens: create one (shown once), revoke one."""

from __future__ import annotations

from fastapi import APIRouter, Response

from access import Action
from access.audit import AuditKind, Decision
from api.authz import LAKE, AccessDep, known
from api.deps import LakeDep, PrincipalDep
from api.params import Id
from api.schemas import TokenCreate, TokenCreated, error_responses
from lake.errors import NotFound

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, responses=error_responses(403, 404))
def create_token(body: TokenCreate, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> TokenCreated:
    """Create a bearer token for yourself (admins: for any user). The plaintext is
    in this answer only; Lakegate keeps just its digest."""
    user = body.user or principal.name
    if user != principal.name:
        access.require(known(access, principal), Action.ADMIN, LAKE)
    token, info = lake.users.create_token(user, name=body.name, ttl_days=body.ttl_days)
    return TokenCreated.with_secret(token, info)


@router.delete("/{token_id}", status_code=204, response_class=Response,
               responses=error_responses(403, 404))
def revoke_token(token_id: Id, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> None:
    """Revoke a token: your own, or anyone's if you are an admin.

    A token that does not exist and someone else's token get the same 404, so
    token ids cannot be enumerated.
    """
    subject = known(access, principal)
    try:
        owner: str | None = lake.users.get_token(token_id).user
    except NotFound:
        owner = None
    if owner is None or (owner != principal.name and not access.can(subject, Action.ADMIN, LAKE)):
        access.audit.record(AuditKind.DECISION, actor=subject, action="revoke", resource=f"token:{token_id}",
                            decision=Decision.DENY,
                            detail={"reason": "no such token" if owner is None else "someone else's token"})
        raise NotFound(f"token {token_id} does not exist or is not yours")
    lake.users.revoke_token(token_id)
