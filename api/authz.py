"""Authorization for the routes: the app's one :class:`~access.AccessControl`
(built by :func:`api.services.build_services`) and the ``require`` dependency.

Use it on a route or a router::

    @router.post("/{name}/batches", dependencies=[require(Action.WRITE, dataset_from_path)])
    @router.get("/users", dependencies=[require(Action.ADMIN, LAKE)])

``require`` authenticates the caller, makes it known to the policy (member of
``everyone`` and of the roles on its user record, the first time), asks the
access layer, and audits the decision; a refusal is ``403 access_denied``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from access import AccessControl, Action, AuditKind, Resource
from api.deps import PrincipalDep, ServicesDep, services_of
from api.services import Services
from lake.auth import Principal
from lake.errors import ConfigError
from lake.service import Lake

LAKE = Resource.lake()
log = logging.getLogger("lakegate.api")


def access_for(app: Any, lake: Lake) -> AccessControl:
    """The app's one AccessControl, which its lifespan built over ``lake``."""
    access = services_of(app).access
    if access.lake is not lake:
        raise ConfigError("that lake is not the one this app serves")
    return access


def get_access(services: ServicesDep) -> AccessControl:
    """The app's one AccessControl (a dependency)."""
    return services.access


AccessDep = Annotated[AccessControl, Depends(get_access)]


def known(access: AccessControl, principal: Principal) -> str:
    """Make the principal known to the policy; return its subject name."""
    access.ensure_subject(principal.name, principal.roles)
    return principal.name


def dataset_from_path(name: str) -> Resource:
    """The dataset named by the ``{name}`` path parameter (``domain.dataset``)."""
    return Resource.table(name)


def view_from_path(name: str) -> Resource:
    return Resource.view(name)


def metric_from_path(name: str) -> Resource:
    return Resource.metric(name)


def require(action: Action, resource: Resource | Callable[..., Resource], *, audit: bool = True) -> Any:
    """A dependency that answers 403 unless the caller may do ``action`` on ``resource``.

    Args:
        action: The action.
        resource: A resource, or a dependency that makes one from the request
            (e.g. :func:`dataset_from_path`).
        audit: Record allowed decisions too (denials are always recorded).
    """
    if isinstance(resource, Resource):
        fixed = resource

        def resource_dep() -> Resource:
            return fixed
    else:
        resource_dep = resource

    async def dependency(principal: Principal, access: AccessControl, target: Resource) -> Principal:
        def decide() -> None:
            subject = known(access, principal)
            if audit or not access.can(subject, action, target):
                access.require(subject, action, target)

        await run_in_threadpool(decide)
        return principal

    # Real annotation objects (this module's annotations are strings, and the
    # resource dependency is a local): FastAPI reads the signature.
    dependency.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=PrincipalDep),
        inspect.Parameter("access", inspect.Parameter.KEYWORD_ONLY, annotation=AccessDep),
        inspect.Parameter("target", inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[Resource, Depends(resource_dep)]),
    ], return_annotation=Principal)
    return Depends(dependency)


#: Every authenticated route should at least need this: a principal denied
#: ``discover`` on the lake is locked out of the API.
BASELINE = require(Action.DISCOVER, LAKE, audit=False)


def _record(request: Request, kind: AuditKind, principal: Principal | None, detail: dict[str, Any]) -> None:
    """Record ``kind`` for the request's method and path, naming the caller if known; never raises."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return
    try:
        services.access.audit.record(
            kind, actor=principal.name if principal else "", action=request.method,
            resource=request.url.path, detail=detail)
    except Exception:  # the request's outcome is logged either way
        log.exception("could not audit the %s of %s %s", kind.value, request.method, request.url.path)


def audit_failure(request: Request, exc: BaseException) -> None:
    """Record a request that failed with an internal error (an audit ``failure`` entry).

    The entry names the caller (when authentication got that far), the method,
    the path and the exception's type, never its message (it may hold a path
    of the lake or a value). Writing it never raises.
    """
    _record(request, AuditKind.FAILURE, getattr(request.state, "principal", None), {"error": type(exc).__name__})


def audit_refusal(request: Request, principal: Principal | None, reason: str, detail: dict[str, Any]) -> None:
    """Record a request refused by a bound (an audit ``refusal`` entry); never raises."""
    _record(request, AuditKind.REFUSAL, principal, {"reason": reason, **detail})


def audit_shed(request: Request, refused: int, seconds: float) -> None:
    """Record queries refused at the door of a full server, before authentication (one ``refusal`` entry for
    ``refused`` of them over ``seconds``; see :class:`api.guards.ShedWhenFull`); never raises."""
    audit_refusal(request, None, "server_busy", {"refused": refused, "seconds": seconds})


async def audit_token_use(request: Request, principal: PrincipalDep, access: AccessDep) -> None:
    """Record that a bearer token authenticated a caller (an audit ``token_use`` entry).

    Mount it beside ``current_principal`` on the authenticated router. The token
    itself is never recorded, only who used one, the method and the path.
    """
    await run_in_threadpool(lambda: access.audit.record(
        AuditKind.TOKEN_USE, actor=principal.name, action=request.method, resource=request.url.path))
