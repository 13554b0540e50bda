"""Dependencies shared by the routers: the app's services, the open :class:`Lake` and the caller.

Every service comes from the one :class:`~api.services.Services` the app's
lifespan built (:func:`api.services.build_services`); the getters here and in
:mod:`api.authz` only hand them out.

Every router except the public health check is declared with
``dependencies=[Depends(current_principal)]`` so no route can forget to
authenticate; handlers that need the principal ask for it again (FastAPI
resolves it once per request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.services import Services
from lake.auth import Principal
from lake.errors import AuthenticationError, ConfigError
from lake.notify import Notifier
from lake.service import Lake
from lake.settings import Settings

# auto_error=False: a missing header goes through our error envelope (401 with
# WWW-Authenticate) instead of FastAPI's default answer.
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer lg_...`")


def services_of(app: object) -> Services:
    """The services the app's lifespan built."""
    services: Services | None = getattr(getattr(app, "state", None), "services", None)
    if services is None:
        raise ConfigError("the lake is not open (the app's lifespan did not run)")
    return services


def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_lake(services: ServicesDep) -> Lake:
    """The Lake the app opened in its lifespan."""
    return services.lake


LakeDep = Annotated[Lake, Depends(get_lake)]


def get_app_settings(services: ServicesDep) -> Settings:
    """The settings tree the app's services were built from."""
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_notifier(services: ServicesDep) -> Notifier:
    """The app's one notifier (inboxes, preferences, channels, outbox)."""
    return services.notifier


NotifierDep = Annotated[Notifier, Depends(get_notifier)]


def deliver_after(background: BackgroundTasks, notifier: Notifier) -> None:
    """Send the outbox once the answer is out (the scheduler retries what fails)."""
    background.add_task(notifier.deliver)


async def current_principal(
    request: Request,
    lake: LakeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller named by the bearer token.

    Raises:
        AuthenticationError: no ``Authorization: Bearer`` header, or an unknown,
            revoked or expired token (answered 401 with ``WWW-Authenticate: Bearer``).
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("missing bearer token: send 'Authorization: Bearer <token>'")
    principal = await run_in_threadpool(lake.users.authenticate, credentials.credentials)
    # For the audit entry of a request that fails later (api.authz.audit_failure).
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
