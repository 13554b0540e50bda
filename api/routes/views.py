"""Views: create versions, plan and apply sets of view files, read versions,
diff, lineage and impact, compile, materialize and refresh, transpile.

Handlers parse, authorize and call the ``views`` package; sync handlers run
in FastAPI's worker threads (analysis, Spark and the catalog block).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from access import AccessControl, Action, Resource, registration
from api.authz import LAKE, AccessDep, known
from api.deps import LakeDep, PrincipalDep
from api.guards import read_text
from api.params import Number, NumberQuery, OptionalNumberQuery
from api.schemas import error_responses
from lake.auth import Principal
from lake.errors import InvalidInput
from lake.service import Lake
from views import catalog, inspect, refreshes, registry
from views.definition import ViewDefinition
from views.files import parse_view_file
from views.materialize import materialize as materialize_view_version
from views.materialize import refresh, runs
from views.names import parse_ref
from views.schemas import (
    CompilePublic,
    DefinitionsBody,
    DeprecateBody,
    DiffPublic,
    ImpactPublic,
    PlanPublic,
    RefreshBody,
    RefreshPublic,
    RunPublic,
    ScheduleBody,
    SchedulePublic,
    TranspilePublic,
    VersionCreate,
    ViewCreate,
    ViewPublic,
)
from views.transpile import transpile

router = APIRouter(prefix="/views", tags=["views"])

#: Largest view definition or set of definitions accepted.
MAX_DEFINITION_BYTES = 4 << 20

_SQL_TYPES = {"application/sql", "text/plain", "text/x-sql"}

_VERSION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A definition as JSON, or a view file (/* YAML header */ then SQL) as application/sql.",
        "content": {
            "application/json": {"schema": VersionCreate.model_json_schema(ref_template="#/components/schemas/{model}")},
            "application/sql": {"schema": {"type": "string"}},
        },
    }
}


def _view(name: str) -> Resource:
    return Resource.view(parse_ref(name).qualified)


def _may_write(access: AccessControl, principal: Principal, names: list[str]) -> str:
    """A new view needs ``propose`` on its domain; a new version, ``write`` on the view (``access.registration``)."""
    return registration.may_write_views(access, names, by=known(access, principal))


def _existing_owner(lake: Lake, access: AccessControl, principal: Principal, name: str) -> None:
    info = catalog.get_view(lake, name, allow_retired=True)
    access.require(known(access, principal), Action.WRITE, Resource.view(info.name))


def _may_refresh(access: AccessControl, principal: Principal, name: str) -> str:
    """The view's owner with write on it, or admin on it (``access.registration.may_refresh_view``)."""
    return registration.may_refresh_view(access, name, by=known(access, principal))


def _discover(access: AccessControl, principal: Principal, name: str) -> None:
    access.require(known(access, principal), Action.DISCOVER, _view(name))


async def _body_text(request: Request) -> str:
    return await read_text(request, MAX_DEFINITION_BYTES, what="the view definition")


def _definitions(body: DefinitionsBody) -> list[ViewDefinition]:
    out = [parse_view_file(f.content, file=f.path) for f in body.files]
    out += [d.definition() for d in body.definitions]
    if not out:
        raise InvalidInput("send at least one view: 'files' (view files) or 'definitions' (JSON)")
    return out


@router.post("", status_code=201, openapi_extra=_VERSION_BODY,
             responses={200: {"description": "Unchanged: no version was created."}, **error_responses(400, 413)})
