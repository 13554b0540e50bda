"""Engine subscribers: ``/api/v1/subscribers``.

Who may do what:

* create, delete, resume, bind and unbind roles, rewrite a role policy, and
  record a Redshift sync as applied: ``admin`` on the lake;
* read a subscriber, its role policy, its credentials and exports; vend
  credentials; export; suspend; Redshift dry runs: the subscriber itself
  (its principal ``sub.<name>``), its owner, or an admin;
* every route needs ``discover`` on the lake.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from access.resources import Action
from access.subscribers import SubscriberKind, Subscribers, SubscriberStatus, Target
from access.subscribers.schemas import (
    CredentialPublic,
    ExportCreate,
    ExportPublic,
    PolicyPublic,
    RedshiftPlanPublic,
    RedshiftSyncRequest,
    RoleBind,
    SubscriberCreate,
    SubscriberDeleted,
    SubscriberPublic,
    VendedPublic,
    VendRequest,
)
from access.subscribers.values import Subscriber
from api.authz import BASELINE, LAKE, AccessDep, known
from api.deps import PrincipalDep, ServicesDep
from api.schemas import error_responses

router = APIRouter(prefix="/subscribers", tags=["subscribers"], dependencies=[BASELINE])


def get_subscribers(services: ServicesDep) -> Subscribers:
    """The app's ``Subscribers`` on its ``AccessControl``."""
    return services.subscribers


SubscribersDep = Annotated[Subscribers, Depends(get_subscribers)]


def _admin(access: AccessDep, principal: PrincipalDep) -> str:
    subject = known(access, principal)
    access.require(subject, Action.ADMIN, LAKE)
    return subject


def _acting_for(subs: Subscribers, principal: PrincipalDep, name: str, what: str) -> tuple[str, Subscriber]:
    """The caller, if it is the subscriber, its owner or an admin; else 403 naming who may."""
    subject = known(subs.access, principal)
    return subject, subs.registry.require_acting_for(subject, name, what)


@router.post("", status_code=201, responses=error_responses(403, 404, 409, 422))
def create_subscriber(body: SubscriberCreate, subs: SubscribersDep, access: AccessDep,
                      principal: PrincipalDep) -> SubscriberPublic:
    """Register an engine subscriber bound to roles (admin)."""
    actor = _admin(access, principal)
    return SubscriberPublic.of(subs.create(body.name, SubscriberKind.parse(body.kind), owner=body.owner,
                                           roles=body.roles, description=body.description, actor=actor))


@router.get("")
def list_subscribers(subs: SubscribersDep, principal: PrincipalDep,
                     kind: Annotated[str | None, Query(description="redshift, emr or sagemaker")] = None,
                     status: Annotated[str | None, Query(description="active or suspended")] = None,
                     ) -> list[SubscriberPublic]:
    """The subscribers the caller may act for (all of them for an admin)."""
    subject = known(subs.access, principal)
    found = subs.list(kind=SubscriberKind.parse(kind) if kind else None,
                      status=SubscriberStatus.parse(status) if status else None)
    return [SubscriberPublic.of(s) for s in found if subs.registry.may_act_for(subject, s)]


@router.get("/{name}", responses=error_responses(403, 404))
def get_subscriber(name: str, subs: SubscribersDep, principal: PrincipalDep) -> SubscriberPublic:
    return SubscriberPublic.of(_acting_for(subs, principal, name, "read")[1])


@router.delete("/{name}", responses=error_responses(403, 404))
def delete_subscriber(name: str, subs: SubscribersDep, access: AccessDep, principal: PrincipalDep,
                      target: Annotated[str, Query(description="dialect of the Redshift teardown")] = "redshift",
                      ) -> SubscriberDeleted:
    """Delete a subscriber: its IAM role, memberships, direct grants and tokens (admin)."""
    actor = _admin(access, principal)
    sub, teardown = subs.delete(name, actor=actor, target=Target.parse(target))
    return SubscriberDeleted(subscriber=SubscriberPublic.of(sub),
                             redshift_teardown=list(teardown.statements) if teardown else [])


@router.post("/{name}/suspend", responses=error_responses(403, 404))
def suspend_subscriber(name: str, subs: SubscribersDep, principal: PrincipalDep) -> SubscriberPublic:
    """Suspend: its role policy is removed at once and its tokens stop working (owner or admin)."""
    return SubscriberPublic.of(subs.suspend_as(name, by=known(subs.access, principal)))


