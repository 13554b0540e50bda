"""Metrics: definitions and revisions, the lifecycle, approval decisions, comments,
duplicates, values, and the approval chains of domains.

Handlers parse, call :class:`metrics_catalog.MetricCatalog` (which applies the
workflow rules and asks the access layer) and map results to the schemas of
:mod:`metrics_catalog.schemas`. Notifications are sent after the answer.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from access import Action, Resource
from api.authz import BASELINE, metric_from_path, require
from api.deps import PrincipalDep, ServicesDep
from api.guards import read_text
from api.params import Number, OptionalNumberQuery
from api.schemas import error_responses
from lake.errors import AccessDenied, InvalidInput
from lake.nesting import load_json
from metrics_catalog import MetricCatalog, parse_definition
from metrics_catalog.lifecycle import MetricAction
from metrics_catalog.schemas import (
    ApprovalPublic,
    ChainPublic,
    CommentCreate,
    CommentPublic,
    DecisionRequest,
    DuplicatePublic,
    EventPublic,
    MetricPublic,
    MetricUpdate,
    RevisionPublic,
    TransitionRequest,
    ValuesPublic,
)

router = APIRouter(tags=["metrics"], dependencies=[BASELINE])


def domain_from_path(domain: str) -> Resource:
    """The domain named by the ``{domain}`` path parameter."""
    return Resource.domain_(domain)


#: Route-level checks before anything else runs; the catalog applies the workflow's own rules after.
SEE_METRIC = require(Action.DISCOVER, metric_from_path, audit=False)
READ_METRIC = require(Action.READ, metric_from_path)

MAX_DOCUMENT_BYTES = 1 << 20
_YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
_DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The document, as JSON or as YAML text.",
        "content": {"application/json": {"schema": {"type": "object"}},
                    "application/yaml": {"schema": {"type": "string"}}},
    }
}


def get_metrics(services: ServicesDep) -> MetricCatalog:
    """The app's metric catalog, deciding with the app's access layer."""
    return services.metrics


MetricsDep = Annotated[MetricCatalog, Depends(get_metrics)]


def deliver_later(background: BackgroundTasks, metrics: MetricCatalog) -> None:
    background.add_task(metrics.outbox.deliver)


async def read_document(request: Request) -> dict[str, Any] | str:
    """A JSON object, or YAML text when the Content-Type says YAML."""
    text = await read_text(request, MAX_DOCUMENT_BYTES, what="the metric document")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in _YAML_TYPES:
        return text
    try:
        doc = load_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg} (send YAML with Content-Type: application/yaml)") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the document must be a JSON object")
    return doc


# -- definitions -------------------------------------------------------------------------


@router.get("/metrics", responses=error_responses(422))
def list_metrics(metrics: MetricsDep, principal: PrincipalDep,
                 domain: Annotated[str | None, Query(description="Only this domain")] = None,
                 status: Annotated[str | None, Query(description="Only metrics in this state")] = None,
                 ) -> list[MetricPublic]:
    """Metrics you may read, with their state, chain progress and possible duplicates."""
    perms = metrics.workflow.permissions
    return [MetricPublic.of(m) for m in metrics.workflow.list(domain=domain, status=status)
            if perms.may_discover(principal, m.name)]


@router.post("/metrics", status_code=201, openapi_extra=_DOCUMENT_BODY,
             responses=error_responses(400, 403, 404, 409, 413, 422))
async def create_metric(request: Request, metrics: MetricsDep, principal: PrincipalDep) -> MetricPublic:
    """Save a new metric as a draft; the definition is validated against its view."""
    from starlette.concurrency import run_in_threadpool

    doc = await read_document(request)
    info = await run_in_threadpool(lambda: metrics.workflow.create(doc, actor=principal.name))
    return MetricPublic.of(info)


@router.post("/metrics/validate", openapi_extra=_DOCUMENT_BODY, responses=error_responses(400, 413, 422))
async def validate_metric(request: Request, metrics: MetricsDep, principal: PrincipalDep) -> dict[str, Any]:
    """Check a definition against its view without saving it (422 names the problem)."""
    from starlette.concurrency import run_in_threadpool

    doc = await read_document(request)

    def check() -> dict[str, Any]:
        pinned = metrics.workflow.check(parse_definition(doc))
        return {"valid": True, "definition": pinned.to_dict()}

    return await run_in_threadpool(check)


@router.get("/metrics/{name}", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def get_metric(name: str, metrics: MetricsDep, principal: PrincipalDep) -> MetricPublic:
    return MetricPublic.of(metrics.workflow.get(name))


@router.patch("/metrics/{name}", responses=error_responses(403, 404, 409, 422), dependencies=[SEE_METRIC])
def revise_metric(name: str, body: MetricUpdate, metrics: MetricsDep, principal: PrincipalDep,
                  background: BackgroundTasks) -> MetricPublic:
    """Make a new revision. In review, stages that review a changed field start over."""
    info = metrics.workflow.revise(name, body.changes, actor=principal.name, message=body.message)
    deliver_later(background, metrics)
    return MetricPublic.of(info)


@router.get("/metrics/{name}/revisions", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def list_revisions(name: str, metrics: MetricsDep, principal: PrincipalDep) -> list[RevisionPublic]:
    return [RevisionPublic.of(r) for r in metrics.workflow.revisions(name)]


@router.get("/metrics/{name}/revisions/{number}", responses=error_responses(403, 404),
            dependencies=[SEE_METRIC])
def get_revision(name: str, number: Number, metrics: MetricsDep, principal: PrincipalDep) -> RevisionPublic:
    return RevisionPublic.of(metrics.workflow.revision(name, number))


@router.get("/metrics/{name}/history", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def metric_history(name: str, metrics: MetricsDep, principal: PrincipalDep) -> list[EventPublic]:
    return [EventPublic.of(e) for e in metrics.workflow.history(name)]


@router.get("/metrics/{name}/duplicates", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def metric_duplicates(name: str, metrics: MetricsDep, principal: PrincipalDep) -> list[DuplicatePublic]:
    """Live metrics over the same view whose normalized expression is the same."""
    return MetricPublic.of(metrics.workflow.get(name)).duplicates


# -- lifecycle and decisions --------------------------------------------------------------

_TRANSITIONS = {MetricAction.PROPOSE, MetricAction.START_REVIEW, MetricAction.WITHDRAW, MetricAction.DEPRECATE,
                MetricAction.REINSTATE, MetricAction.RETIRE}


@router.post("/metrics/{name}/transitions", responses=error_responses(403, 404, 409, 422),
             dependencies=[SEE_METRIC])
def transition_metric(name: str, body: TransitionRequest, metrics: MetricsDep, principal: PrincipalDep,
                      background: BackgroundTasks) -> MetricPublic:
    """Move a metric: propose, start_review, withdraw, deprecate, reinstate or retire.

    An action the state does not allow answers 409 ``illegal_transition`` naming the allowed ones.
    """
    action = MetricAction.parse(body.action)
    if action not in _TRANSITIONS:
        allowed = ", ".join(sorted(a.value for a in _TRANSITIONS))
        raise InvalidInput(f"{action.value} is not a transition here (decisions go to /decisions, edits to PATCH); "
                           f"expected one of: {allowed}")
    w, actor = metrics.workflow, principal.name
    calls = {
        MetricAction.PROPOSE: lambda: w.propose(name, actor=actor, message=body.reason),
        MetricAction.START_REVIEW: lambda: w.start_review(name, actor=actor),
        MetricAction.WITHDRAW: lambda: w.withdraw(name, actor=actor, reason=body.reason),
        MetricAction.DEPRECATE: lambda: w.deprecate(name, actor=actor, reason=body.reason),
        MetricAction.REINSTATE: lambda: w.reinstate(name, actor=actor, reason=body.reason),
        MetricAction.RETIRE: lambda: w.retire(name, actor=actor, reason=body.reason),
    }
    info = calls[action]()
    deliver_later(background, metrics)
    return MetricPublic.of(info)


@router.post("/metrics/{name}/decisions", responses=error_responses(403, 404, 409, 422),
             dependencies=[SEE_METRIC])
def decide_metric(name: str, body: DecisionRequest, metrics: MetricsDep, principal: PrincipalDep,
                  background: BackgroundTasks) -> MetricPublic:
    """Approve, request changes or reject at the current stage (you must hold a stage role,
    not be an author, and not have approved another stage of this revision)."""
    info = metrics.workflow.decide(name, body.decision, actor=principal.name, reason=body.reason,
                                   revision=body.revision)
    deliver_later(background, metrics)
    return MetricPublic.of(info)


@router.get("/metrics/{name}/approvals", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def list_approvals(name: str, metrics: MetricsDep, principal: PrincipalDep) -> list[ApprovalPublic]:
    return [ApprovalPublic.of(a) for a in metrics.workflow.approvals(name)]


# -- comments ------------------------------------------------------------------------------


@router.get("/metrics/{name}/comments", responses=error_responses(403, 404), dependencies=[SEE_METRIC])
def list_comments(name: str, metrics: MetricsDep, principal: PrincipalDep) -> list[CommentPublic]:
    return [CommentPublic.of(c) for c in metrics.comments.list(name)]


@router.post("/metrics/{name}/comments", status_code=201, responses=error_responses(403, 404, 422),
             dependencies=[SEE_METRIC])
def add_comment(name: str, body: CommentCreate, metrics: MetricsDep, principal: PrincipalDep,
                background: BackgroundTasks) -> CommentPublic:
    comment = metrics.comments.add(name, body.body, actor=principal.name, parent_id=body.parent_id)
    deliver_later(background, metrics)
    return CommentPublic.of(comment)


# -- values --------------------------------------------------------------------------------


def _dimensions(dimensions: str | None) -> list[str]:
    return [d.strip() for d in (dimensions or "").split(",") if d.strip()]


@router.get("/metrics/{name}/values", response_model_by_alias=True, responses=error_responses(403, 404, 409, 422),
            dependencies=[READ_METRIC])
def metric_values(
    name: str, metrics: MetricsDep, principal: PrincipalDep,
    grain: Annotated[str | None, Query(description="day, week or month")] = None,
    dimensions: Annotated[str | None, Query(description="Comma-separated dimensions to group by")] = None,
    start: Annotated[str | None, Query(alias="from", description="First day, e.g. 2026-10-01")] = None,
    end: Annotated[str | None, Query(alias="to", description="Last day (included)")] = None,
    uncertified: Annotated[bool, Query(description="The latest revision (authors and approvers)")] = False,
) -> ValuesPublic:
    """Values of a certified metric, computed as you (your row filters apply) and cached."""
    values = metrics.values.get(name, actor=principal.name, grain=grain, dimensions=_dimensions(dimensions),
                                start=start, end=end, uncertified=uncertified)
    return ValuesPublic.of(values)


@router.get("/metrics/{name}/sql", response_class=PlainTextResponse, responses=error_responses(403, 404, 422),
            dependencies=[SEE_METRIC])
def metric_sql(
    name: str, metrics: MetricsDep, principal: PrincipalDep,
    grain: Annotated[str | None, Query()] = None,
    dimensions: Annotated[str | None, Query()] = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    revision: OptionalNumberQuery = None,
) -> str:
    """The Spark SQL a value request compiles to."""
    return metrics.values.sql(name, grain=grain, dimensions=_dimensions(dimensions), start=start, end=end,
                              revision=revision)


# -- approval chains -----------------------------------------------------------------------


@router.get("/metric-chains", tags=["metrics"])
def list_chains(metrics: MetricsDep, principal: PrincipalDep) -> list[ChainPublic]:
    return [ChainPublic.of(c) for c in metrics.chains.list()]


@router.get("/metric-chains/{domain}", responses=error_responses(404))
def get_chain(domain: str, metrics: MetricsDep, principal: PrincipalDep) -> ChainPublic:
    return ChainPublic.of(metrics.chains.get(domain))


@router.put("/metric-chains/{domain}", openapi_extra=_DOCUMENT_BODY, responses=error_responses(400, 403, 413, 422),
            dependencies=[require(Action.ADMIN, domain_from_path)])
async def set_chain(domain: str, request: Request, metrics: MetricsDep, principal: PrincipalDep) -> ChainPublic:
    """Create or replace a domain's approval chain (JSON or YAML: stages with roles, quorum, reviews)."""
    if not metrics.workflow.permissions.may_administer(principal, domain):
        raise AccessDenied(principal.name, "set the approval chain of", f"domain:{domain}", "needs a domain admin")
    doc = await read_document(request)
    return ChainPublic.of(metrics.chains.set(domain, doc, actor=principal.name))