async def create_version(
    request: Request, response: Response, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
    dry_run: Annotated[bool, Query(description="Only plan: analyze, compile, diff, list impact.")] = False,
    major: Annotated[bool | None, Query(description="Declare a breaking change (also a JSON field).")] = None,
    message: Annotated[str | None, Query(max_length=2000)] = None,
) -> ViewPublic | PlanPublic:
    """Create the next version of a view (version 1 of a new one).

    A breaking change (column removed, renamed or retyped, PII or grain changed)
    answers 409 unless ``major`` is true. With ``dry_run=true`` nothing changes.
    """
    text = await _body_text(request)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in _SQL_TYPES:
        definition, is_major, msg = parse_view_file(text, file="request body"), False, ""
    else:
        try:
            body = VersionCreate.model_validate_json(text or "{}")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidInput(f"{where}: {first.get('msg')}" if where else str(first.get("msg"))) from None
        definition, is_major, msg = body.definition(), body.major, body.message
    is_major = major if major is not None else is_major
    msg = message if message is not None else msg
    if dry_run:
        await run_in_threadpool(_may_write, access, principal, [definition.name])
        plan = await run_in_threadpool(registry.plan, lake, [definition])
        response.status_code = 200
        return PlanPublic.of(plan, applied=False)
    item = await run_in_threadpool(lambda: registration.create_view_version(
        access, definition, by=known(access, principal), major=is_major, message=msg))
    if item.action is registry.PlanAction.UNCHANGED:
        response.status_code = 200
    info = await run_in_threadpool(catalog.get_view, lake, item.name, item.record.version)
    return ViewPublic.of(info)


@router.get("")
def list_views(lake: LakeDep, principal: PrincipalDep, access: AccessDep,
               domain: Annotated[str | None, Query(description="Only views of this domain.")] = None,
               ) -> list[ViewPublic]:
    """The current version of every view."""
    subject = known(access, principal)
    return [ViewPublic.of(v) for v in catalog.list_views(lake, domain=domain)
            if access.can(subject, Action.DISCOVER, Resource.view(v.name))]