@router.post("/{name}/resume", responses=error_responses(403, 404))
def resume_subscriber(name: str, subs: SubscribersDep, access: AccessDep, principal: PrincipalDep
                      ) -> SubscriberPublic:
    """Resume a suspended subscriber (admin)."""
    return SubscriberPublic.of(subs.resume_as(name, by=known(access, principal)))


@router.put("/{name}/roles/{role}", responses=error_responses(403, 404, 409))
def bind_role(name: str, role: str, subs: SubscribersDep, access: AccessDep, principal: PrincipalDep,
              body: RoleBind | None = None) -> SubscriberPublic:
    """Bind the subscriber to a role or group (admin)."""
    actor = _admin(access, principal)
    return SubscriberPublic.of(subs.bind(name, role, expires_at=body.expires_at if body else None, actor=actor))


@router.delete("/{name}/roles/{role}", responses=error_responses(403, 404))
def unbind_role(name: str, role: str, subs: SubscribersDep, access: AccessDep,
                principal: PrincipalDep) -> SubscriberPublic:
    actor = _admin(access, principal)
    return SubscriberPublic.of(subs.unbind(name, role, actor=actor))


@router.get("/{name}/policy", responses=error_responses(403, 404))
def get_policy(name: str, subs: SubscribersDep, principal: PrincipalDep) -> PolicyPublic:
    """What its role policy must allow now: the raw tables, and the governed ones with the reasons."""
    _acting_for(subs, principal, name, "read the policy of")
    return PolicyPublic.of(subs.plan_policy(name))


@router.post("/{name}/policy/sync", responses=error_responses(403, 404))
def sync_policy(name: str, subs: SubscribersDep, access: AccessDep, principal: PrincipalDep) -> SubscriberPublic:
    """Write its IAM role policy again from the access layer's decisions (admin)."""
    _admin(access, principal)
    subs.sync_policy(name, force=True)
    return SubscriberPublic.of(subs.get(name))


@router.post("/{name}/credentials", status_code=201, responses=error_responses(403, 404, 409, 422))
def vend_credentials(name: str, body: VendRequest, subs: SubscribersDep, principal: PrincipalDep) -> VendedPublic:
    """Short-lived credentials to read the tables raw (emr, sagemaker). A table with a row filter,
    a mask or a hidden column for the subscriber is refused (403 ``raw_access_refused``)."""
    actor, _ = _acting_for(subs, principal, name, "get credentials for")
    return VendedPublic.of(subs.vend(name, body.tables, duration_seconds=body.duration_seconds, actor=actor))


@router.get("/{name}/credentials", responses=error_responses(403, 404))
def list_credentials(name: str, subs: SubscribersDep, principal: PrincipalDep,
                     include_inactive: Annotated[bool, Query(description="Also expired and revoked ones")] = False,
                     ) -> list[CredentialPublic]:
    """Credentials issued to it: by default only those not expired nor revoked (never a secret)."""
    _acting_for(subs, principal, name, "list the credentials of")
    return [CredentialPublic.of(c) for c in subs.credentials(name, include_inactive=include_inactive)]


@router.post("/{name}/redshift/sync", responses=error_responses(403, 404, 422))
def redshift_sync(name: str, body: RedshiftSyncRequest, subs: SubscribersDep, access: AccessDep,
                  principal: PrincipalDep) -> RedshiftPlanPublic:
    """The statements that bring its cluster in line; recorded as applied unless ``dry_run`` (admin)."""
    if body.dry_run:
        _acting_for(subs, principal, name, "plan the Redshift objects of")
    else:
        _admin(access, principal)
    return RedshiftPlanPublic.of(subs.redshift_sync(name, target=Target.parse(body.target), full=body.full,
                                                    commit=not body.dry_run))


@router.post("/{name}/exports", status_code=201, responses=error_responses(403, 404, 409, 413, 422))
def create_export(name: str, body: ExportCreate, subs: SubscribersDep, principal: PrincipalDep) -> ExportPublic:
    """A governed Parquet snapshot of a table as the subscriber (or one of its roles) sees it."""
    actor, _ = _acting_for(subs, principal, name, "export for")
    return ExportPublic.of(subs.export(name, body.table, role=body.role, url_seconds=body.url_seconds, actor=actor))


@router.get("/{name}/exports", responses=error_responses(403, 404))
def list_exports(name: str, subs: SubscribersDep, principal: PrincipalDep) -> list[ExportPublic]:
    _acting_for(subs, principal, name, "list the exports of")
    return [ExportPublic.of(e) for e in subs.exports.list(name)]