@router.post("/plan")
def plan_views(body: DefinitionsBody, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> PlanPublic:
    """Plan a set of view files: versions each would get, diffs, breaking changes, impact."""
    definitions = _definitions(body)
    _may_write(access, principal, [d.name for d in definitions])
    return PlanPublic.of(registry.plan(lake, definitions), applied=False)


@router.post("/apply")
def apply_views(body: DefinitionsBody, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> PlanPublic:
    """Apply a set of view files in one transaction, or nothing."""
    plan = registration.apply_views(access, _definitions(body), by=known(access, principal), major=set(body.major),
                                    message=body.message)
    return PlanPublic.of(plan, applied=True)


@router.post("/compile")
def compile_definition(body: ViewCreate, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> CompilePublic:
    """Compile a definition with sqlglot and Spark without creating a version."""
    definition = body.definition()
    access.require(known(access, principal), Action.PROPOSE, Resource.domain_(_view(definition.name).domain))
    return CompilePublic.of(inspect.compile_definition(lake, definition))


@router.post("/refresh")
def refresh_views(body: RefreshBody, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> RefreshPublic:
    """Rebuild table views in dependency order (all of them needs the admin role)."""
    if body.views is None:
        access.require(known(access, principal), Action.ADMIN, LAKE)
    else:
        for name in body.views:
            _may_refresh(access, principal, name)
    result = refresh(lake, body.views, actor=principal.name, upstream=body.upstream,
                                 downstream=body.downstream)
    return RefreshPublic.of(result)


@router.get("/{name}")
def get_view(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
             version: Annotated[OptionalNumberQuery, Query(description="A version; the current one by default.")]
             = None) -> ViewPublic:
    """One version of a view (``domain.name`` or ``domain.name@vN``); 410 past its sunset date."""
    _discover(access, principal, name)
    return ViewPublic.of(catalog.get_view(lake, name, version))


@router.get("/{name}/versions")
def list_versions(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> list[ViewPublic]:
    """Every version of a view, oldest first."""
    _discover(access, principal, name)
    return [ViewPublic.of(v) for v in catalog.list_versions(lake, name)]


@router.get("/{name}/diff")
def diff_versions(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
                  from_version: Annotated[NumberQuery, Query(alias="from")],
                  to_version: Annotated[OptionalNumberQuery, Query(alias="to")] = None) -> DiffPublic:
    """What changed between two versions (``to`` defaults to the current one)."""
    _discover(access, principal, name)
    return DiffPublic.of(inspect.diff(lake, name, from_version, to_version))


@router.get("/{name}/lineage")
def lineage(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
            version: OptionalNumberQuery = None, upstream: bool = True,
            downstream: bool = True) -> dict[str, Any]:
    """Table and column lineage around a view: nodes, edges, column edges."""
    _discover(access, principal, name)
    return inspect.lineage(lake, name, version=version, upstream=upstream, downstream=downstream)


@router.get("/{name}/impact")
def impact(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
           breaking: Annotated[bool, Query(description="Assess a breaking (major) change.")] = True,
           ) -> list[ImpactPublic]:
    """Downstream views a new version of this view affects."""
    _discover(access, principal, name)
    return [ImpactPublic.of(i) for i in inspect.impact_of(lake, name, breaking=breaking)]


@router.post("/{name}/compile")
def compile_view(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> CompilePublic:
    """Compile the view's current definition against today's catalog (nothing is created)."""
    _discover(access, principal, name)
    return CompilePublic.of(inspect.compile_current(lake, name))


@router.post("/{name}/materialize", status_code=201)
def materialize_view(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
                     version: OptionalNumberQuery = None) -> RunPublic:
    """Materialize one version (the current one by default); the run is recorded either way."""
    _may_refresh(access, principal, name)
    return RunPublic.of(materialize_view_version(lake, name, version, actor=principal.name))


@router.post("/{name}/refresh", status_code=201, responses=error_responses(403, 404, 409))
def refresh_view(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> RunPublic:
    """Rebuild the view's current version now (its owner with write on it, or an admin)."""
    actor = _may_refresh(access, principal, name)
    return RunPublic.of(materialize_view_version(lake, name, actor=actor, trigger="manual"))


@router.get("/{name}/schedule")
def get_schedule(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep) -> SchedulePublic:
    """The view's refresh schedule (cron, UTC) and its next run."""
    _discover(access, principal, name)
    return SchedulePublic.of(refreshes.get_schedule(lake, name))


@router.put("/{name}/schedule", responses=error_responses(403, 404, 422))
def set_schedule(name: str, body: ScheduleBody, lake: LakeDep, principal: PrincipalDep,
                 access: AccessDep) -> SchedulePublic:
    """Refresh the view on a schedule (five-field cron, UTC; null for none): its owner or an admin."""
    _may_refresh(access, principal, name)
    return SchedulePublic.of(refreshes.set_schedule(lake, name, body.cron))


@router.get("/{name}/runs")
def list_runs(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
              version: OptionalNumberQuery = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[RunPublic]:
    """Materialization runs, newest first."""
    _discover(access, principal, name)
    return [RunPublic.of(r) for r in runs(lake, name, version=version, limit=limit)]


@router.get("/{name}/transpile")
def transpile_view(name: str, lake: LakeDep, principal: PrincipalDep, access: AccessDep,
                   dialect: Annotated[str, Query(description="redshift, trino, athena, duckdb or spark.")],
                   version: OptionalNumberQuery = None) -> TranspilePublic:
    """The version's SQL for another engine; 422 when the dialect cannot express it."""
    _discover(access, principal, name)
    return TranspilePublic.of(transpile(lake, name, dialect, version=version))


@router.post("/{name}/versions/{version}/deprecate")
def deprecate_version(name: str, version: Number, body: DeprecateBody, lake: LakeDep,
                      principal: PrincipalDep, access: AccessDep) -> ViewPublic:
    """Deprecate a version; from ``sunset_on`` on, reading it answers 410."""
    _existing_owner(lake, access, principal, name)
    registry.deprecate(lake, name, version, actor=principal.name, sunset_on=body.sunset_on, note=body.note)
    return ViewPublic.of(catalog.get_view(lake, name, version, allow_retired=True))
